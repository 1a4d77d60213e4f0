//! Values that can only hold what the product accepts, parsed once at the edge (a request's body): a
//! handler holding a `ProductName` knows it is trimmed, non-empty, short enough and free of control
//! characters. Each type's OpenAPI schema carries the same limits from the same constants, so the
//! document cannot drift from the checks. The database's constraints stay the last line of defence.
//!
//! A refused value answers 422 naming its field: see [`crate::extract::Body`].

mod amounts;
mod dates;
mod lines;
mod numbers;
mod passwords;
mod text;

pub use amounts::{Amount, PaymentMethod, Price, TaxRate};
pub use dates::{Day, LocalTime};
pub use lines::Lines;
pub use numbers::{
    CategoryId, CityId, CustomerId, LineNo, LogEntryId, Port, ProductId, Quantity,
    ReceivedQuantity, RecordId, StockChange, StoreId, UnitCount, ValidForSeconds, WholeNumber,
};
pub use passwords::{NewPassword, Password};
pub use text::{
    Barcode, CashierName, CategoryName, CityName, CreditNoteCode, CustomerName, DbName, DbUser,
    Email, Host, Label, Phone, PhonePrefix, ProductName, PromotionName, Reason, Reference, Sku,
    StoreCode, StoreName, Terminal, TimeZone, Username,
};

pub use crate::money::Money;

use serde::{Deserialize, Deserializer};

/// Why a value was refused, in words that name no field (whoever parses it knows where it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// An optional text field (`#[serde(default, deserialize_with = "blank_as_none")]`): absent, `null` or
/// blank is `None`; anything else must be a valid `T`.
pub fn blank_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String, Error = Invalid>,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.trim().is_empty() => T::try_from(text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

/// The OpenAPI schema of a [`blank_as_none`] or [`clearable`] field of type `T`
/// (`#[schema(schema_with = blank_or::<T>)]`): a `T`, or blank, or `null`.
pub fn blank_or<T: utoipa::PartialSchema>() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(T::schema())
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(text::BLANK)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A field of a PATCH body that may be cleared (`#[serde(default, deserialize_with = "clearable")]`):
/// absent is `None` (left as it is), `null` or blank is `Some(None)` (cleared), anything else must be a
/// valid `T`.
pub fn clearable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String, Error = Invalid>,
{
    blank_as_none(deserializer).map(Some)
}

/// A field of a PATCH body that may be set to `null` (`#[serde(default, deserialize_with =
/// "nullable")]`): absent is `None` (left as it is), `null` is `Some(None)`, anything else a `T`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
