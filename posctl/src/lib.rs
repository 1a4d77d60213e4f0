//! `posctl`: the local multi-node cluster (DESIGN §9). `main.rs` only parses and reports; the commands
//! live here so tests can reach them.

pub mod api;
pub mod backup;
pub mod bootstrap;
pub mod cli;
pub mod cluster;
pub mod demo;
pub mod node;
pub mod ops;
pub mod progress;
pub mod services;
pub mod stores;
pub mod table;
