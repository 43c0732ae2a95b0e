//! samvirke: the gRPC backend for the individual plan.

pub mod api;
pub mod auth;
pub mod bench;
pub mod config;
pub mod domain;
pub mod export;
pub mod ops;
pub mod overload;
pub mod proto;
pub mod registry;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod telemetry;
pub mod tls;
