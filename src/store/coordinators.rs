//! Coordinator appointments.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, db, stored};
use crate::auth::PlanPass;
use crate::domain::coordinator::{Assignment, CoordinatorKind, NewAssignment};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::member::Member;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "id, plan_id, member_id, subject, display_name, acting_organisation, \
     wish_followed, reason, start_time, end_time, end_reason, kind";

impl Session {
    /// The plan's current appointment, if any.
    #[tracing::instrument(skip_all)]
    pub async fn current_assignment(&mut self, pass: &PlanPass) -> Result<Option<Assignment>> {
        let plan = pass.id();
        let sql = format!(
            "SELECT {COLUMNS} FROM coordinator_assignments WHERE plan_id = $1 AND end_time IS NULL"
        );
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(plan.to_string()).optional(self).await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    /// Every appointment of the plan, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn assignments(&mut self, pass: &PlanPass) -> Result<Vec<Assignment>> {
        let plan = pass.id();
        let sql =
            format!("SELECT {COLUMNS} FROM coordinator_assignments WHERE plan_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(plan.to_string()).all(self).await?;
        rows.iter().map(assignment_from_row).collect()
    }

    /// Records the appointment of the coordinator serving as `member`.
    #[tracing::instrument(skip_all)]
    pub async fn insert_assignment(
        &mut self,
        pass: &PlanPass,
        member: &Member,
        new: &NewAssignment,
        appointed_by: &Subject,
        now: Instant,
    ) -> Result<Assignment> {
        let plan = pass.plan();
        let assignment = Assignment {
            id: ResourceId::generate(),
            plan: plan.id,
            member: member.id,
            subject: new.subject.clone(),
            display_name: new.display_name.clone(),
            organisation: new.organisation.clone(),
            wish_followed: new.wish_followed,
            reason: new.reason.clone(),
            start_time: now,
            end_time: None,
            end_reason: String::new(),
            kind: new.kind,
        };
        sqlx::query(
            "INSERT INTO coordinator_assignments (id, organisation_id, plan_id, member_id, \
             subject, display_name, acting_organisation, wish_followed, reason, appointed_by, \
             start_time, end_reason, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', $12)",
        )
        .bind(assignment.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(member.id.to_string())
        .bind(assignment.subject.as_stored())
        .bind(assignment.display_name.as_str())
        .bind(assignment.organisation.as_str())
        .bind(i64::from(assignment.wish_followed))
        .bind(assignment.reason.as_str())
        .bind(appointed_by.as_stored())
        .bind(now.0)
        .bind(assignment.kind.as_str())
        .execute(self.conn())
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                Error::FailedPrecondition("the plan has a coordinator already".into())
            } else {
                db(e)
            }
        })?;
        Ok(assignment)
    }

    /// Ends an appointment now, with its membership.
    #[tracing::instrument(skip_all)]
    pub async fn end_assignment(
        &mut self,
        pass: &PlanPass,
        assignment: &Assignment,
        reason: &str,
        now: Instant,
    ) -> Result<Assignment> {
        pass.covers(assignment.plan)?;
        let ended = sqlx::query(
            "UPDATE coordinator_assignments SET end_time = $1, end_reason = $2 \
             WHERE id = $3 AND end_time IS NULL",
        )
        .bind(now.0)
        .bind(reason)
        .bind(assignment.id.to_string())
        .run(self)
        .await?;
        if ended != 1 {
            return Err(Error::Aborted(
                "the appointment changed since it was read: read it again".into(),
            ));
        }
        // The membership may have been ended on its own already (RemoveMember).
        let member = self.member(pass, assignment.member).await?;
        if member.end_time.is_none_or(|end| end > now) {
            self.end_member(pass, assignment.member, None, now).await?;
        }
        let mut ended = assignment.clone();
        ended.end_time = Some(now);
        ended.end_reason = reason.to_owned();
        Ok(ended)
    }

    /// The plans `subject`, acting for `organisation`, coordinates now.
    #[tracing::instrument(skip_all)]
    pub async fn coordinated_plans(
        &mut self,
        subject: &Subject,
        organisation: &OrgNumber,
    ) -> Result<Vec<Assignment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM coordinator_assignments WHERE subject = $1 \
             AND acting_organisation = $2 AND end_time IS NULL ORDER BY plan_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(subject.as_stored())
            .bind(organisation.as_str())
            .all(self)
            .await?;
        rows.iter().map(assignment_from_row).collect()
    }
}

fn assignment_from_row(row: &AnyRow) -> Result<Assignment> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let id = |name: &str| -> Result<ResourceId> {
        stored("assignment id", ResourceId::parse(&text(name)?))
    };
    Ok(Assignment {
        id: id("id")?,
        plan: id("plan_id")?,
        member: id("member_id")?,
        subject: Subject::from_stored(text("subject")?),
        display_name: text("display_name")?,
        organisation: stored(
            "organisation",
            OrgNumber::parse("", &text("acting_organisation")?).ok(),
        )?,
        wish_followed: row.try_get::<i64, _>("wish_followed").map_err(db)? == 1,
        reason: text("reason")?,
        start_time: Instant(row.try_get("start_time").map_err(db)?),
        end_time: row.try_get::<Option<i64>, _>("end_time").map_err(db)?.map(Instant),
        end_reason: text("end_reason")?,
        kind: stored("coordinator kind", CoordinatorKind::from_stored(&text("kind")?))?,
    })
}
