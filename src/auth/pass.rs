//! Passes: proof that the guard allowed the caller at a target. Their fields are private to
//! `auth`, so only the guard issues them, and every store method that reads or writes a plan's,
//! a complaint's, a referral's or an organisation's data demands one. An unchecked read then
//! does not compile (the pattern of qdrant's `CollectionPass`, `lib/storage/src/rbac`).

use super::policy::Relation;
use crate::domain::Error;
use crate::domain::child_coordinator::Application;
use crate::domain::complaint::Complaint;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::plan::Plan;
use crate::domain::referral::Referral;
use crate::domain::scope::Sight;

/// A plan the guard let the caller act on: the plan as loaded in the request's session, the
/// caller's relations to it, whether they may see identity numbers on it, and what of it they
/// see (an access scope the patient gave narrows it).
#[derive(Debug, Clone)]
pub struct PlanPass {
    pub(super) plan: Plan,
    pub(super) relations: Vec<Relation>,
    pub(super) identities: bool,
    pub(super) sight: Sight,
}

impl PlanPass {
    /// The plan, as loaded when the pass was issued.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan's id.
    pub fn id(&self) -> ResourceId {
        self.plan.id
    }

    /// The organisation responsible for the plan.
    pub fn organisation(&self) -> &OrgNumber {
        &self.plan.organisation
    }

    /// The caller's relations to the plan.
    pub fn relations(&self) -> &[Relation] {
        &self.relations
    }

    /// Whether the caller holds `relation` to the plan.
    pub fn holds(&self, relation: Relation) -> bool {
        self.relations.contains(&relation)
    }

    /// Whether the caller may see identity numbers on the plan: the patient's, and those of
    /// citizen members (policy `plan, read_identity`).
    pub fn identities(&self) -> bool {
        self.identities
    }

    /// What the caller sees of the plan: all of it, or what an access scope gives. The plan
    /// in the pass is whole, for the changes the caller may make; what they are shown goes
    /// through `Sight` (`ops::Shown::by`).
    pub fn sight(&self) -> &Sight {
        &self.sight
    }

    /// The caller's relations, comma-separated, as the access log and the history keep them.
    pub fn relation_names(&self) -> String {
        names(&self.relations)
    }

    /// Checks that an item loaded earlier belongs to this plan; a mismatch is a bug, never a
    /// client's doing.
    pub fn covers(&self, plan: ResourceId) -> Result<(), Error> {
        if plan == self.plan.id {
            Ok(())
        } else {
            Err(Error::internal("an item was used under another plan's pass"))
        }
    }

    /// The pass with the plan as a change left it, for the rest of the same request.
    pub fn updated(self, plan: Plan) -> Result<PlanPass, Error> {
        self.covers(plan.id)?;
        Ok(PlanPass { plan, ..self })
    }
}

/// A complaint the guard let the caller act on, with the caller's relations to it.
#[derive(Debug)]
pub struct ComplaintPass {
    pub(super) complaint: Complaint,
    pub(super) relations: Vec<Relation>,
}

impl ComplaintPass {
    /// The complaint, as loaded when the pass was issued.
    pub fn complaint(&self) -> &Complaint {
        &self.complaint
    }

    /// The complaint's id.
    pub fn id(&self) -> ResourceId {
        self.complaint.id
    }
}

/// A referral the guard let the caller act on.
#[derive(Debug)]
pub struct ReferralPass {
    pub(super) referral: Referral,
}

impl ReferralPass {
    /// The referral, as loaded when the pass was issued.
    pub fn referral(&self) -> &Referral {
        &self.referral
    }
}

/// A plan transfer the guard let the caller act on.
#[derive(Debug)]
pub struct TransferPass {
    pub(super) transfer: crate::domain::transfer::PlanTransfer,
    /// The plan, as the guard loaded it (and, in a write on PostgreSQL, locked it).
    pub(super) plan: crate::domain::plan::Plan,
}

impl TransferPass {
    /// The transfer, as loaded when the pass was issued.
    pub fn transfer(&self) -> &crate::domain::transfer::PlanTransfer {
        &self.transfer
    }
}

/// An application for a child coordinator the guard let the caller act on.
#[derive(Debug)]
pub struct ApplicationPass {
    pub(super) application: Application,
}

impl ApplicationPass {
    /// The application, as loaded when the pass was issued.
    pub fn application(&self) -> &Application {
        &self.application
    }
}

/// An organisation in which the guard let the caller act, through a role they hold there.
#[derive(Debug)]
pub struct OrgPass {
    pub(super) organisation: OrgNumber,
}

impl OrgPass {
    /// The organisation.
    pub fn organisation(&self) -> &OrgNumber {
        &self.organisation
    }
}

impl PlanPass {
    /// A pass for the command line, which acts with the database's own authority (whoever
    /// holds its URL): the benchmark's seed. Nothing that serves a request calls it; a test
    /// below holds `src/ops` and `src/api` to that.
    pub fn operator(plan: Plan) -> PlanPass {
        PlanPass { plan, relations: Vec::new(), identities: true, sight: Sight::Whole }
    }
}

impl PlanPass {
    /// The operator's pass to the plan `plan`, as it is now in `session` (see `operator`).
    pub async fn operator_for(
        session: &mut crate::store::Session,
        plan: ResourceId,
    ) -> Result<PlanPass, Error> {
        Ok(PlanPass::operator(session.load_plan(plan).await?))
    }
}

impl OrgPass {
    /// A pass for the command line, which acts with the database's own authority: the
    /// benchmark's seed. Nothing that serves a request calls it (see the test below).
    pub fn operator(organisation: OrgNumber) -> OrgPass {
        OrgPass { organisation }
    }
}

/// Relations, comma-separated.
pub(super) fn names(relations: &[Relation]) -> String {
    let names: Vec<_> = relations.iter().map(|r| r.as_str()).collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    /// The operator's passes are the command line's alone, and the access queries the
    /// guard's: no request path constructs a pass or reads a target's relations itself.
    #[test]
    fn only_the_guard_issues_passes_to_requests() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for dir in ["ops", "api"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("source folder") {
                let path = entry.expect("entry").path();
                let text = std::fs::read_to_string(&path).expect("source file");
                let forbidden = [
                    "::operator",
                    "load_plan(",
                    "plan_access(",
                    "complaint_access(",
                    "referral_access(",
                ];
                for forbidden in forbidden {
                    assert!(
                        !text.contains(forbidden),
                        "{} builds an operator's pass ({forbidden})",
                        path.display()
                    );
                }
            }
        }
    }
}
