//! Goals (mål): what the patient wants to reach, in their own words, prioritised.

use super::date::{Date, DateInput};
use super::error::Violations;
use super::ids::ResourceId;
use super::text::{Presence, Required, bounded};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

stored_enum! {
    /// Where a goal stands.
    GoalStatus { Proposed = "proposed", Agreed = "agreed", Achieved = "achieved", Dropped = "dropped" }
}

/// The longest goal text accepted, in characters.
pub const MAX_GOAL_TEXT: usize = 2000;
/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 1000;

/// A goal (mål) of a plan, in the patient's own words.
#[derive(Clone, Debug)]
pub struct Goal {
    /// The goal's id.
    pub id: ResourceId,
    /// The plan it belongs to.
    pub plan: ResourceId,
    /// The patient's words.
    pub text: String,
    /// 1 is most important.
    pub priority: i32,
    /// Where it stands.
    pub status: GoalStatus,
    /// When it should be reached.
    pub target_date: Option<Date>,
    /// Its trail of proposals and changes, oldest first.
    pub adjustments: Vec<GoalAdjustment>,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

/// One step in a goal's trail.
#[derive(Clone, Debug, Default)]
pub struct GoalAdjustment {
    /// When.
    pub time: Instant,
    /// Who (a stored subject).
    pub author: String,
    /// Their relations to the plan then.
    pub author_relations: String,
    /// Why.
    pub reason: String,
    /// A proposal's wording.
    pub proposed_text: String,
    /// The words before a change.
    pub previous_text: String,
    /// The words after a change.
    pub new_text: String,
    /// The status before a change.
    pub previous_status: Option<GoalStatus>,
    /// The status after a change.
    pub new_status: Option<GoalStatus>,
}

/// Validates a goal's text.
pub fn goal_text(field: &str, text: &str) -> Result<String, FieldViolation> {
    bounded(field, text, MAX_GOAL_TEXT, Required)
}

/// Validates a goal's priority.
pub fn priority(field: &str, priority: i32) -> Result<i32, FieldViolation> {
    if (1..=100).contains(&priority) {
        Ok(priority)
    } else {
        Err(FieldViolation::new(field, "must be between 1 (most important) and 100"))
    }
}

/// Validates a reason.
pub fn reason(field: &str, text: &str, required: Presence) -> Result<String, FieldViolation> {
    bounded(field, text, MAX_REASON, required)
}

/// What it takes to propose a goal, validated.
#[derive(Clone, Debug)]
pub struct NewGoal {
    /// The patient's words.
    pub text: String,
    /// Its priority.
    pub priority: i32,
    /// When it should be reached.
    pub target_date: Option<Date>,
}

impl NewGoal {
    /// Validates every field; names them under `goal`.
    pub fn parse(
        text: &str,
        priority_value: i32,
        target_date: DateInput,
    ) -> Result<NewGoal, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let text = v.check(goal_text("goal.text", text));
        let priority = v.check(priority("goal.priority", priority_value));
        let target_date = target_date.and_then(|d| v.check(d));
        let (text, priority) = v.into_result(text.zip(priority))?;
        Ok(NewGoal { text, priority, target_date })
    }
}

/// A validated change to a goal: the fields an update mask named, with their new values.
#[derive(Clone, Debug, Default)]
pub struct GoalPatch {
    /// New words.
    pub text: Option<String>,
    /// New priority.
    pub priority: Option<i32>,
    /// New status.
    pub status: Option<GoalStatus>,
    /// New target date; `Some(None)` clears it.
    pub target_date: Option<Option<Date>>,
    /// Why.
    pub reason: String,
}

impl GoalPatch {
    /// Applies the patch to `goal`, adding a step to its trail when the words or the status
    /// change.
    pub fn apply(&self, goal: &mut Goal, author: &str, relations: &str, now: Instant) {
        let mut step = GoalAdjustment {
            time: now,
            author: author.to_owned(),
            author_relations: relations.to_owned(),
            reason: self.reason.clone(),
            ..GoalAdjustment::default()
        };
        let mut trail = false;
        if let Some(text) = &self.text
            && *text != goal.text
        {
            step.previous_text = std::mem::replace(&mut goal.text, text.clone());
            step.new_text = text.clone();
            trail = true;
        }
        if let Some(status) = self.status
            && status != goal.status
        {
            step.previous_status = Some(goal.status);
            step.new_status = Some(status);
            goal.status = status;
            trail = true;
        }
        if let Some(priority) = self.priority {
            goal.priority = priority;
        }
        if let Some(target_date) = self.target_date {
            goal.target_date = target_date;
        }
        if trail {
            goal.adjustments.push(step);
        }
        goal.revision += 1;
        goal.update_time = now;
    }
}
