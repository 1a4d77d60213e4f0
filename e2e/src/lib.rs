//! Tests and benchmarks that run central and the store nodes together: replication, the outbox, store
//! moves, time zones, hung and restored nodes, reports and the dashboard. Each service's own crate
//! tests it alone, so that neither depends on the other.

pub mod benchmarks;
