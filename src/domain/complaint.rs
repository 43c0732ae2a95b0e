//! Complaints and the rules of their handling: the four-week deadline and the state machine.

use super::date::Date;
use super::error::Violations;
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::principal::Principal;
use super::subject::Subject;
use super::text::{Presence, Required};
use super::time::Instant;
use super::{Error, FieldViolation, stored_enum};

/// The complaint deadline: four weeks from when the complainant learned of the matter
/// (pasient- og brukerrettighetsloven § 7-5).
pub const DEADLINE_DAYS: i64 = 28;

/// The longest complaint text, reason or assessment, in characters.
pub const MAX_TEXT: usize = 10_000;

stored_enum! {
    /// What a complaint is about.
    ComplaintKind {
        NoPlanOffered = "no_plan_offered",
        NoCoordinator = "no_coordinator",
        NoChildCoordinator = "no_child_coordinator",
        PlanNotFollowed = "plan_not_followed",
        CoordinatorNotFollowingUp = "coordinator_not_following_up",
        Other = "other",
    }
}

stored_enum! {
    /// Where a complaint is in its handling.
    ComplaintState {
        Submitted = "submitted",
        UnderReview = "under_review",
        Upheld = "upheld",
        NotUpheld = "not_upheld",
        Forwarded = "forwarded",
        Returned = "returned",
        Decided = "decided",
        Withdrawn = "withdrawn",
    }
}

stored_enum! {
    /// An outcome: of the organisation's reconsideration (upheld or not), or of the county
    /// governor's decision (also: returned for a new assessment).
    Outcome { Upheld = "upheld", NotUpheld = "not_upheld", Returned = "returned" }
}

stored_enum! {
    /// How a representative is related to the patient they complain for.
    RepresentativeRelation {
        Parent = "parent",
        Guardian = "guardian",
        NextOfKin = "next_of_kin",
        PowerOfAttorney = "power_of_attorney",
        Other = "other",
    }
}

/// A step in a complaint's handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The organisation starts or resumes its review.
    StartReview,
    /// The organisation's reconsideration: upheld or not upheld.
    Reconsider(Outcome),
    /// Forwarding to the county governor.
    Forward,
    /// The county governor's decision.
    Decide(Outcome),
    /// The complainant withdraws.
    Withdraw,
}

impl ComplaintState {
    /// Whether the complaint is still open: not upheld by the organisation, decided or
    /// withdrawn.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            ComplaintState::Upheld | ComplaintState::Decided | ComplaintState::Withdrawn
        )
    }

    /// The state after `step`, or `FAILED_PRECONDITION` naming the current state.
    pub fn after(self, step: Step) -> Result<ComplaintState, Error> {
        use ComplaintState::*;
        let next = match (self, step) {
            (Submitted | Returned, Step::StartReview) => Some(UnderReview),
            (UnderReview, Step::Reconsider(Outcome::Upheld)) => Some(Upheld),
            (UnderReview, Step::Reconsider(Outcome::NotUpheld)) => Some(NotUpheld),
            (NotUpheld, Step::Forward) => Some(Forwarded),
            (Forwarded, Step::Decide(Outcome::Returned)) => Some(Returned),
            (Forwarded, Step::Decide(_)) => Some(Decided),
            (state, Step::Withdraw) if state.is_open() => Some(Withdrawn),
            _ => None,
        };
        next.ok_or_else(|| {
            let needs = match step {
                Step::StartReview => "SUBMITTED or RETURNED",
                Step::Reconsider(_) => "UNDER_REVIEW",
                Step::Forward => "NOT_UPHELD",
                Step::Decide(_) => "FORWARDED",
                Step::Withdraw => "an open state",
            };
            Error::FailedPrecondition(format!(
                "the complaint is {}; this needs {needs}",
                self.as_str().to_uppercase()
            ))
        })
    }
}

/// A complaint (klage) that a patient's right to an individual plan, a coordinator or a child
/// coordinator was not met, lodged with the organisation that failed them and, if not upheld
/// there, decided by the county governor (Statsforvalteren).
#[derive(Clone, Debug)]
pub struct Complaint {
    /// Its id.
    pub id: ResourceId,
    /// The organisation complained against.
    pub organisation: OrgNumber,
    /// The patient concerned.
    pub patient: NationalId,
    /// Who filed it.
    pub complainant: Subject,
    /// The complainant's relation to the patient, when filed on their behalf.
    pub representative: Option<RepresentativeRelation>,
    /// What it is about.
    pub kind: ComplaintKind,
    /// The complaint in the complainant's words.
    pub text: String,
    /// The plan concerned, if any.
    pub plan: Option<ResourceId>,
    /// The application for a child coordinator it is about, if any (`child_coordinator`).
    pub application: Option<ResourceId>,
    /// When the complainant learned of the matter.
    pub learned_of: Date,
    /// The deadline computed from it.
    pub deadline: Date,
    /// Whether it was filed after the deadline.
    pub late: bool,
    /// Whether the complainant named the patient's identity number themselves; when they named
    /// the patient by their plan alone, the complaint never shows them the number.
    pub patient_named: bool,
    /// Where it is in its handling.
    pub state: ComplaintState,
    /// The county governor it was forwarded to.
    pub forwarded_to: Option<OrgNumber>,
    /// The county governor's decision.
    pub decision: Option<Outcome>,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was filed.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

/// What it takes to file a complaint, validated.
#[derive(Clone, Debug)]
pub struct NewComplaint {
    /// The organisation complained against.
    pub organisation: OrgNumber,
    /// The patient concerned; `None` when the plan named in the complaint names them, which
    /// the caller resolves (`resolve_patient`) before storing it.
    pub patient: Option<NationalId>,
    /// Whether the complainant named the patient's identity number themselves.
    pub patient_named: bool,
    /// The complainant's relation to the patient, when filing on their behalf.
    pub representative: Option<RepresentativeRelation>,
    /// What it is about.
    pub kind: ComplaintKind,
    /// The complaint text.
    pub text: String,
    /// The plan concerned, if any.
    pub plan: Option<ResourceId>,
    /// The application for a child coordinator it is about, if any.
    pub application: Option<ResourceId>,
    /// When the complainant learned of the matter.
    pub learned_of: Date,
}

impl NewComplaint {
    /// The deadline for this complaint and whether filing it `today` is late.
    pub fn deadline(&self, today: Date) -> (Date, bool) {
        let deadline = self.learned_of.plus_days(DEADLINE_DAYS);
        (deadline, today > deadline)
    }
}

impl Complaint {
    /// The patient's identity number as `viewer` may see it: the patient, those who handle the
    /// complaint by role, and a representative who complained naming it see it; one who named
    /// the patient by their plan alone never learns it here.
    pub fn patient_shown_to(&self, viewer: &Principal) -> Option<&NationalId> {
        let complainant_only =
            viewer.is(&self.complainant) && viewer.national_id.as_ref() != Some(&self.patient);
        (!complainant_only || self.patient_named).then_some(&self.patient)
    }
}

/// A subject on a complaint as `viewer` may see it: a citizen's identity number only to that
/// citizen themselves. The patient concerned sees who complained on their behalf by relation,
/// not by number; handlers see the patient, whose case it is.
pub fn subject_shown_to(subject: &Subject, viewer: &Principal) -> String {
    super::subject::shown_subject(subject.as_stored(), viewer.is(subject))
}

/// Whom a complaint is filed for, as the request says it: `None` when the patient files for
/// themselves, or the patient's identity number (empty when a plan the complaint names says
/// who) and the filer's relation to them.
#[derive(Debug, Clone, Copy)]
pub struct OnBehalfOf<'a> {
    /// The patient's identity number, or empty.
    pub patient_id: &'a str,
    /// The filer's relation to the patient; `None` when unspecified.
    pub relation: Option<RepresentativeRelation>,
}

/// The patient and the representative's relation of a complaint filed by `filer` (whose own
/// identity number is `own`), every violation named: a patient files for themselves; one who
/// files for another says how they relate, and may leave the patient to a plan they name, but
/// may not name themselves.
#[allow(clippy::type_complexity)]
pub fn filed_for(
    own: Option<&NationalId>,
    on_behalf: Option<OnBehalfOf<'_>>,
) -> (
    Result<Option<NationalId>, FieldViolation>,
    Option<Result<RepresentativeRelation, FieldViolation>>,
) {
    let Some(behalf) = on_behalf else {
        let own = own.cloned().map(Some).ok_or_else(|| {
            FieldViolation::new(
                "on_behalf_of",
                "must be set unless the patient files for themselves",
            )
        });
        return (own, None);
    };
    let relation =
        behalf.relation.ok_or_else(|| FieldViolation::new("on_behalf_of.relation", "must be set"));
    if behalf.patient_id.is_empty() {
        return (Ok(None), Some(relation));
    }
    let field = "on_behalf_of.patient_id";
    let patient = NationalId::parse(field, behalf.patient_id).and_then(|p| {
        if Some(&p) == own {
            Err(FieldViolation::new(field, "is your own: file without on_behalf_of"))
        } else {
            Ok(Some(p))
        }
    });
    (patient, Some(relation))
}

/// Checks the parts of a complaint a request carries; the api gathers field names.
pub struct ComplaintInput<'a> {
    /// The organisation number complained against.
    pub organisation: &'a str,
    /// The kind, `None` when unspecified or unknown.
    pub kind: Option<ComplaintKind>,
    /// The text.
    pub text: &'a str,
    /// The plan concerned, when the request named one.
    pub plan: Option<Result<ResourceId, FieldViolation>>,
    /// The application for a child coordinator concerned, when the request named one.
    pub application: Option<Result<ResourceId, FieldViolation>>,
    /// When the complainant learned of the matter.
    pub learned_of: Option<Result<Date, FieldViolation>>,
    /// The patient: the caller's own number, or the one given on their behalf; `Ok(None)` when
    /// a representative leaves it to the plan they name.
    pub patient: Result<Option<NationalId>, FieldViolation>,
    /// The representative's relation, when filing on behalf.
    pub representative: Option<Result<RepresentativeRelation, FieldViolation>>,
}

impl ComplaintInput<'_> {
    /// Validates every part, reporting all violations at once, with `today` bounding
    /// `learned_of`.
    pub fn parse(self, today: Date) -> Result<NewComplaint, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let organisation = v.check(OrgNumber::parse("complaint.organisation", self.organisation));
        let kind =
            v.check(self.kind.ok_or_else(|| FieldViolation::new("complaint.kind", "must be set")));
        let text = v.check(long_text("complaint.text", self.text, Required));
        let plan = match self.plan {
            None => Some(None),
            Some(plan) => v.check(plan).map(Some),
        };
        let learned_of = match self.learned_of {
            None => {
                v.push(FieldViolation::new("complaint.learned_of", "must be set"));
                None
            }
            Some(Ok(date)) if date > today => {
                v.push(FieldViolation::new("complaint.learned_of", "must not be in the future"));
                None
            }
            Some(date) => v.check(date),
        };
        if kind == Some(ComplaintKind::NoPlanOffered) && matches!(plan, Some(Some(_))) {
            v.push(FieldViolation::new(
                "complaint.plan",
                "must be empty for a complaint that no plan was offered",
            ));
        }
        let application = match self.application {
            None => Some(None),
            Some(application) => v.check(application).map(Some),
        };
        if matches!(application, Some(Some(_))) {
            // The right to a child coordinator is the parents' own (pasient- og
            // brukerrettighetsloven § 2-5 c): the applicant complains for themselves.
            let field = "complaint.child_coordinator_application";
            if kind.is_some_and(|k| k != ComplaintKind::NoChildCoordinator) {
                let what = "is only for a complaint of COMPLAINT_KIND_NO_CHILD_COORDINATOR";
                v.push(FieldViolation::new(field, what));
            }
            if matches!(plan, Some(Some(_))) {
                let what = "must be empty when the complaint names an application";
                v.push(FieldViolation::new("complaint.plan", what));
            }
            if self.representative.is_some() {
                let what = "must be empty: the right to a child coordinator is the parents' own, \
                            and the applicant complains for themselves";
                v.push(FieldViolation::new("on_behalf_of", what));
            }
        }
        let patient = v.check(self.patient);
        if matches!(patient, Some(None)) && !matches!(plan, Some(Some(_))) {
            v.push(FieldViolation::new(
                "on_behalf_of.patient_id",
                "must be set unless complaint.plan names the patient's plan",
            ));
        }
        let representative = match self.representative {
            None => Some(None),
            Some(r) => v.check(r).map(Some),
        };
        let what = organisation.zip(kind).zip(text).zip(plan.zip(application)).zip(learned_of);
        let who = patient.zip(representative);
        let (
            ((((organisation, kind), text), (plan, application)), learned_of),
            (patient, representative),
        ) = v.into_result(what.zip(who))?;
        Ok(NewComplaint {
            organisation,
            patient_named: patient.is_some(),
            patient,
            representative,
            kind,
            text,
            plan,
            application,
            learned_of,
        })
    }
}

impl NewComplaint {
    /// Settles who the patient is, given the patient of the plan the complaint names when the
    /// request named one (`None` when it named none) and whether the caller may see that
    /// plan's identity numbers. A caller who may not is told the same whatever number they gave,
    /// so a complaint never tells them whose plan it is.
    pub fn resolve_patient(
        &mut self,
        plan_patient: Option<&NationalId>,
        may_see_identities: bool,
    ) -> Result<NationalId, Error> {
        match (&self.patient, plan_patient) {
            (None, Some(of_plan)) => self.patient = Some(of_plan.clone()),
            // A complainant for themselves naming another's plan: they complain on its
            // patient's behalf, which `on_behalf_of` says (with only the relation).
            (Some(_), Some(_)) if !may_see_identities && self.representative.is_none() => {
                return Err(Error::invalid(
                    "on_behalf_of",
                    "must be set when complaint.plan is another's plan: give the relation to \
                     its patient, and no patient_id",
                ));
            }
            (Some(_), Some(_)) if !may_see_identities => {
                return Err(Error::invalid(
                    "on_behalf_of.patient_id",
                    "must be empty when complaint.plan is set: the plan names the patient",
                ));
            }
            (Some(given), Some(of_plan)) if given != of_plan => {
                return Err(Error::invalid(
                    "complaint.plan",
                    "must be a plan of the patient the complaint concerns",
                ));
            }
            _ => {}
        }
        self.patient
            .clone()
            .ok_or_else(|| Error::internal("a complaint's patient was not resolved"))
    }
}

/// Validates a free text of at most `MAX_TEXT` characters; `required` forbids a blank one.
/// Returns it trimmed.
pub fn long_text(field: &str, value: &str, required: Presence) -> Result<String, FieldViolation> {
    super::text::bounded(field, value, MAX_TEXT, required)
}

/// One step of a complaint's history.
#[derive(Clone, Debug)]
pub struct ComplaintEvent {
    /// When.
    pub time: Instant,
    /// Who.
    pub actor: Subject,
    /// The organisation they acted for.
    pub actor_organisation: Option<OrgNumber>,
    /// The state before; `None` for the filing.
    pub from: Option<ComplaintState>,
    /// The state after.
    pub to: ComplaintState,
    /// What was done, or the reasons.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintState::*;

    #[test]
    fn the_state_machine() {
        assert_eq!(Submitted.after(Step::StartReview).unwrap(), UnderReview);
        assert_eq!(Returned.after(Step::StartReview).unwrap(), UnderReview);
        assert_eq!(UnderReview.after(Step::Reconsider(Outcome::Upheld)).unwrap(), Upheld);
        assert_eq!(UnderReview.after(Step::Reconsider(Outcome::NotUpheld)).unwrap(), NotUpheld);
        assert_eq!(NotUpheld.after(Step::Forward).unwrap(), Forwarded);
        assert_eq!(Forwarded.after(Step::Decide(Outcome::Returned)).unwrap(), Returned);
        assert_eq!(Forwarded.after(Step::Decide(Outcome::Upheld)).unwrap(), Decided);
        for open in [Submitted, UnderReview, NotUpheld, Forwarded, Returned] {
            assert_eq!(open.after(Step::Withdraw).unwrap(), Withdrawn);
        }
        for closed in [Upheld, Decided, Withdrawn] {
            assert!(closed.after(Step::Withdraw).is_err());
        }
        let Err(Error::FailedPrecondition(message)) = Upheld.after(Step::Forward) else {
            panic!("forwarding an upheld complaint must fail");
        };
        assert!(message.contains("UPHELD"));
        assert!(Submitted.after(Step::Decide(Outcome::Upheld)).is_err());
        assert!(UnderReview.after(Step::Reconsider(Outcome::Returned)).is_err());
    }

    #[test]
    fn deadline_is_four_weeks() {
        let learned = Date::new(2026, 10, 1).unwrap();
        let new = NewComplaint {
            organisation: OrgNumber::parse("", "910000004").unwrap(),
            patient: Some(crate::domain::national_id::synthetic_for_tests(0)),
            patient_named: true,
            representative: None,
            kind: ComplaintKind::Other,
            text: "x".into(),
            plan: None,
            application: None,
            learned_of: learned,
        };
        let (deadline, late) = new.deadline(Date::new(2026, 10, 29).unwrap());
        assert_eq!(deadline.to_string(), "2026-10-29");
        assert!(!late);
        assert!(new.deadline(Date::new(2026, 10, 30).unwrap()).1);
    }
}
