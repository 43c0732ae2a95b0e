//! A plan's content in one statement: all its goals with their trails and all its measures
//! with their evaluations, as GetPlan, the export and the history need it.

use sqlx::Row;

use super::goals::{adjustment_from_row, goal_from_row};
use super::measures::{evaluation_from_row, measure_from_row};
use super::{Run, Session, db};
use crate::auth::PlanPass;
use crate::domain::Result;
use crate::domain::goal::Goal;
use crate::domain::measure::Measure;

// The four kinds of row share one column list, each column named as the row decoders of
// `goals.rs` and `measures.rs` read it, NULL where a kind has no such column; `kind` tells
// them apart ('a' adjustment, 'e' evaluation, 'g' goal, 'm' measure) and orders them with
// their ids, which are time-ordered UUIDv7s.
macro_rules! content_branch {
    ($kind:literal, $table:literal, [$($column:expr),+ $(,)?]) => {
        concat!(
            "SELECT '", $kind, "' AS kind",
            $(", ", $column),+,
            " FROM ", $table, " WHERE plan_id = $1"
        )
    };
}

const CONTENT_QUERY: &str = concat!(
    content_branch!(
        "g",
        "goals",
        [
            "id",
            "plan_id",
            "CAST(NULL AS TEXT) AS goal_id",
            "CAST(NULL AS TEXT) AS measure_id",
            "text",
            "priority",
            "status",
            "target_date",
            "revision",
            "create_time",
            "update_time",
            "CAST(NULL AS TEXT) AS author",
            "CAST(NULL AS TEXT) AS author_relations",
            "CAST(NULL AS TEXT) AS reason",
            "CAST(NULL AS TEXT) AS proposed_text",
            "CAST(NULL AS TEXT) AS previous_text",
            "CAST(NULL AS TEXT) AS new_text",
            "CAST(NULL AS TEXT) AS previous_status",
            "CAST(NULL AS TEXT) AS new_status",
            "CAST(NULL AS TEXT) AS description",
            "CAST(NULL AS TEXT) AS responsible_member_id",
            "CAST(NULL AS TEXT) AS start_date",
            "CAST(NULL AS TEXT) AS end_date",
            "CAST(NULL AS TEXT) AS frequency",
            "CAST(NULL AS TEXT) AS date",
        ]
    ),
    " UNION ALL ",
    content_branch!(
        "a",
        "goal_adjustments",
        [
            "id",
            "plan_id",
            "goal_id",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS BIGINT)",
            "create_time",
            "CAST(NULL AS BIGINT)",
            "author",
            "author_relations",
            "reason",
            "proposed_text",
            "previous_text",
            "new_text",
            "previous_status",
            "new_status",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
        ]
    ),
    " UNION ALL ",
    content_branch!(
        "m",
        "measures",
        [
            "id",
            "plan_id",
            "goal_id",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS BIGINT)",
            "status",
            "CAST(NULL AS TEXT)",
            "revision",
            "create_time",
            "update_time",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "description",
            "responsible_member_id",
            "start_date",
            "end_date",
            "frequency",
            "CAST(NULL AS TEXT)",
        ]
    ),
    " UNION ALL ",
    content_branch!(
        "e",
        "measure_evaluations",
        [
            "id",
            "plan_id",
            "CAST(NULL AS TEXT)",
            "measure_id",
            "text",
            "CAST(NULL AS BIGINT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS BIGINT)",
            "create_time",
            "CAST(NULL AS BIGINT)",
            "author",
            "author_relations",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "CAST(NULL AS TEXT)",
            "date",
        ]
    ),
    " ORDER BY kind, id"
);

impl Session {
    /// All goals and all measures of the plan `pass` is for, oldest first, each with its trail,
    /// in one statement.
    #[tracing::instrument(skip_all)]
    pub async fn plan_content(&mut self, pass: &PlanPass) -> Result<(Vec<Goal>, Vec<Measure>)> {
        let rows = sqlx::query(CONTENT_QUERY).bind(pass.id().to_string()).all(self).await?;
        let (mut goals, mut measures) = (Vec::new(), Vec::new());
        let (mut steps, mut evaluations) = (Vec::new(), Vec::new());
        for row in &rows {
            match row.try_get::<String, _>("kind").map_err(db)?.as_str() {
                "g" => goals.push(goal_from_row(row)?),
                "m" => measures.push(measure_from_row(row)?),
                "a" => steps.push(adjustment_from_row(row)?),
                _ => evaluations.push(evaluation_from_row(row)?),
            }
        }
        for (goal, step) in steps {
            if let Some(g) = goals.iter_mut().find(|g: &&mut Goal| g.id == goal) {
                g.adjustments.push(step);
            }
        }
        for (measure, evaluation) in evaluations {
            if let Some(m) = measures.iter_mut().find(|m: &&mut Measure| m.id == measure) {
                m.evaluations.push(evaluation);
            }
        }
        Ok((goals, measures))
    }
}
