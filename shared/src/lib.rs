//! Pieces shared by the `central` and `store-node` services and by `posctl`.

pub mod auth;
pub mod catalogue;
pub mod config;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod extract;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod outbox;
pub mod page;
pub mod pgctl;
pub mod service;
pub mod telemetry;
pub mod tls;
pub mod transfers;

#[cfg(feature = "testkit")]
pub mod testkit;
