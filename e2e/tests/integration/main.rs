//! Central and the store nodes together: real PostgreSQL instances (central plus nodes), real HTTP, real
//! dblink, real processes where a test kills one. One set of instances for the whole binary; every test
//! gets databases of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

mod accounts;
mod api_edges;
mod bootstrap;
mod chain;
mod common;
mod compose_rehearsal;
mod crash;
mod dashboard;
mod dashboard_layout;
mod database_tls;
mod hung_node;
mod idempotency;
mod least_privilege;
mod master_data;
mod openapi;
mod outbox;
mod pricing;
mod replication;
mod replication_faults;
mod replication_psql;
mod replication_queue;
mod report_chain;
mod reports;
mod resync;
mod signups;
mod store_moves;
mod time_zones;
mod transfers;
mod transport;
