//! What a till sends for a sale (`POST /orders`, and an exchange's new sale): lines, payments and
//! discounts by hand, and their form as `checkout()` takes them (the idempotency fingerprint is taken
//! of that form).

use pos_shared::domain::{
    Amount, CreditNoteCode, CustomerId, Lines, PaymentMethod, Price, ProductId, Quantity, TaxRate,
};
use pos_shared::error::ApiError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub idempotency_key: Uuid,
    pub customer_id: Option<CustomerId>,
    #[schema(schema_with = Lines::<NewOrderLine>::openapi_schema)]
    pub items: Lines<NewOrderLine>,
    #[schema(schema_with = Lines::<NewPayment, 20>::openapi_schema)]
    pub payments: Lines<NewPayment, 20>,
    /// Off the whole sale by hand, after promotions and the lines' own discounts; shared out over the
    /// lines in proportion.
    pub discount: Option<ManualDiscount>,
    /// A store manager's approval (`POST /approvals`) of discounts above the credential's limit.
    pub approval_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// Off this line by hand, after its promotion.
    pub discount: Option<ManualDiscount>,
}

/// A discount given at the till: up to the credential's `discount_limit` percent of what it applies
/// to, above it with a store manager's approval.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", try_from = "DiscountFields")]
pub enum ManualDiscount {
    /// Percent off (`{"percent": "10"}`).
    Percent(TaxRate),
    /// An amount off (`{"amount": "5.00"}`), no more than what it applies to.
    Amount(Price),
}

/// A discount as JSON gives it, so that both or neither of its fields is a field's error (422), not
/// malformed JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscountFields {
    percent: Option<TaxRate>,
    amount: Option<Price>,
}

impl TryFrom<DiscountFields> for ManualDiscount {
    type Error = &'static str;

    fn try_from(fields: DiscountFields) -> Result<Self, Self::Error> {
        match (fields.percent, fields.amount) {
            (Some(percent), None) => Ok(Self::Percent(percent)),
            (None, Some(amount)) => Ok(Self::Amount(amount)),
            _ => Err("a discount is {\"percent\": …} or {\"amount\": …}, one of the two"),
        }
    }
}

impl ManualDiscount {
    pub fn as_json(self) -> Value {
        match self {
            Self::Percent(percent) => json!({"percent": percent.get().to_string()}),
            Self::Amount(amount) => json!({"amount": amount.get().to_string()}),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub method: PaymentMethod,
    pub amount: Amount,
    /// The credit note a `store_credit` payment spends (and only such a payment names one).
    pub credit_note: Option<CreditNoteCode>,
}

/// The sale's lines as `checkout()` takes them.
pub fn lines_json(items: &Lines<NewOrderLine>) -> Value {
    items
        .iter()
        .map(|line| {
            let mut item =
                json!({"product_id": line.product_id.get(), "quantity": line.quantity.get()});
            if let Some(discount) = line.discount {
                item["discount"] = discount.as_json();
            }
            item
        })
        .collect()
}

/// The payments as `checkout()` takes them; a store-credit payment names its credit note, no other does.
pub fn payments_json<'a>(
    payments: impl IntoIterator<Item = &'a NewPayment>,
) -> Result<Value, ApiError> {
    payments
        .into_iter()
        .map(|p| {
            let mut payment =
                json!({"method": p.method.as_str(), "amount": p.amount.get().to_string()});
            match (p.method, &p.credit_note) {
                (PaymentMethod::StoreCredit, Some(code)) => {
                    payment["credit_note"] = code.as_str().into()
                }
                (PaymentMethod::StoreCredit, None) => {
                    return Err(ApiError::validation(
                        "credit_note",
                        "a store_credit payment names the credit note it spends",
                    ));
                }
                (_, Some(_)) => {
                    return Err(ApiError::validation(
                        "credit_note",
                        "only a store_credit payment names a credit note",
                    ));
                }
                (_, None) => {}
            }
            Ok(payment)
        })
        .collect()
}
