//! How much one plan holds at most. A plan is read whole (GetPlan, the export, each history
//! revision), so what it holds bounds the cost of every read and the size of every answer; the
//! caps are documented on the proto fields they apply to. A plan that is full answers
//! `FAILED_PRECONDITION`, naming what it holds the most of.

use super::Error;

/// What a plan holds a bounded number of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// Goals of the plan.
    Goals,
    /// Measures of the plan.
    Measures,
    /// Evaluations of the plan's measures.
    Evaluations,
    /// Steps of the trails of the plan's goals (proposals and changes of their words).
    Adjustments,
    /// Current members of the group (ended ones are history and do not count).
    Members,
    /// Meetings of the group.
    Meetings,
    /// Blocks in force (lifted ones are history and do not count).
    Blocks,
    /// Access scopes, lapsed ones included (they still keep their member out).
    Scopes,
}

impl Holding {
    /// The most the plan holds. With the longest texts each takes, a whole plan (what GetPlan
    /// answers and the export prints) stays within a few million characters.
    pub fn cap(self) -> i64 {
        match self {
            Holding::Goals => 50,
            Holding::Measures => 100,
            Holding::Evaluations => 500,
            Holding::Adjustments => 200,
            Holding::Members => 100,
            Holding::Meetings => 500,
            Holding::Blocks => 100,
            Holding::Scopes => 100,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Holding::Goals => "goals",
            Holding::Measures => "measures",
            Holding::Evaluations => "evaluations of its measures",
            Holding::Adjustments => "steps in its goals' trails",
            Holding::Members => "current members",
            Holding::Meetings => "meetings",
            Holding::Blocks => "blocks in force",
            Holding::Scopes => "access scopes",
        }
    }

    /// `FAILED_PRECONDITION` when `held` leaves no room for one more.
    pub fn check_room(self, held: i64) -> Result<(), Error> {
        if held < self.cap() {
            Ok(())
        } else {
            Err(Error::FailedPrecondition(format!(
                "the plan is full: it holds at most {} {}",
                self.cap(),
                self.what()
            )))
        }
    }
}
