//! Authentication (bearer token → `Principal`) and authorization (relations from the database,
//! what they allow from the casbin policy).

pub mod dpop;
pub mod guard;
pub mod pass;
pub mod policy;
pub mod token;
mod token_cache;

pub use guard::Guard;
pub use pass::{ApplicationPass, ComplaintPass, OrgPass, PlanPass, ReferralPass, TransferPass};
pub use policy::{Action, Authorizer, Object, Policy, Relation};
pub use token::{DevIdentity, DevKey, TokenVerifier, VerifierConfig};
