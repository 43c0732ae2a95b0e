//! samvirke: the gRPC backend for the individual plan.

pub mod domain;
pub mod proto;
