//! The gRPC services, as wire adapters: decode and validate the request into a command
//! (naming every bad field at once), call its use case in `ops`, encode the reply. Errors
//! become a `tonic::Status` in one place, `status.rs`. Nothing here knows SQL or the policy.

mod access_events;
mod access_scopes;
mod authn;
mod blocks;
mod child_coordinators;
mod complaints;
pub(crate) mod convert;
mod coordinators;
pub(crate) mod encode;
mod goals;
mod measures;
mod meetings;
mod members;
mod organisations;
mod plan_changes;
mod plan_transfers;
mod plans;
mod referrals;
pub mod status;

pub use access_events::AccessEventApi;
pub use access_scopes::AccessScopeApi;
pub use authn::Authenticate;
pub use blocks::BlockApi;
pub use child_coordinators::ChildCoordinatorApi;
pub use complaints::ComplaintApi;
pub use coordinators::CoordinatorApi;
pub use goals::GoalApi;
pub use measures::MeasureApi;
pub use members::ResponsibilityGroupApi;
pub use organisations::OrganisationApi;
pub use plan_changes::{ChangeFeed, PlanChangeApi, StreamSettings, prune_changes};
pub use plan_transfers::PlanTransferApi;
pub use plans::PlanApi;
pub use referrals::ReferralApi;

use tonic::{Request, Response, Status};

pub use crate::ops::Context;

use crate::domain::Error;
use crate::domain::principal::Principal;

/// What an RPC answers: its response, or the status its error maps to (`status.rs`).
type Rpc<T> = Result<Response<T>, Status>;

/// The caller the authentication interceptor identified, and the request's message.
fn take<T>(request: Request<T>) -> Result<(Principal, T), Error> {
    let who = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(Error::Unauthenticated("missing bearer token"))?;
    Ok((who, request.into_inner()))
}

/// An RPC's answer.
fn reply<T>(message: T) -> Rpc<T> {
    Ok(Response::new(message))
}
