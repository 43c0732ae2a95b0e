//! Coordinators: the patient's wish, and the unit's appointments.

use super::date::Date;
use super::error::Error;
use super::error::Violations;
use super::ids::{OrgNumber, ResourceId};
use super::national_id::NationalId;
use super::plan::display_text;
use super::subject::{Subject, SubjectKind};
use super::text::{Optional, Required, bounded};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

/// Whom the patient would like as coordinator, recorded before one is appointed and weighed by
/// the unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorWish {
    /// The person wished for.
    pub display_name: String,
    /// Where they work, if known.
    pub organisation: Option<OrgNumber>,
    /// Why, or anything else.
    pub note: String,
    /// When it was recorded.
    pub time: Instant,
}

impl CoordinatorWish {
    /// Validates a wish from a request; fields are named under `wish`.
    pub fn parse(
        display_name: &str,
        organisation: &str,
        note: &str,
        now: Instant,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let display_name = v.check(display_text("wish.display_name", display_name));
        let organisation = if organisation.is_empty() {
            Some(None)
        } else {
            v.check(OrgNumber::parse("wish.organisation", organisation)).map(Some)
        };
        let note = v.check(bounded("wish.note", note, 1000, Optional));
        let ((display_name, organisation), note) =
            v.into_result(display_name.zip(organisation).zip(note))?;
        Ok(CoordinatorWish { display_name, organisation, note, time: now })
    }
}

/// One appointment of a coordinator (koordinator) to a plan. The coordinator is a member of the
/// group with that role; the appointment keeps why they were chosen and when it ended.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// The appointment's id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// The coordinator's membership.
    pub member: ResourceId,
    /// Who.
    pub subject: Subject,
    /// Their name as shown.
    pub display_name: String,
    /// The organisation they act for.
    pub organisation: OrgNumber,
    /// Whether the patient's wish was followed.
    pub wish_followed: bool,
    /// Why not, when it was not.
    pub reason: String,
    /// When it started.
    pub start_time: Instant,
    /// When it ended.
    pub end_time: Option<Instant>,
    /// Why it ended.
    pub end_reason: String,
    /// The kind of coordinator.
    pub kind: CoordinatorKind,
}

stored_enum! {
    /// The kind of coordinator an appointment makes.
    CoordinatorKind {
        /// A coordinator (koordinator), pasient- og brukerrettighetsloven § 2-5 a.
        General = "general",
        /// A child coordinator (barnekoordinator), § 2-5 c: for the family of a child with a
        /// serious illness, injury or disability; the plan's patient is the child.
        Child = "child",
    }
}

impl CoordinatorKind {
    /// Checks that the plan's patient may have a coordinator of this kind on `today`: a child
    /// coordinator is for a child, under 18 (§ 2-5 c); FAILED_PRECONDITION otherwise.
    pub fn check_patient(self, patient: &NationalId, today: Date) -> Result<(), Error> {
        if self == CoordinatorKind::Child && patient.age_on(today) >= 18 {
            return Err(Error::FailedPrecondition(
                "a child coordinator is for a child: the plan's patient is 18 or older".into(),
            ));
        }
        Ok(())
    }
}

/// What it takes to appoint a coordinator, validated.
#[derive(Clone, Debug)]
pub struct NewAssignment {
    /// Who.
    pub subject: Subject,
    /// Their name as shown.
    pub display_name: String,
    /// The organisation they act for.
    pub organisation: OrgNumber,
    /// Whether the patient's wish was followed.
    pub wish_followed: bool,
    /// Why not.
    pub reason: String,
    /// The kind of coordinator.
    pub kind: CoordinatorKind,
}

impl NewAssignment {
    /// `INVALID_ARGUMENT` on `{field}.organisation` unless the coordinator acts for
    /// `responsible`, the organisation responsible for the plan (helse- og
    /// omsorgstjenesteloven § 7-2, spesialisthelsetjenesteloven § 2-5 a: the responsible
    /// service appoints its own coordinator).
    pub fn check_acts_for(&self, field: &str, responsible: &OrgNumber) -> Result<(), Error> {
        if &self.organisation == responsible {
            return Ok(());
        }
        Err(Error::invalid(
            format!("{field}.organisation"),
            format!(
                "must be the plan's responsible organisation, {}: a coordinator acts for it",
                responsible.as_str()
            ),
        ))
    }

    /// Validates an appointment; fields are named under `field`. A coordinator acts for an
    /// organisation, and when the wish was not followed the unit must say why.
    pub fn parse(
        field: &str,
        subject: &str,
        display_name: &str,
        organisation: &str,
        wish_followed: bool,
        reason: &str,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let subject = v.check(Subject::parse(&format!("{field}.subject"), subject).and_then(|s| {
            if s.kind() == SubjectKind::Personnel {
                Ok(s)
            } else {
                Err(FieldViolation::new(
                    format!("{field}.subject"),
                    "must be personnel:{sub}: a coordinator is a person acting for an \
                         organisation",
                ))
            }
        }));
        let display_name = v.check(display_text(&format!("{field}.display_name"), display_name));
        let organisation =
            v.check(OrgNumber::parse(&format!("{field}.organisation"), organisation));
        let needed = if wish_followed { Optional } else { Required };
        let reason = v.check(bounded(&format!("{field}.reason"), reason, 1000, needed));
        let parts = subject.zip(display_name).zip(organisation).zip(reason);
        let (((subject, display_name), organisation), reason) = v.into_result(parts)?;
        let kind = CoordinatorKind::General;
        Ok(NewAssignment { subject, display_name, organisation, wish_followed, reason, kind })
    }
}

/// An appointment shows with the responsibility group.
impl super::scope::Within for Assignment {
    const WHAT: &'static str = "coordinator assignment";

    fn within(self, sight: &super::scope::Sight) -> Option<Self> {
        sight.sees(super::scope::PlanPart::Group).then_some(self)
    }
}
