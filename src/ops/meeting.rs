//! Meetings of the responsibility group (ansvarsgruppemøter), with their minutes.

use super::{ChangeKind, Context, Listed, edit_plan};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::ids::ResourceId;
use crate::domain::meeting::{Meeting, MeetingPatch};
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::store::Session;

/// Checks that every member a meeting names serves, or served, on its plan.
async fn check_members(
    session: &mut Session,
    pass: &PlanPass,
    meeting: &Meeting,
) -> Result<(), Error> {
    let mut v = Violations::default();
    for (field, ids) in [
        ("meeting.invited_members", &meeting.invited),
        ("meeting.attended_members", &meeting.attended),
    ] {
        for (i, id) in ids.iter().enumerate() {
            match session.member(pass, *id).await {
                Ok(_) => {}
                Err(Error::NotFound(_)) => v.push(FieldViolation::new(
                    format!("{field}[{i}]"),
                    "must be a member of the plan",
                )),
                Err(e) => return Err(e),
            }
        }
    }
    v.finish()
}

/// UpdateMeeting, validated.
#[derive(Debug)]
pub struct UpdateMeeting {
    /// The plan.
    pub plan: ResourceId,
    /// The meeting.
    pub meeting: ResourceId,
    /// Its etag as read.
    pub etag: i64,
    /// The mask's paths, for the history.
    pub paths: Vec<String>,
    /// What changes.
    pub patch: MeetingPatch,
}

impl Context {
    /// CreateMeeting: on a plan that is open or declined (a coordinator-only record).
    pub async fn create_meeting(
        &self,
        who: &Principal,
        plan: ResourceId,
        patch: MeetingPatch,
    ) -> Result<Meeting, Error> {
        let now = Instant::now();
        let mut meeting = Meeting {
            id: ResourceId::generate(),
            plan,
            start_time: now,
            location: String::new(),
            video_link: String::new(),
            agenda: String::new(),
            invited: Vec::new(),
            attended: Vec::new(),
            minutes: String::new(),
            revision: 1,
            create_time: now,
            update_time: now,
            cancel_time: None,
            cancel_reason: String::new(),
        };
        patch.apply(&mut meeting)?;
        self.store
            .write_with(async |s| {
                let pass =
                    self.guard.plan(s, who, plan, Object::Meeting, Action::Create, now).await?;
                pass.plan().check_open_or_declined()?;
                check_members(s, &pass, &meeting).await?;
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    s.insert_meeting(&pass, &meeting, &who.subject).await?;
                    let line = format!("meeting scheduled: {}", item(plan, meeting.id));
                    Ok(((), vec![line]))
                })
                .await?;
                Ok(meeting)
            })
            .await
    }

    /// GetMeeting.
    pub async fn get_meeting(
        &self,
        who: &Principal,
        plan: ResourceId,
        meeting: ResourceId,
    ) -> Result<Meeting, Error> {
        let now = Instant::now();
        self.store
            .read_with(async |s| {
                let pass =
                    self.guard.plan(s, who, plan, Object::Meeting, Action::Read, now).await?;
                s.meeting(&pass, meeting).await
            })
            .await
    }

    /// ListMeetings.
    pub async fn list_meetings(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Listed<Meeting>, Error> {
        let now = Instant::now();
        self.store
            .read_with(async |s| {
                let pass =
                    self.guard.plan(s, who, plan, Object::Meeting, Action::Read, now).await?;
                let mut meetings = s.list_meetings(&pass, page).await?;
                let next_page_token = page.next_token(&mut meetings, |m| m.id);
                Ok(Listed { items: meetings, next_page_token })
            })
            .await
    }

    /// UpdateMeeting: the masked fields, at the etag the caller read.
    pub async fn update_meeting(
        &self,
        who: &Principal,
        update: UpdateMeeting,
    ) -> Result<Meeting, Error> {
        let now = Instant::now();
        self.store
            .write_with(async |s| {
                let pass = self
                    .guard
                    .plan(s, who, update.plan, Object::Meeting, Action::Update, now)
                    .await?;
                pass.plan().check_open_or_declined()?;
                let mut meeting = s.meeting(&pass, update.meeting).await?;
                check_etag(&meeting, update.etag)?;
                meeting.check_not_cancelled()?;
                update.patch.apply(&mut meeting)?;
                check_members(s, &pass, &meeting).await?;
                meeting.update_time = now;
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    s.save_meeting(&pass, &meeting, update.etag).await?;
                    let paths = update.paths.join(", ");
                    let line =
                        format!("meeting updated ({paths}): {}", item(update.plan, meeting.id));
                    Ok(((), vec![line]))
                })
                .await?;
                meeting.revision += 1;
                Ok(meeting)
            })
            .await
    }

    /// CancelMeeting: the meeting stays on the list, marked cancelled with `reason`.
    pub async fn cancel_meeting(
        &self,
        who: &Principal,
        at: MeetingRef,
        reason: String,
    ) -> Result<Meeting, Error> {
        let now = Instant::now();
        self.store
            .write_with(async |s| {
                let pass =
                    self.guard.plan(s, who, at.plan, Object::Meeting, Action::Cancel, now).await?;
                let mut meeting = s.meeting(&pass, at.meeting).await?;
                check_etag(&meeting, at.etag)?;
                meeting.check_not_cancelled()?;
                meeting.cancel_time = Some(now);
                meeting.cancel_reason = reason;
                meeting.update_time = now;
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    s.save_meeting(&pass, &meeting, at.etag).await?;
                    let line = format!("meeting cancelled: {}", item(at.plan, meeting.id));
                    Ok(((), vec![line]))
                })
                .await?;
                meeting.revision += 1;
                Ok(meeting)
            })
            .await
    }
}

/// A meeting a request names, and the etag the caller read of it.
#[derive(Debug, Clone, Copy)]
pub struct MeetingRef {
    /// The plan.
    pub plan: ResourceId,
    /// The meeting.
    pub meeting: ResourceId,
    /// Its etag as read.
    pub etag: i64,
}

fn check_etag(meeting: &Meeting, etag: i64) -> Result<(), Error> {
    if meeting.revision == etag {
        Ok(())
    } else {
        Err(Error::Aborted("the meeting changed since it was read: read it again".into()))
    }
}

fn item(plan: ResourceId, meeting: ResourceId) -> String {
    plan_item(plan, "meetings", meeting)
}
