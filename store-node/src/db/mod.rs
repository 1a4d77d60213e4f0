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
