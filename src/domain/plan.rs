//! The plan itself.

use super::error::Violations;
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

stored_enum! {
    /// The kind of plan, which decides which template sections it carries.
    PlanKind { General = "general", Palliative = "palliative" }
}

stored_enum! {
    /// Where a plan is in its life.
    PlanStatus { Requested = "requested", Active = "active", Declined = "declined", Closed = "closed" }
}

/// An individual plan (individuell plan): the coordinated plan a person with long-term,
/// coordinated health and care needs has a right to. Owned by its patient, held by one
/// responsible organisation.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The plan's id.
    pub id: ResourceId,
    /// The responsible organisation.
    pub organisation: OrgNumber,
    /// The patient the plan is for.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The kind of plan.
    pub kind: PlanKind,
    /// Its status.
    pub status: PlanStatus,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

/// What it takes to create a plan, validated.
#[derive(Clone, Debug)]
pub struct NewPlan {
    /// The responsible organisation.
    pub organisation: OrgNumber,
    /// The patient.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The kind of plan.
    pub kind: PlanKind,
}

impl NewPlan {
    /// Validates every field, reporting all violations at once.
    pub fn parse(
        organisation: &str,
        patient: &str,
        display_name: &str,
        kind: Option<PlanKind>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let organisation = v.check(OrgNumber::parse("organisation", organisation));
        let patient = v.check(NationalId::parse("patient_id", patient));
        let display_name = v.check(display_text("patient_display_name", display_name));
        let kind = v.check(kind.ok_or_else(|| {
            FieldViolation::new("kind", "must be PLAN_KIND_GENERAL or PLAN_KIND_PALLIATIVE")
        }));
        match (organisation, patient, display_name, kind) {
            (Some(organisation), Some(patient), Some(patient_display_name), Some(kind))
                if v.is_empty() =>
            {
                Ok(NewPlan {
                    organisation,
                    patient,
                    patient_display_name,
                    kind,
                })
            }
            _ => Err(v.into_violations()),
        }
    }
}

/// The longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;

/// Validates a short display text: not blank, at most `MAX_DISPLAY_NAME` characters, no control
/// characters. Returns it trimmed.
pub fn display_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldViolation::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_DISPLAY_NAME {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}
