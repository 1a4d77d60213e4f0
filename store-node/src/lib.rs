//! A store node: sales, refunds and inventory of one city's stores, on the city's own database, selling
//! whether or not head office answers.

pub mod cashiers;
pub mod config;
pub mod daily_sales;
pub mod db;
pub mod openapi;
pub mod outbox;
pub mod receipt;
pub mod retention;
pub mod routes;
pub mod schema;
pub mod startup;
pub mod state;
