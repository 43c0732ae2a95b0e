//! Goals and their trail of adjustments.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::date::Date;
use crate::domain::goal::{Goal, GoalAdjustment, GoalStatus, NewGoal};
use crate::domain::ids::ResourceId;
use crate::domain::limits::Holding;
use crate::domain::page::Page;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const GOAL_COLUMNS: &str =
    "id, plan_id, text, priority, status, target_date, revision, create_time, update_time";

fn stale_goal() -> Error {
    Error::Aborted("the goal changed since it was read: read it again".into())
}

impl Session {
    /// Stores a proposed goal.
    #[tracing::instrument(skip_all)]
    pub async fn insert_goal(
        &mut self,
        pass: &PlanPass,
        new: &NewGoal,
        created_by: &Subject,
        now: Instant,
    ) -> Result<Goal> {
        let plan = pass.plan();
        self.check_room(Holding::Goals, pass, now).await?;
        let goal = Goal {
            id: ResourceId::generate(),
            plan: plan.id,
            text: new.text.clone(),
            priority: new.priority,
            status: GoalStatus::Proposed,
            target_date: new.target_date,
            adjustments: Vec::new(),
            revision: 1,
            create_time: now,
            update_time: now,
        };
        sqlx::query(
            "INSERT INTO goals (id, organisation_id, plan_id, text, priority, status, \
             target_date, revision, create_time, update_time, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(goal.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(goal.text.as_str())
        .bind(i64::from(goal.priority))
        .bind(goal.status.as_str())
        .bind(goal.target_date.map(|d| d.to_string()))
        .bind(goal.revision)
        .bind(now.0)
        .bind(now.0)
        .bind(created_by.as_stored())
        .run(self)
        .await?;
        Ok(goal)
    }

    /// One goal of `plan`; `NOT_FOUND` when the caller's sight does not reach it, with its trail.
    #[tracing::instrument(skip_all)]
    pub async fn goal(&mut self, pass: &PlanPass, id: ResourceId) -> Result<Goal> {
        // One outside the caller's sight is absent to them, for reading and for changing it.
        if !pass.sight().sees_goal(id) {
            return Err(crate::domain::Error::NotFound("goal"));
        }
        let of_plan = Statement::of_plan(GOAL_COLUMNS, "goals", "", pass);
        let mut goal = goal_from_row(&self.item_row(of_plan.item("", id), "goal").await?)?;
        goal.adjustments =
            self.adjustments("goal_id", id).await?.into_iter().map(|(_, step)| step).collect();
        Ok(goal)
    }

    /// The goals of `plan` after the page's position, with their trails: one more than the
    /// page, or all of them when `page` is `None`.
    #[tracing::instrument(skip_all)]
    pub async fn list_goals(&mut self, pass: &PlanPass, page: Option<Page>) -> Result<Vec<Goal>> {
        let rows =
            Statement::of_plan(GOAL_COLUMNS, "goals", "", pass).page("", page).all(self).await?;
        let mut goals: Vec<Goal> = rows.iter().map(goal_from_row).collect::<Result<_, _>>()?;
        // The plan's trails in one query, handed to their goals.
        let trail = self.adjustments("plan_id", pass.id()).await?;
        for goal in &mut goals {
            goal.adjustments =
                trail.iter().filter(|(g, _)| *g == goal.id).map(|(_, step)| step.clone()).collect();
        }
        Ok(goals)
    }

    /// Writes a goal's fields if its revision is still `expected`, and the new step of its
    /// trail if any.
    #[tracing::instrument(skip_all)]
    pub async fn save_goal(
        &mut self,
        pass: &PlanPass,
        goal: &Goal,
        expected: i64,
        new_step: Option<&GoalAdjustment>,
    ) -> Result<()> {
        pass.covers(goal.plan)?;
        let organisation = pass.organisation();
        if new_step.is_some() {
            self.check_room(Holding::Adjustments, pass, goal.update_time).await?;
        }
        let updated = sqlx::query(
            "UPDATE goals SET text = $1, priority = $2, status = $3, target_date = $4, \
             revision = revision + 1, update_time = $5 WHERE id = $6 AND revision = $7",
        )
        .bind(goal.text.as_str())
        .bind(i64::from(goal.priority))
        .bind(goal.status.as_str())
        .bind(goal.target_date.map(|d| d.to_string()))
        .bind(goal.update_time.0)
        .bind(goal.id.to_string())
        .bind(expected)
        .run(self)
        .await?;
        if updated != 1 {
            return Err(stale_goal());
        }
        if let Some(step) = new_step {
            sqlx::query(
                "INSERT INTO goal_adjustments (id, organisation_id, plan_id, goal_id, author, \
                 author_relations, reason, proposed_text, previous_text, new_text, \
                 previous_status, new_status, create_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(ResourceId::generate().to_string())
            .bind(organisation.as_str())
            .bind(goal.plan.to_string())
            .bind(goal.id.to_string())
            .bind(step.author.as_str())
            .bind(step.author_relations.as_str())
            .bind(step.reason.as_str())
            .bind(step.proposed_text.as_str())
            .bind(step.previous_text.as_str())
            .bind(step.new_text.as_str())
            .bind(step.previous_status.map(GoalStatus::as_str))
            .bind(step.new_status.map(GoalStatus::as_str))
            .bind(step.time.0)
            .run(self)
            .await?;
        }
        Ok(())
    }

    /// Deletes a goal no measure serves, if its revision is still `expected`.
    #[tracing::instrument(skip_all)]
    pub async fn delete_goal(&mut self, pass: &PlanPass, goal: &Goal, expected: i64) -> Result<()> {
        pass.covers(goal.plan)?;
        if goal.revision != expected {
            return Err(stale_goal());
        }
        let served: Option<i64> =
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM measures WHERE goal_id = $1 LIMIT 1")
                .bind(goal.id.to_string())
                .optional(self)
                .await?;
        if served.is_some() {
            return Err(Error::FailedPrecondition(
                "measures serve this goal: move or delete them first".into(),
            ));
        }
        let deleted =
            self.delete_with_trail(("goals", "goal_adjustments", "goal_id"), goal.id, expected);
        if deleted.await? { Ok(()) } else { Err(stale_goal()) }
    }

    /// The trail steps whose `column` (goal_id or plan_id) is `id`, oldest first, each with
    /// the goal it belongs to.
    async fn adjustments(
        &mut self,
        column: &'static str,
        id: ResourceId,
    ) -> Result<Vec<(ResourceId, GoalAdjustment)>> {
        let sql = format!(
            "SELECT goal_id, author, author_relations, reason, proposed_text, previous_text, \
             new_text, previous_status, new_status, create_time FROM goal_adjustments \
             WHERE {column} = $1 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).all(self).await?;
        rows.iter().map(adjustment_from_row).collect()
    }
}

/// A step of a goal's trail, and the goal it belongs to.
pub(super) fn adjustment_from_row(row: &AnyRow) -> Result<(ResourceId, GoalAdjustment)> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let status = |name: &str| {
        row.try_get::<Option<String>, _>(name)
            .map_err(db)?
            .map(|s| stored("goal status", GoalStatus::from_stored(&s)))
            .transpose()
    };
    let goal = stored("goal id", ResourceId::parse(&text("goal_id")?))?;
    let step = GoalAdjustment {
        time: Instant(row.try_get("create_time").map_err(db)?),
        author: text("author")?,
        author_relations: text("author_relations")?,
        reason: text("reason")?,
        proposed_text: text("proposed_text")?,
        previous_text: text("previous_text")?,
        new_text: text("new_text")?,
        previous_status: status("previous_status")?,
        new_status: status("new_status")?,
    };
    Ok((goal, step))
}

/// A goal, without its trail.
pub(super) fn goal_from_row(row: &AnyRow) -> Result<Goal> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let priority: i64 = row.try_get("priority").map_err(db)?;
    Ok(Goal {
        id: stored("goal id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        text: text("text")?,
        priority: stored("priority", i32::try_from(priority).ok())?,
        status: stored("goal status", GoalStatus::from_stored(&text("status")?))?,
        target_date: row
            .try_get::<Option<String>, _>("target_date")
            .map_err(db)?
            .map(|d| stored("target date", Date::from_stored(&d)))
            .transpose()?,
        adjustments: Vec::new(),
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
    })
}
