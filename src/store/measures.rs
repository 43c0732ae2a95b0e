//! Measures and their evaluations.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::limits::Holding;
use crate::domain::measure::{Evaluation, Measure, MeasureStatus, NewMeasure};
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Result};

const MEASURE_COLUMNS: &str = "id, plan_id, goal_id, description, responsible_member_id, \
     start_date, end_date, frequency, status, revision, create_time, update_time";

fn stale_measure() -> Error {
    Error::Aborted("the measure changed since it was read: read it again".into())
}

impl Session {
    /// Checks that a measure's goal and responsible member belong to `plan`, the member
    /// serving now; the request's fields are named under `field` (`measure`).
    #[tracing::instrument(skip_all)]
    pub async fn check_measure_refs(
        &mut self,
        pass: &PlanPass,
        goal: Option<ResourceId>,
        responsible: Option<ResourceId>,
        now: Instant,
    ) -> Result<()> {
        let _plan = pass.id();
        let mut violations = Vec::new();
        if let Some(goal) = goal {
            match self.goal(pass, goal).await {
                Ok(_) => {}
                Err(Error::NotFound(_)) => violations
                    .push(FieldViolation::new("measure.goal", "must name a goal of the same plan")),
                Err(e) => return Err(e),
            }
        }
        if let Some(member) = responsible {
            match self.member(pass, member).await {
                Ok(m) if m.start_time <= now && m.end_time.is_none_or(|end| end > now) => {}
                Ok(_) | Err(Error::NotFound(_)) => violations.push(FieldViolation::new(
                    "measure.responsible_member",
                    "must name a member serving on the same plan now",
                )),
                Err(e) => return Err(e),
            }
        }
        if violations.is_empty() { Ok(()) } else { Err(Error::InvalidArgument(violations)) }
    }

    /// Stores a new measure; its goal and member must have been checked.
    #[tracing::instrument(skip_all)]
    pub async fn insert_measure(
        &mut self,
        pass: &PlanPass,
        new: &NewMeasure,
        created_by: &Subject,
        now: Instant,
    ) -> Result<Measure> {
        let plan = pass.plan();
        self.check_room(Holding::Measures, pass, now).await?;
        let measure = Measure {
            id: ResourceId::generate(),
            plan: plan.id,
            goal: new.goal,
            description: new.description.clone(),
            responsible_member: new.responsible_member,
            start_date: new.start_date,
            end_date: new.end_date,
            frequency: new.frequency.clone(),
            status: MeasureStatus::Planned,
            evaluations: Vec::new(),
            revision: 1,
            create_time: now,
            update_time: now,
        };
        sqlx::query(
            "INSERT INTO measures (id, organisation_id, plan_id, goal_id, description, \
             responsible_member_id, start_date, end_date, frequency, status, revision, \
             create_time, update_time, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(measure.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(measure.goal.to_string())
        .bind(measure.description.as_str())
        .bind(measure.responsible_member.to_string())
        .bind(measure.start_date.map(|d| d.to_string()))
        .bind(measure.end_date.map(|d| d.to_string()))
        .bind(measure.frequency.as_str())
        .bind(measure.status.as_str())
        .bind(measure.revision)
        .bind(now.0)
        .bind(now.0)
        .bind(created_by.as_stored())
        .run(self)
        .await?;
        Ok(measure)
    }

    /// One measure of `plan`; `NOT_FOUND` when the caller's sight does not reach it, with its evaluations.
    #[tracing::instrument(skip_all)]
    pub async fn measure(&mut self, pass: &PlanPass, id: ResourceId) -> Result<Measure> {
        // One outside the caller's sight is absent to them, for reading and for changing it.
        if !pass.sight().sees_measure(id) {
            return Err(crate::domain::Error::NotFound("measure"));
        }
        let of_plan = Statement::of_plan(MEASURE_COLUMNS, "measures", "", pass);
        let mut measure = measure_from_row(&self.item_row(of_plan.item("", id), "measure").await?)?;
        measure.evaluations =
            self.evaluations("measure_id", id).await?.into_iter().map(|(_, e)| e).collect();
        Ok(measure)
    }

    /// The measures of `plan` after the page's position, with their evaluations: one more than
    /// the page, or all of them when `page` is `None`.
    #[tracing::instrument(skip_all)]
    pub async fn list_measures(
        &mut self,
        pass: &PlanPass,
        page: Option<Page>,
    ) -> Result<Vec<Measure>> {
        let of_plan = Statement::of_plan(MEASURE_COLUMNS, "measures", "", pass);
        let rows = of_plan.page("", page).all(self).await?;
        let mut measures: Vec<Measure> =
            rows.iter().map(measure_from_row).collect::<Result<_, _>>()?;
        let evaluations = self.evaluations("plan_id", pass.id()).await?;
        for measure in &mut measures {
            measure.evaluations = evaluations
                .iter()
                .filter(|(m, _)| *m == measure.id)
                .map(|(_, e)| e.clone())
                .collect();
        }
        Ok(measures)
    }

    /// Whether `who` is, now, the member responsible for `measure`.
    #[tracing::instrument(skip_all)]
    pub async fn is_responsible(
        &mut self,
        pass: &PlanPass,
        measure: &Measure,
        who: &Principal,
        now: Instant,
    ) -> Result<bool> {
        pass.covers(measure.plan)?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM members m WHERE m.id = $1 AND m.subject = $2 \
             AND m.acting_organisation = $3 AND m.start_time <= $4 \
             AND (m.end_time IS NULL OR m.end_time > $4)",
        )
        .bind(measure.responsible_member.to_string())
        .bind(who.subject.as_stored())
        .bind(who.acting_organisation())
        .bind(now.0)
        .optional(self)
        .await?;
        Ok(found.is_some())
    }

    /// Writes a measure's fields if its revision is still `expected`.
    #[tracing::instrument(skip_all)]
    pub async fn save_measure(
        &mut self,
        pass: &PlanPass,
        measure: &Measure,
        expected: i64,
    ) -> Result<()> {
        pass.covers(measure.plan)?;
        let updated = sqlx::query(
            "UPDATE measures SET goal_id = $1, description = $2, responsible_member_id = $3, \
             start_date = $4, end_date = $5, frequency = $6, status = $7, \
             revision = revision + 1, update_time = $8 WHERE id = $9 AND revision = $10",
        )
        .bind(measure.goal.to_string())
        .bind(measure.description.as_str())
        .bind(measure.responsible_member.to_string())
        .bind(measure.start_date.map(|d| d.to_string()))
        .bind(measure.end_date.map(|d| d.to_string()))
        .bind(measure.frequency.as_str())
        .bind(measure.status.as_str())
        .bind(measure.update_time.0)
        .bind(measure.id.to_string())
        .bind(expected)
        .run(self)
        .await?;
        if updated != 1 {
            return Err(stale_measure());
        }
        Ok(())
    }

    /// Adds an evaluation to a measure.
    #[tracing::instrument(skip_all)]
    pub async fn insert_evaluation(
        &mut self,
        pass: &PlanPass,
        measure: &Measure,
        evaluation: &Evaluation,
    ) -> Result<()> {
        pass.covers(measure.plan)?;
        let organisation = pass.organisation();
        self.check_room(Holding::Evaluations, pass, evaluation.time).await?;
        sqlx::query(
            "INSERT INTO measure_evaluations (id, organisation_id, plan_id, measure_id, date, \
             text, author, author_relations, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ResourceId::generate().to_string())
        .bind(organisation.as_str())
        .bind(measure.plan.to_string())
        .bind(measure.id.to_string())
        .bind(evaluation.date.to_string())
        .bind(evaluation.text.as_str())
        .bind(evaluation.author.as_str())
        .bind(evaluation.author_relations.as_str())
        .bind(evaluation.time.0)
        .run(self)
        .await?;
        Ok(())
    }

    /// Deletes a measure and its evaluations, if its revision is still `expected`.
    #[tracing::instrument(skip_all)]
    pub async fn delete_measure(
        &mut self,
        pass: &PlanPass,
        measure: &Measure,
        expected: i64,
    ) -> Result<()> {
        pass.covers(measure.plan)?;
        if measure.revision != expected {
            return Err(stale_measure());
        }
        let trail = ("measures", "measure_evaluations", "measure_id");
        if self.delete_with_trail(trail, measure.id, expected).await? {
            Ok(())
        } else {
            Err(stale_measure())
        }
    }

    /// The evaluations whose `column` (measure_id or plan_id) is `id`, oldest first, each with
    /// its measure.
    async fn evaluations(
        &mut self,
        column: &'static str,
        id: ResourceId,
    ) -> Result<Vec<(ResourceId, Evaluation)>> {
        let sql = format!(
            "SELECT measure_id, date, text, author, author_relations, create_time \
             FROM measure_evaluations WHERE {column} = $1 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).all(self).await?;
        rows.iter().map(evaluation_from_row).collect()
    }
}

/// An evaluation, and the measure it belongs to.
pub(super) fn evaluation_from_row(row: &AnyRow) -> Result<(ResourceId, Evaluation)> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let measure = stored("measure id", ResourceId::parse(&text("measure_id")?))?;
    Ok((
        measure,
        Evaluation {
            date: stored("evaluation date", Date::from_stored(&text("date")?))?,
            text: text("text")?,
            author: text("author")?,
            author_relations: text("author_relations")?,
            time: Instant(row.try_get("create_time").map_err(db)?),
        },
    ))
}

/// A measure, without its evaluations.
pub(super) fn measure_from_row(row: &AnyRow) -> Result<Measure> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let date = |name: &str| {
        row.try_get::<Option<String>, _>(name)
            .map_err(db)?
            .map(|d| stored("measure date", Date::from_stored(&d)))
            .transpose()
    };
    Ok(Measure {
        id: stored("measure id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        goal: stored("goal id", ResourceId::parse(&text("goal_id")?))?,
        description: text("description")?,
        responsible_member: stored(
            "member id",
            ResourceId::parse(&text("responsible_member_id")?),
        )?,
        start_date: date("start_date")?,
        end_date: date("end_date")?,
        frequency: text("frequency")?,
        status: stored("measure status", MeasureStatus::from_stored(&text("status")?))?,
        evaluations: Vec::new(),
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
    })
}
