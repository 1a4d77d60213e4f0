//! The store node's HTTP routes. Each module registers its own paths and documents them
//! (`pos_shared::routes!`); this one puts them together.

pub mod approvals;
pub mod customers;
pub mod inventory;
pub mod orders;
pub mod products;
pub mod receipts;
pub mod reports;
pub mod returns;
pub mod sale_body;
pub mod shifts;
pub mod stock;
pub mod transfers;
pub mod voids;

pos_shared::route_modules![
    products, customers, inventory, stock, transfers, orders, voids, returns, approvals, receipts,
    shifts, reports
];
