//! Authentication (bearer token → `Principal`) and authorization (relations from the database,
//! what they allow from the casbin policy).

pub mod guard;
pub mod policy;
pub mod token;

pub use guard::{ComplaintAccess, Guard, PlanAccess};
pub use policy::{Action, Authorizer, Object, Policy, Relation};
pub use token::{DevIdentity, DevKey, TokenVerifier, VerifierConfig};
