//! A sale's receipt: what `print_receipt()` returns (sql/store/receipts.sql), and its layout for an
//! 80 mm thermal printer, 42 columns of a monospaced font.

use pos_shared::money::Money;
use serde::{Deserialize, Serialize};
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

use crate::db::orders::Payment;

/// Columns of an 80 mm printer's line in its standard font.
pub const WIDTH: usize = 42;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptStore {
    pub code: String,
    pub name: String,
    pub city: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptLine {
    pub name: String,
    pub sku: String,
    pub quantity: i32,
    pub unit_price: Money,
    /// Taken off the line: by its promotion, and by hand (`manual_discount`).
    pub discount: Money,
    /// Taken off by hand: the line's own discount and its share of the sale's.
    pub manual_discount: Money,
    /// The promotion that gave the rest of the discount.
    pub promotion: Option<String>,
    pub tax_rate: Money,
    pub line_total: Money,
}

/// The tax the total includes at one rate.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptTax {
    pub rate: Money,
    pub tax: Money,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// 1 for the first print; a reprint has a higher number.
    pub print_no: i32,
    pub reprint: bool,
    /// The sale was voided: given back whole in its shift.
    pub voided: bool,
    pub store: ReceiptStore,
    /// The store's order number.
    pub order_no: i64,
    pub global_order_id: Uuid,
    /// The store's local time, `YYYY-MM-DD HH:MM`.
    pub sold_at: String,
    pub cashier: Option<String>,
    pub terminal: Option<String>,
    pub lines: Vec<ReceiptLine>,
    /// Before discounts (and before tax where it is added to the prices).
    pub subtotal: Money,
    pub discount_total: Money,
    pub total: Money,
    /// Whether the prices included the tax, or it was added to them.
    pub prices_include_tax: bool,
    /// By rate, highest first.
    pub taxes: Vec<ReceiptTax>,
    pub tax_total: Money,
    pub payments: Vec<Payment>,
    pub change_due: Money,
}

/// `text` cut to at most `width` columns, as the whole string measures (a character and the selector
/// after it may take more together than apart).
fn fitted(text: &str, width: usize) -> String {
    let mut kept = String::new();
    for c in text.chars() {
        kept.push(c);
        if kept.width() > width {
            kept.pop();
            break;
        }
    }
    kept
}

/// `left` and `right` on one line, `right` flush with the edge; `left` is cut to leave them a space.
fn columns(left: &str, right: &str) -> String {
    let left = fitted(left, WIDTH.saturating_sub(right.width() + 1));
    let gap = WIDTH.saturating_sub(left.width() + right.width());
    format!("{left}{}{right}", " ".repeat(gap))
}

fn centered(text: &str) -> String {
    let text = fitted(text, WIDTH);
    format!("{}{text}", " ".repeat((WIDTH - text.width()) / 2))
}

fn negative(amount: Money) -> String {
    format!("-{amount}")
}

impl Receipt {
    /// The receipt as the printer prints it: one line per row, each at most [`WIDTH`] columns.
    pub fn text(&self) -> String {
        let rule = "-".repeat(WIDTH);
        let mut out = vec![centered(&self.store.name)];
        out.push(centered(&match &self.store.city {
            Some(city) => format!("{} - {city}", self.store.code),
            None => self.store.code.clone(),
        }));
        out.push(rule.clone());
        out.push(columns(&format!("Order {}", self.order_no), &self.sold_at));
        if self.cashier.is_some() || self.terminal.is_some() {
            out.push(columns(
                &format!("Cashier {}", self.cashier.as_deref().unwrap_or("-")),
                &format!("Terminal {}", self.terminal.as_deref().unwrap_or("-")),
            ));
        }
        out.push(rule.clone());
        for line in &self.lines {
            out.push(fitted(&line.name, WIDTH));
            let gross = Money::rounded(
                line.unit_price.amount() * rust_decimal::Decimal::from(line.quantity),
            );
            out.push(columns(
                &format!("  {} x {}", line.quantity, line.unit_price),
                &gross.to_string(),
            ));
            let by_promotion =
                Money::rounded(line.discount.amount() - line.manual_discount.amount());
            for (what, amount) in [
                (
                    line.promotion.as_deref().unwrap_or("Promotion"),
                    by_promotion,
                ),
                ("Discount", line.manual_discount),
            ] {
                if amount != Money::ZERO {
                    out.push(columns(&format!("  {what}"), &negative(amount)));
                }
            }
        }
        out.push(rule.clone());
        out.push(columns("Subtotal", &self.subtotal.to_string()));
        if self.discount_total != Money::ZERO {
            out.push(columns("Discounts", &negative(self.discount_total)));
        }
        let taxes = self.taxes.iter().map(|tax| {
            let what = if self.prices_include_tax {
                format!("  incl. tax {}%", tax.rate)
            } else {
                format!("Tax {}%", tax.rate)
            };
            columns(&what, &tax.tax.to_string())
        });
        if self.prices_include_tax {
            out.push(columns("TOTAL", &self.total.to_string()));
            out.extend(taxes);
        } else {
            out.extend(taxes);
            out.push(columns("TOTAL", &self.total.to_string()));
        }
        for payment in &self.payments {
            out.push(columns(
                &title(&payment.method),
                &payment.amount.to_string(),
            ));
        }
        out.push(columns("Change", &self.change_due.to_string()));
        out.push(rule);
        out.push(centered(&self.global_order_id.to_string()));
        if self.voided {
            out.push(centered("*** VOIDED ***"));
        }
        if self.reprint {
            out.push(centered(&format!("*** REPRINT {} ***", self.print_no)));
        }
        out.push(String::new());
        out.join("\n")
    }
}

/// `cash` as `Cash`, `store_credit` as `Store credit`.
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect::<String>())
        .unwrap_or_default()
        .replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_paper_whatever_the_characters() {
        assert_eq!(columns("Subtotal", "399.50").width(), WIDTH);
        let long = columns(&"Chai ".repeat(20), "1,000.00");
        assert_eq!(long.width(), WIDTH);
        assert!(long.ends_with(" 1,000.00"));
        // Wide characters take two columns each.
        let wide = columns(&"茶".repeat(30), "9.99");
        assert!(wide.width() <= WIDTH && wide.ends_with("9.99"), "{wide}");
        assert_eq!(centered("Saddar").width(), (WIDTH - 6) / 2 + 6);
        // A heart with its emoji selector is two columns together, one and none apart.
        let name = format!("{}\u{2764}\u{fe0f}", "x".repeat(41));
        assert!(centered(&name).width() <= WIDTH);
        assert!(columns(&name, "1.00").width() <= WIDTH);
    }
}
