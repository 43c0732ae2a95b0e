//! Meetings of the responsibility group and a member's own plans, served by
//! `samvirke.v1.ResponsibilityGroupService` (see `members.rs`).

use super::Context;
use super::convert::{
    instant, meeting_name, member_name, plan_item, plan_name, plan_page, required_etag, same_plan,
    timestamp,
};
use super::document::{Change, encode_plan};
use super::members::encode_member;
use crate::auth::{Action, Object, PlanAccess};
use crate::domain::error::at_most;
use crate::domain::ids::ResourceId;
use crate::domain::limits::Holding;
use crate::domain::mask;
use crate::domain::meeting::{MAX_MEETING_TEXT, Meeting, video_link};
use crate::domain::page::{Page, Scope};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::text::{bounded, line};
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::store::{PlanListFilter, ReadFilter, Session};

/// A meeting on the wire.
fn encode(m: &Meeting) -> proto::Meeting {
    let names = |ids: &[ResourceId]| {
        ids.iter()
            .map(|id| plan_item(m.plan, "members", *id))
            .collect()
    };
    proto::Meeting {
        name: plan_item(m.plan, "meetings", m.id),
        start_time: Some(timestamp(m.start_time)),
        location: m.location.clone(),
        video_link: m.video_link.clone(),
        agenda: m.agenda.clone(),
        invited_members: names(&m.invited),
        attended_members: names(&m.attended),
        minutes: m.minutes.clone(),
        create_time: Some(timestamp(m.create_time)),
        update_time: Some(timestamp(m.update_time)),
        etag: super::convert::etag_of(m.revision),
    }
}

/// The meeting fields an update mask may name.
const UPDATABLE: &[(&str, ())] = &[
    ("start_time", ()),
    ("location", ()),
    ("video_link", ()),
    ("agenda", ()),
    ("invited_members", ()),
    ("attended_members", ()),
    ("minutes", ()),
];
const FIXED: &[&str] = &["name", "create_time", "update_time", "etag"];

/// Applies the fields `paths` names from `input` to `meeting`, naming every bad value.
fn apply(meeting: &mut Meeting, input: &proto::Meeting, paths: &[String]) -> Result<(), Error> {
    let mut v = Violations::default();
    // A list of members holds at most as many as a group may, each once.
    let members = |v: &mut Violations, field: &str, names: &[String]| -> Vec<ResourceId> {
        let cap = usize::try_from(Holding::Members.cap()).unwrap_or(usize::MAX);
        let names = v.check(at_most(field, names, cap)).unwrap_or_default();
        let mut ids: Vec<ResourceId> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let id = v.check(same_plan(
                &format!("{field}[{i}]"),
                meeting.plan,
                member_name(&format!("{field}[{i}]"), n),
            ));
            if let Some(id) = id
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    };
    for path in paths {
        match path.as_str() {
            "start_time" => match v.check(instant("meeting.start_time", input.start_time.as_ref()))
            {
                Some(Some(t)) => meeting.start_time = t,
                Some(None) => v.push(FieldViolation::new("meeting.start_time", "must be set")),
                None => {}
            },
            "location" => {
                if let Some(l) = v.check(line("meeting.location", &input.location, 200, false)) {
                    meeting.location = l;
                }
            }
            "video_link" => {
                if let Some(l) = v.check(video_link("meeting.video_link", &input.video_link)) {
                    meeting.video_link = l;
                }
            }
            "agenda" => {
                if let Some(a) = v.check(bounded(
                    "meeting.agenda",
                    &input.agenda,
                    MAX_MEETING_TEXT,
                    false,
                )) {
                    meeting.agenda = a;
                }
            }
            "invited_members" => {
                meeting.invited =
                    members(&mut v, "meeting.invited_members", &input.invited_members);
            }
            "attended_members" => {
                meeting.attended =
                    members(&mut v, "meeting.attended_members", &input.attended_members);
            }
            "minutes" => {
                if let Some(m) = v.check(bounded(
                    "meeting.minutes",
                    &input.minutes,
                    MAX_MEETING_TEXT,
                    false,
                )) {
                    meeting.minutes = m;
                }
            }
            _ => {}
        }
    }
    if meeting.location.is_empty() && meeting.video_link.is_empty() {
        v.push(FieldViolation::new(
            "meeting.location",
            "a meeting needs a location or a video link",
        ));
    }
    if let Some(stranger) = meeting
        .attended
        .iter()
        .position(|a| !meeting.invited.contains(a))
    {
        v.push(FieldViolation::new(
            format!("meeting.attended_members[{stranger}]"),
            "must be one of the invited members",
        ));
    }
    v.finish()
}

/// Checks that every member a meeting names serves, or served, on its plan.
async fn check_members(session: &mut Session, meeting: &Meeting) -> Result<(), Error> {
    let mut v = Violations::default();
    for (field, ids) in [
        ("meeting.invited_members", &meeting.invited),
        ("meeting.attended_members", &meeting.attended),
    ] {
        for (i, id) in ids.iter().enumerate() {
            match session.member(meeting.plan, *id).await {
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

impl Context {
    /// CreateMeeting.
    pub(super) async fn create_meeting(
        &self,
        who: &Principal,
        req: proto::CreateMeetingRequest,
    ) -> Result<proto::Meeting, Error> {
        let plan = plan_name("parent", &req.parent).map_err(Error::from)?;
        let input = req
            .meeting
            .ok_or_else(|| Error::invalid("meeting", "must be set"))?;
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
        };
        let all: Vec<String> = UPDATABLE.iter().map(|(p, _)| p.to_string()).collect();
        apply(&mut meeting, &input, &all)?;
        let mut session = self.store.write().await?;
        let result = async {
            let access = self
                .guard
                .plan(
                    &mut session,
                    who,
                    plan,
                    Object::Meeting,
                    Action::Create,
                    now,
                )
                .await?;
            access.plan.check_open_or_declined()?;
            check_members(&mut session, &meeting).await?;
            let change = Change::begin(&mut session, &access, who, false, now).await?;
            session
                .insert_meeting(&access.plan, &meeting, &who.subject)
                .await?;
            let name = plan_item(plan, "meetings", meeting.id);
            change
                .finish(
                    &mut session,
                    &access,
                    who,
                    &[format!("meeting scheduled: {name}")],
                    now,
                )
                .await?;
            Ok(encode(&meeting))
        }
        .await;
        session.finish(result).await
    }

    /// GetMeeting.
    pub(super) async fn get_meeting(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<proto::Meeting, Error> {
        let (plan, id) = meeting_name("name", name)?;
        let now = Instant::now();
        let mut session = self.store.read().await?;
        self.guard
            .plan(&mut session, who, plan, Object::Meeting, Action::Read, now)
            .await?;
        Ok(encode(&session.meeting(plan, id).await?))
    }

    /// ListMeetings.
    pub(super) async fn list_meetings(
        &self,
        who: &Principal,
        req: &proto::ListMeetingsRequest,
    ) -> Result<proto::ListMeetingsResponse, Error> {
        let (plan, page) = plan_page(
            "ListMeetings",
            &req.parent,
            req.page_size,
            &req.page_token,
            "",
        )?;
        let now = Instant::now();
        let mut session = self.store.read().await?;
        self.guard
            .plan(&mut session, who, plan, Object::Meeting, Action::Read, now)
            .await?;
        let mut meetings = session.list_meetings(plan, page).await?;
        let next_page_token = page.next_token(&mut meetings, |m| m.id);
        Ok(proto::ListMeetingsResponse {
            meetings: meetings.iter().map(encode).collect(),
            next_page_token,
        })
    }

    /// UpdateMeeting.
    pub(super) async fn update_meeting(
        &self,
        who: &Principal,
        req: proto::UpdateMeetingRequest,
    ) -> Result<proto::Meeting, Error> {
        let input = req
            .meeting
            .ok_or_else(|| Error::invalid("meeting", "must be set"))?;
        let mut v = Violations::default();
        let name = v.check(meeting_name("meeting.name", &input.name));
        let expected = v.check(required_etag("meeting.etag", &input.etag));
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let fields = v.check_all(mask::resolve(&paths, UPDATABLE, FIXED));
        let (Some((plan, id)), Some(expected), Some(fields)) = (name, expected, fields) else {
            return Err(v.into_error());
        };
        let paths: Vec<String> = fields.into_iter().map(|(p, _)| p).collect();
        let now = Instant::now();
        let mut session = self.store.write().await?;
        let result = async {
            let access = self
                .guard
                .plan(
                    &mut session,
                    who,
                    plan,
                    Object::Meeting,
                    Action::Update,
                    now,
                )
                .await?;
            access.plan.check_open_or_declined()?;
            let mut meeting = session.meeting(plan, id).await?;
            if meeting.revision != expected {
                return Err(Error::Aborted(
                    "the meeting changed since it was read: read it again".into(),
                ));
            }
            apply(&mut meeting, &input, &paths)?;
            check_members(&mut session, &meeting).await?;
            meeting.update_time = now;
            let change = Change::begin(&mut session, &access, who, false, now).await?;
            session.save_meeting(&meeting, expected).await?;
            meeting.revision += 1;
            let name = plan_item(plan, "meetings", meeting.id);
            change
                .finish(
                    &mut session,
                    &access,
                    who,
                    &[format!("meeting updated ({}): {name}", paths.join(", "))],
                    now,
                )
                .await?;
            Ok(encode(&meeting))
        }
        .await;
        session.finish(result).await
    }

    /// ListMyPlans: the plans the caller serves on, read through the member relations the
    /// policy lets read, filtered in SQL.
    pub(super) async fn list_my_plans(
        &self,
        who: &Principal,
        req: &proto::ListMyPlansRequest,
    ) -> Result<proto::ListMyPlansResponse, Error> {
        let page = Page::parse(
            req.page_size,
            &req.page_token,
            Scope::of("ListMyPlans", "", ""),
        )
        .map_err(Error::InvalidArgument)?;
        let now = Instant::now();
        let mut session = self.store.read().await?;
        let filter = self.guard.read_filter(&mut session, Object::Plan).await?;
        let serving = ReadFilter {
            relations: filter
                .relations
                .into_iter()
                .filter(|r| {
                    matches!(
                        r,
                        Relation::Member | Relation::Coordinator | Relation::Representative
                    )
                })
                .collect(),
            org_roles: Vec::new(),
        };
        let mut rows = session
            .list_plans(&serving, &PlanListFilter::default(), who, page, now)
            .await?;
        let next_page_token = page.next_token(&mut rows, |r| r.plan.id);
        let listed: Vec<PlanAccess> = rows.into_iter().map(PlanAccess::from).collect();
        self.guard
            .record_listed_plans(&mut session, who, &listed, now)
            .await?;
        let mut plans = Vec::new();
        for access in &listed {
            let show = self.guard.may_see_identities(access, who)?;
            let membership = session.my_membership(access.plan.id, who, now).await?;
            plans.push(proto::MyPlan {
                plan: Some(encode_plan(&access.plan, show)),
                membership: membership.as_ref().map(|m| encode_member(m, show)),
            });
        }
        Ok(proto::ListMyPlansResponse {
            plans,
            next_page_token,
        })
    }
}
