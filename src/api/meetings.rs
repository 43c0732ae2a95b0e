//! Meetings of the responsibility group on the wire, for
//! `samvirke.v1.ResponsibilityGroupService` (see `members.rs`).

use super::convert::{instant, item_at, masked, timestamp};
use crate::domain::goal::reason;
use crate::domain::ids::ResourceId;
use crate::domain::meeting::{MAX_MEETING_TEXT, Meeting, MeetingPatch, participants, video_link};
use crate::domain::names::{meeting_name, plan_item, plan_name};
use crate::domain::text::{Optional, Required, bounded, line};
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::ItemRef;
use crate::ops::meeting::UpdateMeeting;
use crate::proto;

/// A meeting on the wire.
pub(super) fn encode(m: &Meeting) -> proto::Meeting {
    let names =
        |ids: &[ResourceId]| ids.iter().map(|id| plan_item(m.plan, "members", *id)).collect();
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
        update_time: (m.revision != Meeting::REVISION_WITHHELD).then(|| timestamp(m.update_time)),
        etag: match m.revision {
            Meeting::REVISION_WITHHELD => String::new(),
            revision => super::convert::etag_of(revision),
        },
        cancel_time: m.cancel_time.map(timestamp),
        cancel_reason: m.cancel_reason.clone(),
        interpreter_booked: m.interpreter_booked,
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
    ("interpreter_booked", ()),
];
const FIXED: &[&str] =
    &["name", "create_time", "update_time", "etag", "cancel_time", "cancel_reason"];

/// Validates the fields `paths` names from `input` into a patch for a meeting of `plan`; what
/// is wrong goes with the patch, to be named with what is wrong with the meeting as a whole.
fn parse_patch(plan: ResourceId, input: &proto::Meeting, paths: &[String]) -> MeetingPatch {
    let mut v = Violations::default();
    let text = |v: &mut Violations, field: &str, value: &str| {
        v.check(bounded(field, value, MAX_MEETING_TEXT, Optional))
    };
    let mut patch = MeetingPatch::default();
    for path in paths {
        match path.as_str() {
            "start_time" => match v.check(instant("meeting.start_time", input.start_time.as_ref()))
            {
                Some(Some(t)) => patch.start_time = Some(t),
                Some(None) => v.push(FieldViolation::new("meeting.start_time", "must be set")),
                None => {}
            },
            "location" => {
                patch.location = v.check(line("meeting.location", &input.location, 200, Optional));
            }
            "video_link" => {
                patch.video_link = v.check(video_link("meeting.video_link", &input.video_link));
            }
            "agenda" => patch.agenda = text(&mut v, "meeting.agenda", &input.agenda),
            "invited_members" => {
                let field = "meeting.invited_members";
                patch.invited = Some(participants(&mut v, field, plan, &input.invited_members));
            }
            "attended_members" => {
                let field = "meeting.attended_members";
                patch.attended = Some(participants(&mut v, field, plan, &input.attended_members));
            }
            "minutes" => patch.minutes = text(&mut v, "meeting.minutes", &input.minutes),
            "interpreter_booked" => patch.interpreter_booked = Some(input.interpreter_booked),
            _ => {}
        }
    }
    patch.invalid = v.into_violations();
    patch
}

/// CreateMeeting's parent and meeting, every field validated.
pub(super) fn new_meeting(
    req: proto::CreateMeetingRequest,
) -> Result<(ResourceId, MeetingPatch), Error> {
    let plan = plan_name("parent", &req.parent).map_err(Error::from)?;
    let input = req.meeting.ok_or_else(|| Error::invalid("meeting", "must be set"))?;
    let all: Vec<String> = UPDATABLE.iter().map(|(p, _)| p.to_string()).collect();
    Ok((plan, parse_patch(plan, &input, &all)))
}

/// CancelMeeting's meeting, etag and reason, every violation at once.
pub(super) fn cancellation(req: &proto::CancelMeetingRequest) -> Result<(ItemRef, String), Error> {
    let mut v = Violations::default();
    let at = item_at(meeting_name, (&req.name, &req.etag), &mut v);
    let reason = v.check(reason("reason", &req.reason, Required));
    v.ok(at.zip(reason))
}

impl TryFrom<proto::UpdateMeetingRequest> for UpdateMeeting {
    type Error = Error;

    fn try_from(req: proto::UpdateMeetingRequest) -> Result<Self, Error> {
        let input = req.meeting.ok_or_else(|| Error::invalid("meeting", "must be set"))?;
        let mut v = Violations::default();
        let at = (&input.name[..], &input.etag[..]);
        let m = masked(&mut v, ("meeting", meeting_name), at, req.update_mask, (UPDATABLE, FIXED));
        let paths = m.paths();
        let ((plan, meeting), etag) = v.ok(m.at)?;
        let patch = parse_patch(plan, &input, &paths);
        Ok(UpdateMeeting { meeting: ItemRef { plan, item: meeting, etag }, paths, patch })
    }
}
