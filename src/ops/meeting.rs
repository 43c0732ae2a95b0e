//! Meetings of the responsibility group (ansvarsgruppemøter), with their minutes.

use super::{ChangeKind, Context, ItemRef, Listed, edit_plan};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::ids::ResourceId;
use crate::domain::meeting::{Meeting, MeetingPatch};
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Result, Violations};
use crate::store::Session;

/// Reading a plan's meetings.
const READ_MEETINGS: (Object, Action) = (Object::Meeting, Action::Read);

/// Checks that every member a meeting names serves, or served, on its plan.
async fn check_members(session: &mut Session, pass: &PlanPass, meeting: &Meeting) -> Result<()> {
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
    /// The meeting.
    pub meeting: ItemRef,
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
    ) -> Result<Meeting> {
        let now = Instant::now();
        let mut meeting = Meeting::new(plan, now);
        patch.apply(&mut meeting)?;
        self.store
            .write_with(async |s| {
                let pass =
                    self.guard.plan(s, who, plan, Object::Meeting, Action::Create, now).await?;
                pass.plan().check_open_or_declined()?;
                check_members(s, &pass, &meeting).await?;
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    s.insert_meeting(&pass, &meeting, &who.subject).await?;
                    Ok(((), vec![format!("meeting scheduled: {}", item(plan, meeting.id))]))
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
    ) -> Result<Meeting> {
        let read = self
            .read_plan(who, plan, READ_MEETINGS, async |s, pass| s.meeting(pass, meeting).await);
        Ok(read.await?.value)
    }

    /// ListMeetings.
    pub async fn list_meetings(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Listed<Meeting>> {
        let read = self.read_plan(who, plan, READ_MEETINGS, async |s, pass| {
            Ok(Listed::page(s.list_meetings(pass, page).await?, page, |m| m.id))
        });
        Ok(read.await?.value)
    }

    /// UpdateMeeting: the masked fields, at the etag the caller read.
    pub async fn update_meeting(&self, who: &Principal, update: UpdateMeeting) -> Result<Meeting> {
        let paths = update.paths.join(", ");
        let at = update.meeting;
        self.change_meeting(who, at, Action::Update, async |s, pass, meeting| {
            update.patch.apply(meeting)?;
            check_members(s, pass, meeting).await?;
            Ok(format!("meeting updated ({paths}): {}", item(at.plan, meeting.id)))
        })
        .await
    }

    /// CancelMeeting: the meeting stays on the list, marked cancelled with `reason`.
    pub async fn cancel_meeting(
        &self,
        who: &Principal,
        at: ItemRef,
        reason: String,
    ) -> Result<Meeting> {
        self.change_meeting(who, at, Action::Cancel, async |_, _, meeting| {
            meeting.cancel_time = Some(Instant::now());
            meeting.cancel_reason = reason;
            Ok(format!("meeting cancelled: {}", item(at.plan, meeting.id)))
        })
        .await
    }

    /// Runs `change` on a meeting that still stands, at the etag the caller read, on a plan
    /// open or declined, for a caller the policy lets do `action` to meetings; saves it and
    /// records the revision with the line `change` returns.
    async fn change_meeting(
        &self,
        who: &Principal,
        at: ItemRef,
        action: Action,
        change: impl AsyncFnOnce(&mut Session, &PlanPass, &mut Meeting) -> Result<String> + Clone,
    ) -> Result<Meeting> {
        self.write(async |s, now| {
            let pass = self.guard.plan(s, who, at.plan, Object::Meeting, action, now).await?;
            pass.plan().check_open_or_declined()?;
            let mut meeting = s.meeting(&pass, at.item).await?;
            let (read, standing) = (meeting.revision, meeting.check_not_cancelled());
            // What the caller sent is validated first; a stale etag and a cancelled meeting are
            // told after.
            let line = change(s, &pass, &mut meeting).await?;
            at.check(read, "meeting")?;
            standing?;
            meeting.update_time = now;
            edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.save_meeting(&pass, &meeting, at.etag).await?;
                Ok(((), vec![line]))
            })
            .await?;
            meeting.revision += 1;
            Ok(meeting)
        })
        .await
    }
}

fn item(plan: ResourceId, meeting: ResourceId) -> String {
    plan_item(plan, "meetings", meeting)
}
