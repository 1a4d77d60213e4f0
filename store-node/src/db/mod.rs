//! One function per query; statements are prepared once per connection (`prepare_cached`).

pub mod approvals;
pub mod customers;
pub mod inventory;
pub mod orders;
pub mod products;
pub mod refunds;
pub mod reports;
pub mod settings;
pub mod shifts;
pub mod stock;
pub mod transfers;

/// A `LIKE` pattern for `words` anywhere in a text, LIKE's own wildcards in them matched as themselves.
pub fn like_part(words: &str) -> String {
    format!(
        "%{}%",
        words
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}
