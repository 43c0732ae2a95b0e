//! Meetings of a plan's group.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::ids::ResourceId;
use crate::domain::limits::Holding;
use crate::domain::meeting::Meeting;
use crate::domain::page::Page;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "id, plan_id, start_time, location, video_link, agenda, invited, attended, \
     minutes, revision, create_time, update_time, cancel_time, cancel_reason, interpreter_booked";

fn ids_json(ids: &[ResourceId]) -> Result<String> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    serde_json::to_string(&ids).map_err(Error::internal)
}

impl Session {
    /// Stores a new meeting.
    #[tracing::instrument(skip_all)]
    pub async fn insert_meeting(
        &mut self,
        pass: &PlanPass,
        meeting: &Meeting,
        created_by: &Subject,
    ) -> Result<()> {
        let plan = pass.plan();
        self.check_room(Holding::Meetings, pass, meeting.create_time).await?;
        sqlx::query(
            "INSERT INTO meetings (id, organisation_id, plan_id, start_time, location, video_link, \
             agenda, invited, attended, minutes, revision, create_time, update_time, created_by, \
             interpreter_booked) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(meeting.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(meeting.start_time.0)
        .bind(meeting.location.as_str())
        .bind(meeting.video_link.as_str())
        .bind(meeting.agenda.as_str())
        .bind(ids_json(&meeting.invited)?)
        .bind(ids_json(&meeting.attended)?)
        .bind(meeting.minutes.as_str())
        .bind(meeting.revision)
        .bind(meeting.create_time.0)
        .bind(meeting.update_time.0)
        .bind(created_by.as_stored())
        .bind(i64::from(meeting.interpreter_booked))
        .run(self)
        .await?;
        Ok(())
    }

    /// One meeting of `plan`; `NOT_FOUND` when the caller's sight does not reach it.
    #[tracing::instrument(skip_all)]
    pub async fn meeting(&mut self, pass: &PlanPass, id: ResourceId) -> Result<Meeting> {
        // One outside the caller's sight is absent to them, for reading and for changing it.
        if !pass.sight().sees(crate::domain::scope::PlanPart::Meetings) {
            return Err(crate::domain::Error::NotFound("meeting"));
        }
        let of_plan = Statement::of_plan(COLUMNS, "meetings", "", pass);
        meeting_from_row(&self.item_row(of_plan.item("", id), "meeting").await?)
    }

    /// The meetings of `plan` after the page's position; one more than the page.
    #[tracing::instrument(skip_all)]
    pub async fn list_meetings(&mut self, pass: &PlanPass, page: Page) -> Result<Vec<Meeting>> {
        let of_plan = Statement::of_plan(COLUMNS, "meetings", "", pass).page("", Some(page));
        of_plan.all(self).await?.iter().map(meeting_from_row).collect()
    }

    /// Writes a meeting if its revision is still `expected`.
    #[tracing::instrument(skip_all)]
    pub async fn save_meeting(
        &mut self,
        pass: &PlanPass,
        meeting: &Meeting,
        expected: i64,
    ) -> Result<()> {
        pass.covers(meeting.plan)?;
        let updated = sqlx::query(
            "UPDATE meetings SET start_time = $1, location = $2, video_link = $3, agenda = $4, \
             invited = $5, attended = $6, minutes = $7, revision = revision + 1, \
             update_time = $8, cancel_time = $9, cancel_reason = $10, interpreter_booked = $11 \
             WHERE id = $12 AND revision = $13",
        )
        .bind(meeting.start_time.0)
        .bind(meeting.location.as_str())
        .bind(meeting.video_link.as_str())
        .bind(meeting.agenda.as_str())
        .bind(ids_json(&meeting.invited)?)
        .bind(ids_json(&meeting.attended)?)
        .bind(meeting.minutes.as_str())
        .bind(meeting.update_time.0)
        .bind(meeting.cancel_time.map(|t| t.0))
        .bind(meeting.cancel_reason.as_str())
        .bind(i64::from(meeting.interpreter_booked))
        .bind(meeting.id.to_string())
        .bind(expected)
        .run(self)
        .await?;
        if updated != 1 {
            return Err(Error::Aborted(
                "the meeting changed since it was read: read it again".into(),
            ));
        }
        Ok(())
    }
}

fn meeting_from_row(row: &AnyRow) -> Result<Meeting> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let ids = |name: &str| -> Result<Vec<ResourceId>> {
        let list: Vec<String> = stored("member list", serde_json::from_str(&text(name)?).ok())?;
        list.iter().map(|id| stored("member id", ResourceId::parse(id))).collect()
    };
    Ok(Meeting {
        id: stored("meeting id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        start_time: Instant(row.try_get("start_time").map_err(db)?),
        location: text("location")?,
        video_link: text("video_link")?,
        agenda: text("agenda")?,
        invited: ids("invited")?,
        attended: ids("attended")?,
        minutes: text("minutes")?,
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
        cancel_time: row.try_get::<Option<i64>, _>("cancel_time").map_err(db)?.map(Instant),
        cancel_reason: text("cancel_reason")?,
        interpreter_booked: row.try_get::<i64, _>("interpreter_booked").map_err(db)? == 1,
    })
}
