//! The gRPC services: decode and validate the request (naming each bad field), authorize
//! through the guard, call the store, encode the reply. Errors become a `tonic::Status` in one
//! place, `status.rs`. Nothing here knows SQL.

mod authn;
mod complaints;
mod convert;
mod coordinators;
mod document;
mod export;
mod goals;
mod measures;
mod meetings;
mod members;
mod organisations;
mod plans;
mod referrals;
pub mod status;

pub use authn::Authenticate;
pub use complaints::ComplaintApi;
pub use coordinators::CoordinatorApi;
pub use goals::GoalApi;
pub use measures::MeasureApi;
pub use members::ResponsibilityGroupApi;
pub use organisations::OrganisationApi;
pub use plans::PlanApi;
pub use referrals::ReferralApi;

use tonic::Request;

use crate::auth::Guard;
use crate::domain::Error;
use crate::domain::principal::Principal;
use crate::store::Store;

/// What every service needs: the store and the guard in front of it.
#[derive(Clone)]
pub struct Context {
    /// The database.
    pub store: Store,
    /// The access path.
    pub guard: Guard,
}

/// The caller the authentication interceptor identified.
fn principal<T>(request: &Request<T>) -> Result<Principal, Error> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(Error::Unauthenticated("missing bearer token"))
}
