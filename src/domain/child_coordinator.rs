//! A family's application for a child coordinator (barnekoordinator): families who have, or
//! are expecting, a child with a serious illness, injury or disability that needs long-term,
//! coordinated services have the right to one (pasient- og brukerrettighetsloven § 2-5 c; the
//! municipality's duty, helse- og omsorgstjenesteloven § 7-2 a).
//!
//! The application is its own record, not a relation: applying gives the parent no access to
//! any plan. A child who is expected has no identity number yet, so the application names the
//! expected date of birth instead, and the number is recorded when the municipality accepts it
//! once the child is born. The coordinator it chooses is appointed on the child's plan
//! (`coordinator::CoordinatorKind::Child`) once the child has a number; until then the
//! application is the coordinator-only record.

use super::coordinator::NewAssignment;
use super::date::Date;
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::plan::display_text;
use super::subject::Subject;
use super::text::{Optional, Required, bounded};
use super::time::Instant;
use super::{Error, FieldViolation, Violations, stored_enum};

stored_enum! {
    /// Where an application stands.
    ApplicationState { Submitted = "submitted", Accepted = "accepted", Declined = "declined" }
}

/// The longest a family may apply ahead of an expected birth, in days: a pregnancy's length.
pub const MOST_DAYS_BEFORE_BIRTH: i64 = 300;

/// The most applications a citizen may have waiting for an answer at once.
pub const MOST_SUBMITTED_PER_APPLICANT: i64 = 20;

/// The longest a family's description of their needs may be, in characters.
const MAX_NEEDS: usize = 2000;

/// Which child an application is for: one with an identity number, or one expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Child {
    /// A child with a national identity number (or D-number).
    Born(NationalId),
    /// A child not yet born, due on this date.
    Expected(Date),
}

/// An application for a child coordinator, as kept.
#[derive(Clone, Debug)]
pub struct Application {
    /// Its id.
    pub id: ResourceId,
    /// The municipality applied to.
    pub municipality: OrgNumber,
    /// The child.
    pub child: Child,
    /// The child's name as the family gives it; may be empty.
    pub child_display_name: String,
    /// What the family needs help to coordinate.
    pub needs: String,
    /// The parent who applied.
    pub applicant: Subject,
    /// Their name as shown.
    pub applicant_display_name: String,
    /// Where it stands.
    pub state: ApplicationState,
    /// The child's plan the coordinator is appointed on, once appointed.
    pub plan: Option<ResourceId>,
    /// The appointment on that plan, once made.
    pub assignment: Option<ResourceId>,
    /// The coordinator chosen on acceptance.
    pub coordinator: Option<NewAssignment>,
    /// The municipality's comment or reason.
    pub response: String,
    /// Increases with every answer.
    pub revision: i64,
    /// When it was submitted.
    pub create_time: Instant,
    /// When the municipality last answered.
    pub response_time: Option<Instant>,
}

impl Application {
    /// `FAILED_PRECONDITION` unless the application can still be answered: submitted, or
    /// accepted for a child who was expected and now has `child` as their identity number.
    pub fn check_answerable(&self, born: Option<&NationalId>) -> Result<(), Error> {
        match (self.state, &self.child, self.plan) {
            (ApplicationState::Submitted, _, _) => Ok(()),
            (ApplicationState::Declined, _, _) => {
                Err(Error::FailedPrecondition("the application was declined".into()))
            }
            (ApplicationState::Accepted, _, Some(_)) => Err(Error::FailedPrecondition(
                "the application is accepted and the child coordinator appointed".into(),
            )),
            (ApplicationState::Accepted, Child::Expected(_), None) if born.is_none() => {
                Err(Error::FailedPrecondition(
                    "the application is accepted for an expected child: give child_id once the \
                     child has an identity number, to appoint the coordinator on their plan"
                        .into(),
                ))
            }
            (ApplicationState::Accepted, _, None) => Ok(()),
        }
    }
}

/// An application as a request asks for it, every field checked.
#[derive(Clone, Debug)]
pub struct NewApplication {
    /// The municipality applied to.
    pub municipality: OrgNumber,
    /// The child.
    pub child: Child,
    /// The child's name; may be empty.
    pub child_display_name: String,
    /// What the family needs.
    pub needs: String,
    /// The applicant's name as shown.
    pub applicant_display_name: String,
}

/// The fields of an application as a request gives them.
#[derive(Clone, Debug)]
pub struct ApplicationInput<'a> {
    /// The municipality's number.
    pub municipality: &'a str,
    /// The child's identity number, or empty.
    pub child_id: &'a str,
    /// The child's name, or empty.
    pub child_display_name: &'a str,
    /// The expected date of birth, when given: a date, or the violation of a malformed one.
    pub expected_birth_date: Option<Result<Date, FieldViolation>>,
    /// The family's needs.
    pub needs: &'a str,
    /// The applicant's name.
    pub applicant_display_name: &'a str,
}

impl NewApplication {
    /// Checks every field, naming each violation under `application.`: a municipality number;
    /// exactly one of a child under 18 on `today` and an expected date of birth from `today`
    /// to `MOST_DAYS_BEFORE_BIRTH` days ahead; the family's needs; the applicant's name.
    pub fn parse(input: ApplicationInput, today: Date) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let municipality =
            v.check(OrgNumber::parse("application.municipality", input.municipality));
        let child = match (input.child_id, input.expected_birth_date) {
            (_, Some(Err(malformed))) => {
                v.push(malformed);
                None
            }
            ("", None) => {
                let what = "name the child, or the expected date of birth of a child not yet born";
                v.push(FieldViolation::new("application.child_id", what));
                None
            }
            ("", Some(Ok(due))) => {
                let latest = today.plus_days(MOST_DAYS_BEFORE_BIRTH);
                if due < today || due > latest {
                    let what = format!(
                        "must be from today to {MOST_DAYS_BEFORE_BIRTH} days ahead: a child \
                         already born is named by child_id"
                    );
                    v.push(FieldViolation::new("application.expected_birth_date", what));
                    None
                } else {
                    Some(Child::Expected(due))
                }
            }
            (id, None) => v.check(child_id("application.child_id", id, today)).map(Child::Born),
            (_, Some(Ok(_))) => {
                let what = "is only for a child not yet born: leave it empty with child_id";
                v.push(FieldViolation::new("application.expected_birth_date", what));
                None
            }
        };
        let child_display_name = v.check(bounded(
            "application.child_display_name",
            input.child_display_name,
            200,
            Optional,
        ));
        let needs = v.check(bounded("application.needs", input.needs, MAX_NEEDS, Required));
        let applicant = v.check(display_text(
            "application.applicant_display_name",
            input.applicant_display_name,
        ));
        let parts = municipality.zip(child).zip(child_display_name).zip(needs).zip(applicant);
        let ((((municipality, child), child_display_name), needs), applicant_display_name) =
            v.into_result(parts)?;
        Ok(NewApplication {
            municipality,
            child,
            child_display_name,
            needs,
            applicant_display_name,
        })
    }
}

/// Checks a child's identity number: valid, and of a child under 18 on `today`.
pub fn child_id(field: &str, id: &str, today: Date) -> Result<NationalId, FieldViolation> {
    let id = NationalId::parse(field, id)?;
    if id.age_on(today) >= 18 {
        return Err(FieldViolation::new(field, "must be a child's: under 18"));
    }
    Ok(id)
}
