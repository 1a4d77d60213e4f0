//! The lines of a sale, refund or receipt: at least one, at most `MAX`.

use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use super::Invalid;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<T>", bound(deserialize = "T: serde::Deserialize<'de>"))]
pub struct Lines<T, const MAX: usize = 500>(Vec<T>);

impl<T, const MAX: usize> Lines<T, MAX> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never: a `Lines` holds at least one line (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a, T, const MAX: usize> IntoIterator for &'a Lines<T, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for Lines<T, MAX> {
    type Error = Invalid;

    fn try_from(lines: Vec<T>) -> Result<Self, Invalid> {
        if lines.is_empty() {
            return Err(Invalid::new("needs at least one line"));
        }
        if lines.len() > MAX {
            return Err(Invalid(format!("at most {MAX} lines")));
        }
        Ok(Self(lines))
    }
}

impl<T: utoipa::ToSchema, const MAX: usize> Lines<T, MAX> {
    /// The OpenAPI schema, limits included, for a field of this type:
    /// `#[schema(schema_with = Lines::<NewOrderLine>::openapi_schema)]` (the line's own schema is
    /// listed with the route module's schemas).
    pub fn openapi_schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(T::name()))
            .min_items(Some(1))
            .max_items(Some(MAX))
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn the_schema_states_the_same_limits() {
        let schema =
            serde_json::to_value(Lines::<crate::money::Money, 20>::openapi_schema()).unwrap();
        assert_eq!(
            (schema["minItems"].as_u64(), schema["maxItems"].as_u64()),
            (Some(1), Some(20))
        );
        assert_eq!(schema["items"]["$ref"], "#/components/schemas/Money");
    }

    #[test]
    fn at_least_one_line_and_at_most_max() {
        assert!(serde_json::from_str::<Lines<i32, 2>>("[]").is_err());
        assert!(serde_json::from_str::<Lines<i32, 2>>("[1, 2, 3]").is_err());
        assert_eq!(
            serde_json::from_str::<Lines<i32, 2>>("[1, 2]")
                .unwrap()
                .len(),
            2
        );
    }
}
