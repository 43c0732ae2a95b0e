//! The patient's view of the access log (tilgangslogg): who accessed their plan, as they would
//! recognise them, and what they did, in words rather than policy identifiers. Helsenorge shows
//! patients the same for hospital records (pasientjournalloven § 18 gives the right to know who
//! has had access); samvirke shows it for the individual plan.

use super::ids::{OrgNumber, ResourceId};
use super::member::MemberRole;
use super::organisation::OrgRole;
use super::time::Instant;

/// Which of a plan's access events to list.
#[derive(Clone, Debug, Default)]
pub struct AccessEventFilter {
    /// Only events at or after this instant.
    pub start: Option<Instant>,
    /// Only events before this instant.
    pub end: Option<Instant>,
    /// Only events by callers acting for this organisation.
    pub organisation: Option<OrgNumber>,
    /// Leave out the patient's own events.
    pub exclude_patient: bool,
}

impl AccessEventFilter {
    /// The filter in one canonical text, for the page token's scope.
    pub fn canonical(&self) -> String {
        format!(
            "start={:?};end={:?};organisation={};exclude_patient={}",
            self.start.map(|i| i.0),
            self.end.map(|i| i.0),
            self.organisation.as_ref().map_or("", OrgNumber::as_str),
            self.exclude_patient
        )
    }
}

/// One access to a plan or to something in it.
#[derive(Clone, Debug)]
pub struct AccessEvent {
    /// The log entry's id.
    pub id: ResourceId,
    /// When.
    pub time: Instant,
    /// Who.
    pub accessor: Accessor,
    /// What, in words (`describe`).
    pub description: String,
    /// The RPC it was logged for (`samvirke.v1.PlanService/ExportPlan`); empty for entries
    /// from before operations were recorded.
    pub operation: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Whether the accessor saw only the parts of the plan an access scope gives them.
    pub limited: bool,
}

/// Who accessed a plan, as the patient would recognise them. It holds no subject identifier,
/// so no identity number can reach the patient's screen through it.
#[derive(Clone, Debug, Default)]
pub struct Accessor {
    /// The name they serve (or served) on the plan's group under, or the patient's name.
    pub display_name: String,
    /// Their role on the plan's group, if they serve or served on it.
    pub member_role: Option<MemberRole>,
    /// Their role in the organisation they acted for, if they hold one there.
    pub organisation_role: Option<OrgRole>,
    /// The organisation they acted for; `None` for a citizen.
    pub organisation: Option<OrgNumber>,
    /// Its name from the registry; empty when the registry does not know it.
    pub organisation_name: String,
    /// They are the patient.
    pub patient: bool,
    /// They are the caller.
    pub caller: bool,
}

/// What an access did, in words a patient understands: by the RPC it was logged for, or, for
/// entries without one, by the policy's object and action; a refused access "tried to … and
/// was refused".
pub fn describe(operation: &str, object: &str, action: &str, allowed: bool) -> String {
    let method = operation.rsplit('/').next().unwrap_or_default();
    let words = by_method(method).unwrap_or_else(|| by_policy(object, action));
    if allowed {
        words.done.to_owned()
    } else {
        format!("tried to {} and was refused", words.tried)
    }
}

/// `description` for an access through an access scope: the patient is told it reached only
/// what they share with the accessor.
pub fn limited(description: String) -> String {
    format!("{description} (only the parts you share with them)")
}

/// The words of one kind of access: as done ("read the plan") and as tried ("read the plan").
struct Words {
    done: &'static str,
    tried: &'static str,
}

const fn words(done: &'static str, tried: &'static str) -> Words {
    Words { done, tried }
}

fn by_method(method: &str) -> Option<Words> {
    Some(match method {
        "CreatePlan" => words("created the plan", "create the plan"),
        "GetPlan" => words("read the plan", "read the plan"),
        "ListPlans" | "ListMyPlans" => words("saw the plan in a list", "list the plan"),
        "UpdatePlan" => words("changed the plan", "change the plan"),
        "ChangePlanStatus" => words("changed the plan's status", "change the plan's status"),
        "RecordConsent" => words("recorded consent", "record consent"),
        "ListConsents" => words("read the consents", "read the consents"),
        "WithdrawConsent" => words("withdrew consent", "withdraw consent"),
        "SignPlan" => words("signed the plan", "sign the plan"),
        "ListPlanRevisions" => words("read the plan's history", "read the plan's history"),
        "ExportPlan" => words("exported the plan", "export the plan"),
        "ListPlanChanges" | "WatchPlanChanges" => {
            words("followed the plan's changes", "follow the plan's changes")
        }
        "CreateGoal" => words("added a goal", "add a goal"),
        "GetGoal" => words("read a goal", "read a goal"),
        "ListGoals" => words("read the goals", "read the goals"),
        "UpdateGoal" => words("changed a goal", "change a goal"),
        "DeleteGoal" => words("deleted a goal", "delete a goal"),
        "ProposeGoalAdjustment" => words("proposed a change to a goal", "propose a goal change"),
        "CreateMeasure" => words("added a measure", "add a measure"),
        "GetMeasure" => words("read a measure", "read a measure"),
        "ListMeasures" => words("read the measures", "read the measures"),
        "UpdateMeasure" => words("changed the measures", "change the measures"),
        "DeleteMeasure" => words("deleted a measure", "delete a measure"),
        "AddMeasureEvaluation" => words("evaluated a measure", "evaluate a measure"),
        "AddMember" => words("added someone to the group", "add someone to the group"),
        "RemoveMember" => words("removed someone from the group", "remove someone from the group"),
        "ListMembers" => words("read who is on the group", "read who is on the group"),
        "CreateMeeting" => words("planned a meeting", "plan a meeting"),
        "GetMeeting" => words("read a meeting", "read a meeting"),
        "ListMeetings" => words("read the meetings", "read the meetings"),
        "UpdateMeeting" => words("changed a meeting", "change a meeting"),
        "CancelMeeting" => words("cancelled a meeting", "cancel a meeting"),
        "RecordCoordinatorWish" => {
            words("recorded a coordinator wish", "record a coordinator wish")
        }
        "AppointCoordinator" => words("appointed a coordinator", "appoint a coordinator"),
        "ReplaceCoordinator" => words("replaced the coordinator", "replace the coordinator"),
        "ListCoordinatorAssignments" => {
            words("read the coordinator assignments", "read the coordinator assignments")
        }
        "ListAccessEvents" => words("read who has seen the plan", "read who has seen the plan"),
        "CreateBlock" => words("blocked someone from the plan", "block someone from the plan"),
        "ListBlocks" => words("read who is blocked", "read who is blocked"),
        "LiftBlock" => words("lifted a block", "lift a block"),
        "CreateAccessScope" => {
            words("limited what someone sees of the plan", "limit what someone sees")
        }
        "ListAccessScopes" => words("read who sees what of the plan", "read who sees what"),
        "DeleteAccessScope" => {
            words("removed a limit on what someone sees", "remove a limit on what someone sees")
        }
        _ => return None,
    })
}

fn by_policy(object: &str, action: &str) -> Words {
    match (object, action) {
        (_, "read" | "read_identity") => words("read the plan", "read the plan"),
        _ => words("changed the plan", "change the plan"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_by_operation_then_by_policy() {
        let export = "samvirke.v1.PlanService/ExportPlan";
        assert_eq!(describe(export, "plan", "read", true), "exported the plan");
        assert_eq!(describe("", "plan", "read", true), "read the plan");
        assert_eq!(describe("", "measure", "update", true), "changed the plan");
        let get = "samvirke.v1.PlanService/GetPlan";
        assert_eq!(describe(get, "plan", "read", false), "tried to read the plan and was refused");
    }
}
