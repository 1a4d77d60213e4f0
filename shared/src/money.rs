//! Money: a decimal with two places, written as a string ("150.00") in JSON. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Money(Decimal);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("is not a decimal amount")]
    NotANumber,
    #[error("has more than two decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

/// NUMERIC(12,2): at most 10 digits before the point.
const MAX: Decimal = Decimal::from_parts(3_567_587_327, 232, 0, false, 2); // 9_999_999_999.99

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if value.abs() > MAX {
            return Err(MoneyError::TooLarge);
        }
        let mut value = value;
        value.rescale(2);
        Ok(Self(value))
    }

    /// Rounds half away from zero to cents (for computed amounts).
    pub fn rounded(value: Decimal) -> Self {
        let mut value = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        value.rescale(2);
        Self(value)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = Decimal::from_str_exact(s.trim()).map_err(|_| MoneyError::NotANumber)?;
        Self::new(value)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        m.0
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A money amount as the API writes it: a decimal string, at most 10 digits before the point and 2
/// after, optionally negative (`"150.00"`, `"-3.5"`). Nothing else: no JSON number, no exponent, no
/// surrounding space.
pub const PATTERN: &str = r"^-?[0-9]{1,10}(?:\.[0-9]{1,2})?$";

static RULE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant, compiled by the tests
    regex::Regex::new(PATTERN).expect("the money pattern compiles")
});

impl Money {
    /// Parses a JSON string, which must match [`PATTERN`].
    pub fn from_api_text(text: &str) -> Result<Self, String> {
        if !RULE.is_match(text) {
            return Err(format!(
                "amount {text:?} must be a decimal string such as \"150.00\""
            ));
        }
        text.parse()
            .map_err(|e: MoneyError| format!("amount {text:?} {e}"))
    }
}

/// A figure the database computed (a report's sum): read as it is, rounded to cents, however large. A
/// shift's or a day's totals may pass what one amount may be; only amounts given to the API are held to
/// [`PATTERN`]. For `#[serde(deserialize_with = "computed")]`.
pub fn computed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
    let text = String::deserialize(deserializer)?;
    Decimal::from_str_exact(text.trim())
        .map(Money::rounded)
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a decimal amount")))
}

/// [`computed`], for a figure that may be absent or `null`.
pub fn computed_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Money>, D::Error> {
    #[derive(Deserialize)]
    struct Computed(#[serde(deserialize_with = "computed")] Money);
    Ok(Option::<Computed>::deserialize(deserializer)?.map(|Computed(money)| money))
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_api_text(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .examples([serde_json::json!("150.00")])
            .pattern(Some(PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for Money {}

impl<'a> tokio_postgres::types::FromSql<'a> for Money {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self::rounded(Decimal::from_sql(ty, raw)?))
    }
    tokio_postgres::types::accepts!(NUMERIC);
}

impl tokio_postgres::types::ToSql for Money {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }
    tokio_postgres::types::accepts!(NUMERIC);
    tokio_postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_two_places() {
        assert_eq!("150".parse::<Money>().unwrap().to_string(), "150.00");
        assert_eq!("0.5".parse::<Money>().unwrap().to_string(), "0.50");
        assert_eq!("1.005".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("abc".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("99999999999".parse::<Money>(), Err(MoneyError::TooLarge));
        assert!("9999999999.99".parse::<Money>().is_ok());
    }

    #[test]
    fn json_round_trip_is_a_string() {
        let m: Money = serde_json::from_str("\"12.3\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.30\"");
        assert!(serde_json::from_str::<Money>("12.5").is_err());
        assert!(serde_json::from_str::<Money>("\"1.234\"").is_err());
        assert!(serde_json::from_str::<Money>("\" 1.50\"").is_err());
        assert!(serde_json::from_str::<Money>("\"1e3\"").is_err());
    }
}
