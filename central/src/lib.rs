//! Head office: master data, replication to the store nodes, the global order mapping, reports.

pub mod auth;
pub mod config;
pub mod db;
pub mod fanout;
pub mod openapi;
pub mod replicator;
pub mod retention;
pub mod routes;
pub mod scheduled_prices;
pub mod schema;
pub mod startup;
pub mod state;
