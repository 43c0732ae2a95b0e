//! The relations a caller can hold to a plan or a complaint.

use super::stored_enum;

stored_enum! {
    /// A relation a caller holds to a plan, derived from database rows on every
    /// request. The text is the relation's name in the casbin policy.
    Relation {
        /// The patient the plan is for.
        Owner = "owner",
        /// Serves on the plan's responsibility group now, for the organisation they act for,
        /// while that organisation is the plan's own or within the consent in force.
        Member = "member",
        /// The patient's representative: next of kin with the patient's authorisation, or a
        /// guardian (verge), serving on the group in that role.
        Representative = "representative",
        /// A representative by the power of attorney the patient gave: whom the patient chose,
        /// who alone besides the patient may change a consent decision the patient made.
        Attorney = "attorney",
        /// The member responsible for the measure at hand.
        Responsible = "responsible",
        /// The plan's coordinator (koordinator): the member who runs the plan.
        Coordinator = "coordinator",
        /// Sent the referral.
        Requester = "requester",
        /// Applied for a child coordinator (`domain::child_coordinator`).
        Applicant = "applicant",
        /// Filed the complaint.
        Complainant = "complainant",
        /// The patient a complaint concerns.
        ComplaintPatient = "complaint_patient",
        /// Any citizen (logged in with ID-porten), for what citizens may start themselves.
        Citizen = "citizen",
        /// Any authenticated caller, for public reference data such as the organisation
        /// registry.
        Caller = "caller",
        /// The caller is the subject of the relation at hand (the membership being ended):
        /// nobody creates a relation for themselves, but anyone may end their own.
        OwnRelation = "self",
        /// A block the patient placed (sperring) keeps the caller out. It denies: it overrides
        /// every other relation and role, so the policy grants it nothing and the guard
        /// refuses whoever holds it (`auth::guard`).
        Blocked = "blocked",
        /// The caller saw the plan through an access scope (`domain::scope`): only the parts
        /// it gives. It grants nothing; the access log keeps it, so the patient sees it.
        Scoped = "scoped",
    }
}

impl Relation {
    /// Whether the relation comes with an office rather than with being the citizen one is:
    /// serving on the group, coordinating, being responsible for a measure, having referred.
    /// In their own case an official acts by none of these (`auth::guard`, forvaltningsloven
    /// § 6).
    pub fn is_official(self) -> bool {
        matches!(
            self,
            Relation::Member | Relation::Coordinator | Relation::Responsible | Relation::Requester
        )
    }
}
