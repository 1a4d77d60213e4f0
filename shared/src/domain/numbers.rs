//! Whole numbers: ids, quantities, line numbers and ports.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::Invalid;

/// A whole number as JSON may write it: `5`, or `5.0` (JSON Schema's `integer` admits both); in a query
/// string, its digits. A fraction, a string in JSON or a number beyond `i64` is refused.
#[derive(Debug, Clone, Copy)]
pub struct WholeNumber(pub i64);

impl<'de> serde::Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Whole;

        impl serde::de::Visitor<'_> for Whole {
            type Value = WholeNumber;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number")
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<WholeNumber, E> {
                i64::try_from(value)
                    .map(WholeNumber)
                    .map_err(|_| E::custom("is too large"))
            }

            #[allow(clippy::cast_possible_truncation)] // whole and within i64's range, checked first
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<WholeNumber, E> {
                const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
                if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
                    Ok(WholeNumber(value as i64))
                } else {
                    Err(E::custom("must be a whole number"))
                }
            }
        }

        deserializer.deserialize_i64(Whole)
    }
}

/// A whole number within `min..=max`, as JSON gives it (see [`WholeNumber`]).
macro_rules! bounded_integer {
    (@format) => { KnownFormat::Int32 };
    (@format $format:ident) => { KnownFormat::$format };
    ($(#[$doc:meta])* $name:ident($inner:ty), $min:expr, $max:expr, $message:expr $(, format = $format:ident)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "WholeNumber", into = "i64")]
        pub struct $name($inner);

        impl $name {
            pub const MIN: $inner = $min;
            pub const MAX: $inner = $max;

            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = Invalid;

            fn try_from(raw: i64) -> Result<Self, Invalid> {
                <$inner>::try_from(raw)
                    .ok()
                    .filter(|value| (Self::MIN..=Self::MAX).contains(value))
                    .map(Self)
                    .ok_or_else(|| Invalid::new($message))
            }
        }

        impl TryFrom<WholeNumber> for $name {
            type Error = Invalid;

            fn try_from(raw: WholeNumber) -> Result<Self, Invalid> {
                Self::try_from(raw.0)
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                i64::from(value.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let schema = ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(bounded_integer!(@format $($format)?))))
                    .minimum(Some(i64::from(Self::MIN) as f64));
                // i64's own bound is its format's: written as f64 it would round up past it.
                if i64::from(Self::MAX) == i64::MAX {
                    schema.into()
                } else {
                    schema.maximum(Some(i64::from(Self::MAX) as f64)).into()
                }
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        bounded_integer!($(#[$doc])* $name(i32), 1, i32::MAX, "must be a positive id");
    };
}

id_type!(
    /// A city's id (the id of its node, too).
    CityId
);
id_type!(
    /// A store's id.
    StoreId
);
id_type!(
    /// A product's id.
    ProductId
);
id_type!(
    /// A product category's id.
    CategoryId
);
id_type!(
    /// A customer's id.
    CustomerId
);
id_type!(
    /// The id of a row of any master-data table (in the audit trail).
    RecordId
);

bounded_integer!(
    /// A replication log entry's id.
    LogEntryId(i64),
    1,
    i64::MAX,
    "must be a positive id",
    format = Int64
);

bounded_integer!(
    /// Units of a product on one line of a sale, refund or receipt.
    Quantity(i32),
    1,
    100_000,
    "must be a whole number between 1 and 100000"
);

id_type!(
    /// A line of a sale, by its number (1, 2, …).
    LineNo
);

bounded_integer!(
    /// Units on a shelf: as counted, or a reorder level.
    UnitCount(i32),
    0,
    1_000_000,
    "must be a whole number of units between 0 and 1000000"
);

bounded_integer!(
    /// How long a store manager's approval holds, in seconds.
    ValidForSeconds(i32),
    1,
    3_600,
    "must be a whole number of seconds between 1 and 3600"
);

bounded_integer!(
    /// Units of a product arriving at a store on one line of a stock receipt.
    ReceivedQuantity(i32),
    1,
    1_000_000,
    "must be a whole number between 1 and 1000000"
);

bounded_integer!(
    /// A TCP port.
    Port(i32),
    1,
    65_535,
    "must be between 1 and 65535"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_quantities_stay_in_range() {
        assert_eq!(StoreId::try_from(7).unwrap().get(), 7);
        assert!(StoreId::try_from(0).is_err());
        assert!(StoreId::try_from(i64::from(i32::MAX) + 1).is_err());
        assert!(Quantity::try_from(100_000).is_ok());
        assert!(Quantity::try_from(100_001).is_err());
        assert!(Quantity::try_from(-2).is_err());
        assert!(serde_json::from_str::<Quantity>("1.5").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("3.0").unwrap().get(), 3);
        assert!(serde_json::from_str::<Quantity>("\"3\"").is_err());
        assert!(serde_json::from_str::<StoreId>("1e300").is_err());
        assert!(serde_json::from_str::<StoreId>("18446744073709551615").is_err());
    }

    #[test]
    fn the_schema_states_the_same_limits() {
        let schema = serde_json::to_value(<Quantity as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["minimum"], 1.0);
        assert_eq!(schema["maximum"], f64::from(Quantity::MAX));
        let schema = serde_json::to_value(<StoreId as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(
            (schema["format"].as_str(), schema["maximum"].as_f64()),
            (Some("int32"), Some(f64::from(i32::MAX)))
        );
        let schema = serde_json::to_value(<LogEntryId as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(
            (schema["format"].as_str(), schema["minimum"].as_f64()),
            (Some("int64"), Some(1.0))
        );
        assert!(
            schema.get("maximum").is_none(),
            "int64 states its own bound: {schema}"
        );
        assert!(serde_json::from_str::<LogEntryId>("0").is_err());
        assert_eq!(
            serde_json::from_str::<LogEntryId>("9223372036854775807")
                .unwrap()
                .get(),
            i64::MAX
        );
    }
}

/// Units a stock adjustment adds, or (negative) takes off, on one line: not zero, at most a million
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "WholeNumber", into = "i64")]
pub struct StockChange(i32);

impl StockChange {
    pub const LIMIT: i32 = 1_000_000;

    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<WholeNumber> for StockChange {
    type Error = Invalid;

    fn try_from(raw: WholeNumber) -> Result<Self, Invalid> {
        i32::try_from(raw.0)
            .ok()
            .filter(|units| *units != 0 && units.abs() <= Self::LIMIT)
            .map(Self)
            .ok_or_else(|| {
                Invalid::new("must be a whole number of units from -1000000 to 1000000, not 0")
            })
    }
}

impl From<StockChange> for i64 {
    fn from(value: StockChange) -> i64 {
        i64::from(value.0)
    }
}

impl utoipa::PartialSchema for StockChange {
    fn schema() -> RefOr<Schema> {
        let range = |min: i32, max: i32| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(f64::from(min)))
                .maximum(Some(f64::from(max)))
        };
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(range(-Self::LIMIT, -1))
            .item(range(1, Self::LIMIT))
            .into()
    }
}

impl utoipa::ToSchema for StockChange {}
