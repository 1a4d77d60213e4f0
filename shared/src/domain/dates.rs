//! Calendar days, and local times without a zone, as the API writes them.

use chrono::{NaiveDate, NaiveDateTime};
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

/// A wall-clock time without a zone, `YYYY-MM-DDTHH:MM:SS`, read in the zone of whoever applies it (a
/// promotion's start in each store's own city), on a day that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct LocalTime(NaiveDateTime);

impl LocalTime {
    /// The shape (the OpenAPI document's pattern); the day must exist besides.
    pub const PATTERN: &str = "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$";

    pub fn get(self) -> NaiveDateTime {
        self.0
    }
}

impl TryFrom<String> for LocalTime {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        static RULE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            #[allow(clippy::expect_used)] // a constant, compiled by the tests
            regex::Regex::new(LocalTime::PATTERN).expect("the local time pattern compiles")
        });
        RULE.is_match(&text)
            .then(|| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| {
                Invalid::new("must be a local time as YYYY-MM-DDTHH:MM:SS, on a day that exists")
            })
    }
}

impl utoipa::PartialSchema for LocalTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("2026-12-24T09:00:00")])
            .into()
    }
}

impl utoipa::ToSchema for LocalTime {}

#[cfg(test)]
mod tests {
    use super::{Day, LocalTime};

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

    #[test]
    fn local_times_have_seconds_and_no_zone() {
        assert!(LocalTime::try_from("2024-02-29T23:59:59".to_owned()).is_ok());
        for text in [
            "2023-02-29T09:00:00",
            "2024-02-29T09:00",
            "2024-02-29T24:00:00",
            "2024-02-29T09:00:00Z",
            "2024-02-29 09:00:00",
            "2024-02-29T09:00:00.5",
        ] {
            assert!(LocalTime::try_from(text.to_owned()).is_err(), "{text}");
        }
    }
}
