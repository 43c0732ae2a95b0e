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

/// The columns every kind of row has, named as the row decoders of `goals.rs` and `measures.rs`
/// read them, with the type of each.
const COLUMNS: [(&str, &str); 25] = [
    ("id", "TEXT"),
    ("plan_id", "TEXT"),
    ("goal_id", "TEXT"),
    ("measure_id", "TEXT"),
    ("text", "TEXT"),
    ("priority", "BIGINT"),
    ("status", "TEXT"),
    ("target_date", "TEXT"),
    ("revision", "BIGINT"),
    ("create_time", "BIGINT"),
    ("update_time", "BIGINT"),
    ("author", "TEXT"),
    ("author_relations", "TEXT"),
    ("reason", "TEXT"),
    ("proposed_text", "TEXT"),
    ("previous_text", "TEXT"),
    ("new_text", "TEXT"),
    ("previous_status", "TEXT"),
    ("new_status", "TEXT"),
    ("description", "TEXT"),
    ("responsible_member_id", "TEXT"),
    ("start_date", "TEXT"),
    ("end_date", "TEXT"),
    ("frequency", "TEXT"),
    ("date", "TEXT"),
];

/// Each kind of row: its tag, its table, and the columns of `COLUMNS` it holds.
const KINDS: [(&str, &str, &[&str]); 4] = [
    (
        "g",
        "goals",
        &[
            "id",
            "plan_id",
            "text",
            "priority",
            "status",
            "target_date",
            "revision",
            "create_time",
            "update_time",
        ],
    ),
    (
        "a",
        "goal_adjustments",
        &[
            "id",
            "plan_id",
            "goal_id",
            "create_time",
            "author",
            "author_relations",
            "reason",
            "proposed_text",
            "previous_text",
            "new_text",
            "previous_status",
            "new_status",
        ],
    ),
    (
        "m",
        "measures",
        &[
            "id",
            "plan_id",
            "goal_id",
            "status",
            "revision",
            "create_time",
            "update_time",
            "description",
            "responsible_member_id",
            "start_date",
            "end_date",
            "frequency",
        ],
    ),
    (
        "e",
        "measure_evaluations",
        &[
            "id",
            "plan_id",
            "measure_id",
            "text",
            "create_time",
            "author",
            "author_relations",
            "date",
        ],
    ),
];

/// The four kinds of row in one column list, NULL where a kind has no such column; `kind`
/// tells them apart ('a' adjustment, 'e' evaluation, 'g' goal, 'm' measure) and orders them
/// with their ids, which are time-ordered UUIDv7s. Built once.
static CONTENT_QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let branches: Vec<String> = KINDS
        .iter()
        .map(|(kind, table, held)| {
            let columns: Vec<String> = COLUMNS
                .iter()
                .map(|(name, ty)| match held.contains(name) {
                    true => format!("{name} AS {name}"),
                    false => format!("CAST(NULL AS {ty}) AS {name}"),
                })
                .collect();
            format!(
                "SELECT '{kind}' AS kind, {} FROM {table} WHERE plan_id = $1",
                columns.join(", ")
            )
        })
        .collect();
    format!("{} ORDER BY kind, id", branches.join(" UNION ALL "))
});

impl Session {
    /// All goals and all measures of the plan `pass` is for, oldest first, each with its trail,
    /// in one statement.
    #[tracing::instrument(skip_all)]
    pub async fn plan_content(&mut self, pass: &PlanPass) -> Result<(Vec<Goal>, Vec<Measure>)> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(CONTENT_QUERY.as_str()))
            .bind(pass.id().to_string())
            .all(self)
            .await?;
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
