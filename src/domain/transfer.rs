//! Moving a plan to another responsible organisation (PlanTransferService): when the patient
//! moves to another municipality, or a hospital-only plan is handed to the municipality. The
//! individual plan follows the patient (pasient- og brukerrettighetsloven § 2-5; forskrift om
//! habilitering, rehabilitering og individuell plan og koordinator § 17: the municipality where
//! the patient lives leads the work).

use super::ids::{OrgNumber, ResourceId};
use super::text::{Required, bounded};
use super::time::Instant;
use super::{FieldViolation, Violations, stored_enum};
use crate::domain::names::plan_name;

stored_enum! {
    /// Where a transfer stands.
    TransferState {
        Proposed = "proposed",
        Accepted = "accepted",
        Declined = "declined",
        Cancelled = "cancelled",
    }
}

/// The longest reason, comment or answer, in characters.
pub const MAX_TRANSFER_TEXT: usize = 1_000;

/// A proposal to move a plan, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanTransfer {
    /// Its id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// The organisation responsible when it was proposed.
    pub from: OrgNumber,
    /// The receiving municipality.
    pub to: OrgNumber,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub state: TransferState,
    /// The answer: a comment on acceptance, the reason it declined; or why the sending side
    /// cancelled it.
    pub response: String,
    /// The coordinator's appointment made on acceptance.
    pub assignment: Option<ResourceId>,
    /// When it was proposed.
    pub create_time: Instant,
    /// When it was answered.
    pub response_time: Option<Instant>,
}

/// A proposal as the request gives it, validated.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    /// The plan.
    pub plan: ResourceId,
    /// The receiving municipality.
    pub to: OrgNumber,
    /// Why.
    pub reason: String,
}

impl NewTransfer {
    /// Validates a proposal's fields, every bad one named.
    pub fn parse(plan: &str, to: &str, reason: &str) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let plan = v.check(plan_name("transfer.plan", plan));
        let to = v.check(OrgNumber::parse("transfer.to_organisation", to));
        let reason = v.check(bounded("transfer.reason", reason, MAX_TRANSFER_TEXT, Required));
        let fields = plan.zip(to).zip(reason);
        let ((plan, to), reason) = v.into_result(fields)?;
        Ok(NewTransfer { plan, to, reason })
    }
}

impl PlanTransfer {
    /// `FAILED_PRECONDITION` unless the transfer still awaits an answer.
    pub fn check_pending(&self) -> Result<(), super::Error> {
        match self.state {
            TransferState::Proposed => Ok(()),
            state => Err(super::Error::FailedPrecondition(format!(
                "the transfer is {} already",
                state.as_str()
            ))),
        }
    }
}
