//! Money amounts with a floor (prices, payments) and the payment methods.

use std::sync::LazyLock;

use regex::Regex;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::Invalid;
use crate::money::Money;

/// A money amount with a floor: `Price` may be zero, `Amount` (a payment) must be more. The floor is
/// in the type's pattern (the OpenAPI document's), which the value must match.
macro_rules! floored_money {
    ($(#[$doc:meta])* $name:ident, pattern = $pattern:expr, $accepts:expr, $message:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "Money")]
        pub struct $name(Money);

        impl $name {
            pub fn get(self) -> Money {
                self.0
            }

            /// The pattern a value matches (the OpenAPI document's, too).
            pub fn pattern() -> &'static str {
                static PATTERN: LazyLock<String> = LazyLock::new(|| $pattern);
                &PATTERN
            }
        }

        impl TryFrom<Money> for $name {
            type Error = Invalid;

            fn try_from(value: Money) -> Result<Self, Invalid> {
                let accepts: fn(Money) -> bool = $accepts;
                if accepts(value) {
                    Ok(Self(value))
                } else {
                    Err(Invalid::new($message))
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(text: String) -> Result<Self, Invalid> {
                static RULE: LazyLock<Regex> = LazyLock::new(|| {
                    #[allow(clippy::expect_used)] // built from constants, compiled by the tests
                    Regex::new($name::pattern()).expect("the amount patterns compile")
                });
                let value = Self::try_from(Money::from_api_text(&text).map_err(Invalid)?)?;
                if !RULE.is_match(&text) {
                    // Within Money's shape and above the floor, yet not this type's (`"-0.00"`).
                    return Err(Invalid::new($message));
                }
                Ok(value)
            }
        }

        impl From<$name> for Money {
            fn from(value: $name) -> Money {
                value.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .examples([serde_json::json!("150.00")])
                    .pattern(Some($name::pattern()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// Two places at most after the point, 10 digits at most before it.
const FRACTION: &str = r"(?:\.[0-9]{1,2})?";

floored_money!(
    /// A price: a decimal string with at most two places, not negative (`"150.00"`).
    Price,
    pattern = format!("^[0-9]{{1,10}}{FRACTION}$"),
    |m| !m.is_negative(),
    "must not be negative"
);
floored_money!(
    /// A payment's amount: a decimal string with at most two places, more than zero.
    Amount,
    pattern = {
        // Some digit before the point is not 0 (k leading zeros, then 1 to 10 - k digits), or the
        // whole part is zeros and the fraction is not.
        let whole: Vec<String> = (0..10).map(|k| format!("0{{{k}}}[1-9][0-9]{{0,{}}}", 9 - k)).collect();
        format!(r"^(?:(?:{}){FRACTION}|0{{1,10}}\.(?:[1-9][0-9]?|0[1-9]))$", whole.join("|"))
    },
    |m| m > Money::ZERO,
    "must be positive"
);

floored_money!(
    /// A tax rate or a percentage off: a decimal string from 0 to 100 with at most two places
    /// (`"17.00"`).
    TaxRate,
    pattern = format!("^(?:100(?:\\.0{{1,2}})?|[0-9]{{1,2}}{FRACTION})$"),
    |m| !m.is_negative() && m.amount() <= rust_decimal::Decimal::ONE_HUNDRED,
    "must be a percentage from 0 to 100, with at most two decimals"
);

/// How a sale is paid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    Wallet,
    /// A credit note's balance (a payment names its `credit_note`).
    StoreCredit,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Wallet => "wallet",
            Self::StoreCredit => "store_credit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_may_be_zero_and_payments_may_not() {
        let zero: Money = "0".parse().unwrap();
        assert!(Price::try_from(zero).is_ok());
        assert!(Amount::try_from(zero).is_err());
        assert!(serde_json::from_str::<Price>("\"-1.00\"").is_err());
        assert_eq!(
            serde_json::to_string(&serde_json::from_str::<Amount>("\"12.5\"").unwrap()).unwrap(),
            "\"12.50\""
        );
    }

    /// What each amount's pattern matches is exactly what the type accepts.
    #[test]
    fn each_amount_pattern_is_the_rule() {
        let samples = [
            "0",
            "0.00",
            "0.0",
            "0.01",
            "0.10",
            "00.5",
            "1",
            "150.00",
            "1.234",
            "-1.00",
            "-0",
            "9999999999.99",
            "99999999999",
            "0000000001",
            "00000000001",
            ".5",
            "5.",
            "1e3",
            " 1",
            "+1",
            "12.5",
            "\u{663}",
            "100",
            "100.00",
            "100.01",
            "101",
            "17.5",
            "099",
        ];
        for text in samples {
            for (pattern, accepted) in [
                (Price::pattern(), Price::try_from(text.to_owned()).is_ok()),
                (Amount::pattern(), Amount::try_from(text.to_owned()).is_ok()),
                (
                    TaxRate::pattern(),
                    TaxRate::try_from(text.to_owned()).is_ok(),
                ),
            ] {
                assert_eq!(
                    Regex::new(pattern).unwrap().is_match(text),
                    accepted,
                    "{text:?} against {pattern}"
                );
            }
        }
        assert!(serde_json::from_str::<Amount>("5").is_err());
    }
}
