//! Measures (tiltak): what is to be done for a goal, by whom and when, and how it went.

use super::date::{Date, DateInput};
use super::ids::ResourceId;
use super::names::{goal_name, member_name, same_plan};
use super::text::{Optional, Required, bounded, line};
use super::time::Instant;
use super::{FieldViolation, Violations, stored_enum};

stored_enum! {
    /// Where a measure stands.
    MeasureStatus { Planned = "planned", Ongoing = "ongoing", Done = "done", Cancelled = "cancelled" }
}

/// The longest measure description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// The longest frequency accepted, in characters.
pub const MAX_FREQUENCY: usize = 200;
/// The longest evaluation accepted, in characters.
pub const MAX_EVALUATION: usize = 2_000;

/// A measure (tiltak) of a plan, serving one of its goals, with one responsible member.
#[derive(Clone, Debug)]
pub struct Measure {
    /// The measure's id.
    pub id: ResourceId,
    /// The plan it belongs to.
    pub plan: ResourceId,
    /// The goal it serves.
    pub goal: ResourceId,
    /// What is to be done.
    pub description: String,
    /// The membership responsible for it.
    pub responsible_member: ResourceId,
    /// From when.
    pub start_date: Option<Date>,
    /// To when.
    pub end_date: Option<Date>,
    /// How often, in words.
    pub frequency: String,
    /// Where it stands.
    pub status: MeasureStatus,
    /// Its evaluations, oldest first.
    pub evaluations: Vec<Evaluation>,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

/// An evaluation of how a measure went.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The date evaluated.
    pub date: Date,
    /// What was found.
    pub text: String,
    /// Who wrote it (a stored subject).
    pub author: String,
    /// Their relations to the plan then.
    pub author_relations: String,
    /// When it was written.
    pub time: Instant,
}

/// Validates a description.
pub fn description(field: &str, text: &str) -> Result<String, FieldViolation> {
    bounded(field, text, MAX_DESCRIPTION, Required)
}

/// Validates a frequency.
pub fn frequency(field: &str, text: &str) -> Result<String, FieldViolation> {
    line(field, text, MAX_FREQUENCY, Optional)
}

/// Validates an evaluation's text.
pub fn evaluation_text(field: &str, text: &str) -> Result<String, FieldViolation> {
    bounded(field, text, MAX_EVALUATION, Required)
}

/// Checks that a period's end is not before its start.
pub fn check_period(
    field: &str,
    start: Option<Date>,
    end: Option<Date>,
) -> Result<(), FieldViolation> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => {
            Err(FieldViolation::new(field, "must not be before start_date"))
        }
        _ => Ok(()),
    }
}

/// A validated change to a measure: the fields an update mask named, with their new values.
/// Goal and responsible member are checked against the plan by the store.
#[derive(Clone, Debug, Default)]
pub struct MeasurePatch {
    /// New goal.
    pub goal: Option<ResourceId>,
    /// New description.
    pub description: Option<String>,
    /// New responsible member.
    pub responsible_member: Option<ResourceId>,
    /// New start date; `Some(None)` clears it.
    pub start_date: Option<Option<Date>>,
    /// New end date; `Some(None)` clears it.
    pub end_date: Option<Option<Date>>,
    /// New frequency.
    pub frequency: Option<String>,
    /// New status.
    pub status: Option<MeasureStatus>,
}

impl MeasurePatch {
    /// Applies the patch, checking that the resulting period is in order.
    pub fn apply(&self, measure: &mut Measure, now: Instant) -> Result<(), FieldViolation> {
        let start = self.start_date.unwrap_or(measure.start_date);
        let end = self.end_date.unwrap_or(measure.end_date);
        check_period("measure.end_date", start, end)?;
        measure.start_date = start;
        measure.end_date = end;
        if let Some(goal) = self.goal {
            measure.goal = goal;
        }
        if let Some(d) = &self.description {
            measure.description = d.clone();
        }
        if let Some(m) = self.responsible_member {
            measure.responsible_member = m;
        }
        if let Some(f) = &self.frequency {
            measure.frequency = f.clone();
        }
        if let Some(s) = self.status {
            measure.status = s;
        }
        measure.revision += 1;
        measure.update_time = now;
        Ok(())
    }
}

/// What it takes to add a measure, validated. Goal and responsible member are checked against
/// the plan by the store.
#[derive(Clone, Debug)]
pub struct NewMeasure {
    /// The goal it serves.
    pub goal: ResourceId,
    /// What is to be done.
    pub description: String,
    /// The membership responsible.
    pub responsible_member: ResourceId,
    /// From when.
    pub start_date: Option<Date>,
    /// To when.
    pub end_date: Option<Date>,
    /// How often.
    pub frequency: String,
}

impl NewMeasure {
    /// Validates a new measure of `plan` from its fields (`goal` and `responsible_member` as
    /// resource names of that plan, the dates as read from the wire), naming every violation
    /// under `measure.`.
    pub fn parse(
        plan: ResourceId,
        goal: &str,
        description_text: &str,
        responsible_member: &str,
        (start_date, end_date): (DateInput, DateInput),
        frequency_text: &str,
    ) -> Result<NewMeasure, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let description = v.check(description("measure.description", description_text));
        let frequency = v.check(frequency("measure.frequency", frequency_text));
        let start = v.check(start_date.transpose());
        let end = v.check(end_date.transpose());
        if let (Some(start), Some(end)) = (start, end) {
            v.check(check_period("measure.end_date", start, end));
        }
        let goal = v.check(same_plan("measure.goal", plan, goal_name("measure.goal", goal)));
        let field = "measure.responsible_member";
        let responsible = v.check(same_plan(field, plan, member_name(field, responsible_member)));
        let parts = description.zip(frequency).zip(start.zip(end)).zip(goal.zip(responsible));
        let (((description, frequency), (start_date, end_date)), (goal, responsible_member)) =
            v.into_result(parts)?;
        Ok(NewMeasure { goal, description, responsible_member, start_date, end_date, frequency })
    }
}
