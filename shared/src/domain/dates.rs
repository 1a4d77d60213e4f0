//! Calendar days as the API writes them.

use chrono::NaiveDate;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::Invalid;

/// A calendar day, `YYYY-MM-DD` (RFC 3339's full-date: four-digit year, two-digit month and day, a day
/// that exists), such as a business day of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Day(NaiveDate);

impl Day {
    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl TryFrom<String> for Day {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        let shaped = text.len() == 10
            && text.char_indices().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        shaped
            .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| Invalid::new("must be a date as YYYY-MM-DD"))
    }
}

impl utoipa::PartialSchema for Day {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .into()
    }
}

impl utoipa::ToSchema for Day {}

#[cfg(test)]
mod tests {
    use super::Day;

    #[test]
    fn only_full_dates_that_exist() {
        assert!(Day::try_from("2024-02-29".to_owned()).is_ok());
        for text in [
            "2023-02-29",
            "2024-2-29",
            "+2024-02-29",
            "20240-02-29",
            "2024-02-29 ",
            "2024/02/29",
        ] {
            assert!(Day::try_from(text.to_owned()).is_err(), "{text}");
        }
    }
}
