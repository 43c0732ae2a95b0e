//! Referrals from a health trust to a municipality.

use super::error::{Violations, at_most};
use super::goal::goal_text;
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::plan::{OnBehalf, display_text};
use super::text::{Required, bounded};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

stored_enum! {
    /// Where a referral stands.
    ReferralStatus { Sent = "sent", Accepted = "accepted", Returned = "returned" }
}

/// The most goals a referral carries.
pub const MAX_REFERRAL_GOALS: usize = 20;

/// A referral (henvisning) from a health trust to a municipality: notice that a patient needs
/// a plan involving both, or a coordinator, so that the municipality leads the work.
#[derive(Clone, Debug)]
pub struct Referral {
    /// The referral's id.
    pub id: ResourceId,
    /// The receiving municipality.
    pub municipality: OrgNumber,
    /// The sending health trust.
    pub health_trust: OrgNumber,
    /// The requester (a stored subject).
    pub requester: String,
    /// The patient.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The patient's goals, in their words.
    pub patient_goals: Vec<String>,
    /// Whether the patient wants a plan, not only a coordinator.
    pub wants_plan: bool,
    /// Who answered for the patient, if someone did.
    pub answered_on_behalf: Option<OnBehalf>,
    /// Where it stands.
    pub status: ReferralStatus,
    /// The plan created for it.
    pub plan: ResourceId,
    /// The municipality's comment or reason.
    pub response: String,
    /// When it was sent.
    pub create_time: Instant,
    /// When the municipality answered.
    pub response_time: Option<Instant>,
}

/// What it takes to send a referral, validated.
#[derive(Clone, Debug)]
pub struct NewReferral {
    /// The receiving municipality.
    pub municipality: OrgNumber,
    /// The patient.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The patient's goals.
    pub patient_goals: Vec<String>,
    /// Whether the patient wants a plan.
    pub wants_plan: bool,
    /// Who answered for the patient.
    pub answered_on_behalf: Option<OnBehalf>,
}

impl NewReferral {
    /// Validates a referral; fields are named under `referral`. Without the patient's consent
    /// to share, nothing may be sent.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        municipality: &str,
        patient: &str,
        display_name: &str,
        consent_to_share: bool,
        goals: &[String],
        wants_plan: bool,
        on_behalf: Option<(&str, &str)>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let municipality = v.check(OrgNumber::parse("referral.municipality", municipality));
        let patient = v.check(NationalId::parse("referral.patient_id", patient));
        let display_name = v.check(display_text("referral.patient_display_name", display_name));
        if !consent_to_share {
            v.push(FieldViolation::new(
                "referral.consent_to_share",
                "must be true: a referral shares the patient's information with the municipality",
            ));
        }
        let goals = v
            .check(at_most("referral.patient_goals", goals, MAX_REFERRAL_GOALS))
            .unwrap_or_default();
        let goals: Vec<String> = goals
            .iter()
            .enumerate()
            .filter_map(|(i, g)| v.check(goal_text(&format!("referral.patient_goals[{i}]"), g)))
            .collect();
        let on_behalf = on_behalf.and_then(|(given_by, reason)| {
            let given_by = v.check(display_text("referral.answered_on_behalf.given_by", given_by));
            let reason =
                v.check(bounded("referral.answered_on_behalf.reason", reason, 1000, Required));
            given_by.zip(reason).map(|(given_by, reason)| OnBehalf { given_by, reason })
        });
        let ((municipality, patient), patient_display_name) =
            v.into_result(municipality.zip(patient).zip(display_name))?;
        Ok(NewReferral {
            municipality,
            patient,
            patient_display_name,
            patient_goals: goals,
            wants_plan,
            answered_on_behalf: on_behalf,
        })
    }
}
