//! Meetings of a plan's responsibility group.

use super::Violations;
use super::error::at_most;
use super::ids::ResourceId;
use super::limits::Holding;
use super::names::{member_name, same_plan};
use super::text::Optional;
use super::time::Instant;

/// A meeting of the responsibility group (ansvarsgruppemøte), with its minutes (referat).
#[derive(Clone, Debug)]
pub struct Meeting {
    /// The meeting's id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// When it starts.
    pub start_time: Instant,
    /// Where.
    pub location: String,
    /// A video link.
    pub video_link: String,
    /// The agenda.
    pub agenda: String,
    /// The memberships invited.
    pub invited: Vec<ResourceId>,
    /// The memberships that attended.
    pub attended: Vec<ResourceId>,
    /// The minutes.
    pub minutes: String,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
    /// When it was cancelled, if it was.
    pub cancel_time: Option<Instant>,
    /// Why it was cancelled; empty while it stands.
    pub cancel_reason: String,
    /// An interpreter (tolk) is booked for it.
    pub interpreter_booked: bool,
}

impl Meeting {
    /// The `revision` of a meeting shown to a reader who does not see the group: its etag and
    /// update time are withheld (`domain::scope`), since a change of its invitations or
    /// attendance would show in them.
    pub const REVISION_WITHHELD: i64 = 0;

    /// A meeting of `plan` about to be scheduled `now`, with nothing set yet.
    pub fn new(plan: ResourceId, now: Instant) -> Meeting {
        Meeting {
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
            interpreter_booked: false,
        }
    }

    /// Checks that the meeting was not cancelled: a cancelled meeting takes no more changes.
    pub fn check_not_cancelled(&self) -> Result<(), super::Error> {
        match self.cancel_time {
            None => Ok(()),
            Some(_) => Err(super::Error::FailedPrecondition(
                "the meeting was cancelled: it takes no more changes".into(),
            )),
        }
    }
}

/// The longest agenda or minutes accepted, in characters.
pub const MAX_MEETING_TEXT: usize = 10_000;

/// The members a meeting names in `field` (invited or attended), as ids of `plan`'s members:
/// at most as many as a group may hold (`Holding::Members`), each once, in the order given;
/// what is wrong is recorded in `v`.
pub fn participants(
    v: &mut Violations,
    field: &str,
    plan: ResourceId,
    names: &[String],
) -> Vec<ResourceId> {
    let cap = usize::try_from(Holding::Members.cap()).unwrap_or(usize::MAX);
    let names = v.check(at_most(field, names, cap)).unwrap_or_default();
    let mut ids: Vec<ResourceId> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let field = format!("{field}[{i}]");
        if let Some(id) = v.check(same_plan(&field, plan, member_name(&field, n)))
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// Validates a video link: an https URL with a host, of at most 500 characters, one line of the
/// request's text type (`text::line`) without spaces.
pub fn video_link(field: &str, link: &str) -> Result<String, super::FieldViolation> {
    let link = super::text::line(field, link, 500, Optional)?;
    if link.is_empty() {
        return Ok(String::new());
    }
    let host = link
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    if host.is_none_or(str::is_empty) || link.chars().any(char::is_whitespace) {
        return Err(super::FieldViolation::new(
            field,
            "must be an https:// URL of at most 500 characters",
        ));
    }
    Ok(link.to_owned())
}

/// The fields of a meeting a request sets, each validated on its own; `None` leaves a field
/// as it is.
#[derive(Clone, Debug, Default)]
pub struct MeetingPatch {
    /// When it starts.
    pub start_time: Option<Instant>,
    /// Where.
    pub location: Option<String>,
    /// A video link.
    pub video_link: Option<String>,
    /// The agenda.
    pub agenda: Option<String>,
    /// The memberships invited, each once.
    pub invited: Option<Vec<ResourceId>>,
    /// The memberships that attended, each once.
    pub attended: Option<Vec<ResourceId>>,
    /// The minutes.
    pub minutes: Option<String>,
    /// Whether an interpreter is booked.
    pub interpreter_booked: Option<bool>,
    /// What was wrong with the request's fields, reported together with what is wrong with
    /// the meeting as a whole.
    pub invalid: Vec<super::FieldViolation>,
}

impl MeetingPatch {
    /// Applies the patch, then checks the meeting as a whole: it needs a location or a video
    /// link, and only invited members attend. Names every violation at once, the request's
    /// fields' first.
    pub fn apply(self, meeting: &mut Meeting) -> Result<(), super::Error> {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *field = value;
            }
        }
        set(&mut meeting.start_time, self.start_time);
        set(&mut meeting.location, self.location);
        set(&mut meeting.video_link, self.video_link);
        set(&mut meeting.agenda, self.agenda);
        set(&mut meeting.invited, self.invited);
        set(&mut meeting.attended, self.attended);
        set(&mut meeting.minutes, self.minutes);
        set(&mut meeting.interpreter_booked, self.interpreter_booked);
        let mut v = super::Violations::default();
        for violation in self.invalid {
            v.push(violation);
        }
        if meeting.location.is_empty() && meeting.video_link.is_empty() {
            v.push(super::FieldViolation::new(
                "meeting.location",
                "a meeting needs a location or a video link",
            ));
        }
        if let Some(stranger) = meeting.attended.iter().position(|a| !meeting.invited.contains(a)) {
            v.push(super::FieldViolation::new(
                format!("meeting.attended_members[{stranger}]"),
                "must be one of the invited members",
            ));
        }
        v.finish()
    }
}
