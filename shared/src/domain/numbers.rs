//! Numbers and amounts: ids, quantities, ports, prices and payments, and the payment methods.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::Invalid;
use crate::money::Money;

/// A whole number within `min..=max`, as JSON gives it (an integer of any size).
macro_rules! bounded_integer {
    ($(#[$doc:meta])* $name:ident($inner:ty), $min:expr, $max:expr, $message:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
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
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(f64::from(Self::MIN)))
                    .maximum(Some(f64::from(Self::MAX)))
                    .into()
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

/// A money amount with a floor: `Price` may be zero, `Amount` (a payment) must be more.
macro_rules! floored_money {
    ($(#[$doc:meta])* $name:ident, $accepts:expr, $message:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "Money", into = "Money")]
        pub struct $name(Money);

        impl $name {
            pub fn get(self) -> Money {
                self.0
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

        impl From<$name> for Money {
            fn from(value: $name) -> Money {
                value.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                <Money as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

floored_money!(
    /// A price: a decimal string with at most two places, not negative (`"150.00"`).
    Price,
    |m| !m.is_negative(),
    "must not be negative"
);
floored_money!(
    /// A payment's amount: a decimal string with at most two places, more than zero.
    Amount,
    |m| m > Money::ZERO,
    "must be positive"
);

/// How a sale is paid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Cash,
    Card,
    Wallet,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Wallet => "wallet",
        }
    }
}

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
    }

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

    #[test]
    fn the_schema_states_the_same_limits() {
        let schema = serde_json::to_value(<Quantity as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["minimum"], 1.0);
        assert_eq!(schema["maximum"], f64::from(Quantity::MAX));
    }
}
