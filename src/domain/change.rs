//! The change feed (ListPlanChanges, WatchPlanChanges): what an agency system, an app or an
//! EHR follows instead of polling. Each event is one revision of a plan's history, naming what
//! it changed (by part, with resource names and new etags) and never more than the reader could
//! read with Get: a scoped reader gets only the changes their sight covers, and no event for a
//! revision that changed nothing they see.
//!
//! What a history line is about is decided here, once (`Changed::of_line`): the feed names it,
//! and `Sight::sees_change` shows or hides it by the same answer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::FieldViolation;
use super::ids::ResourceId;
use super::scope::{PlanPart, Sight, Within};
use super::time::Instant;

/// What one history line (a revision's change, as `ops` words it) is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    /// The plan's header: its creation, status, review date, the patient's display name,
    /// language and interpreter need, and its moves to another responsible organisation.
    Plan,
    /// The patient's own sections, or their wish for a coordinator.
    PatientSections,
    /// The contacts.
    Contacts,
    /// A goal, when the line names it.
    Goal(Option<ResourceId>),
    /// A measure, when the line names it.
    Measure(Option<ResourceId>),
    /// A meeting, when the line names it.
    Meeting(Option<ResourceId>),
    /// Whom a meeting invited, or who attended: the meeting's and the group's at once.
    MeetingAttendance(Option<ResourceId>),
    /// A membership of the group.
    Member,
    /// The coordinator's appointment.
    Coordinator,
    /// The consent in force.
    Consent,
    /// The patient's signature.
    Signature,
    /// The referral the plan was requested by, or its answer.
    Referral,
    /// The patient's decisions on access (blocks, scopes), and any line not known here: only
    /// for those who see the whole plan.
    Access,
    /// A step of a complaint's handling (pasient- og brukerrettighetsloven chapter 7): never a
    /// plan's history line, and delivered only to those the complaint lets read it.
    Complaint(ResourceId),
}

impl Changed {
    /// What `line` is about.
    pub fn of_line(line: &str) -> Changed {
        let item = |kind: &str| {
            let marker = format!("/{kind}/");
            line.rsplit_once(&marker).and_then(|(_, id)| ResourceId::parse(id))
        };
        const PLAN: [&str; 8] = [
            "plan created",
            "plan transferred from ",
            "transfer to ",
            "status changed from ",
            "next_review_date updated",
            "patient_display_name updated",
            "preferred_language updated",
            "interpreter updated",
        ];
        if line.starts_with("sections") || line.starts_with("coordinator wish") {
            Changed::PatientSections
        } else if line.starts_with("contacts ") {
            Changed::Contacts
        } else if line.starts_with("goal ") {
            Changed::Goal(item("goals"))
        } else if line.starts_with("measure ") {
            Changed::Measure(item("measures"))
        } else if line.starts_with("meeting ") {
            let paths = line.split_once('(').and_then(|(_, rest)| rest.split_once(')'));
            let paths = paths.map_or("", |(paths, _)| paths);
            match paths.contains("invited_members") || paths.contains("attended_members") {
                true => Changed::MeetingAttendance(item("meetings")),
                false => Changed::Meeting(item("meetings")),
            }
        } else if line.starts_with("member ") {
            Changed::Member
        } else if line.starts_with("coordinator ") {
            Changed::Coordinator
        } else if line.starts_with("consent ") {
            Changed::Consent
        } else if line.starts_with("signed by the ") {
            Changed::Signature
        } else if line.starts_with("plan requested by referrals/") || line.starts_with("referrals/")
        {
            Changed::Referral
        } else if PLAN.iter().any(|h| line.starts_with(h)) {
            Changed::Plan
        } else {
            Changed::Access
        }
    }

    /// Whether `sight` shows it.
    pub fn seen_by(self, sight: &Sight) -> bool {
        match self {
            _ if sight.is_whole() => true,
            Changed::Plan | Changed::Consent | Changed::Signature | Changed::Referral => true,
            Changed::PatientSections => sight.sees(PlanPart::PatientSections),
            Changed::Contacts => sight.sees(PlanPart::Contacts),
            Changed::Goal(id) => id.is_some_and(|id| sight.sees_goal(id)),
            Changed::Measure(id) => id.is_some_and(|id| sight.sees_measure(id)),
            Changed::Meeting(_) => sight.sees(PlanPart::Meetings),
            Changed::MeetingAttendance(_) => {
                sight.sees(PlanPart::Meetings) && sight.sees(PlanPart::Group)
            }
            Changed::Member | Changed::Coordinator => sight.sees(PlanPart::Group),
            Changed::Access | Changed::Complaint(_) => false,
        }
    }
}

/// A position in the change feed: after the event of the transaction `txid`, row `seq`. The
/// client keeps it as an opaque cursor (`encode`), and resumes from it, across restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The writing transaction (PostgreSQL's 64-bit transaction id; 0 on SQLite).
    pub txid: i64,
    /// The row within the feed.
    pub seq: i64,
}

/// What a cursor starts with, so that one of another kind (a page token) is refused.
const CURSOR_PREFIX: &str = "pc1:";

impl Position {
    /// The cursor a client keeps.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}:{}", self.txid, self.seq))
    }

    /// The position of a cursor `field` holds; `None` for an empty one (start at the oldest
    /// change the feed keeps).
    pub fn parse(field: &str, cursor: &str) -> Result<Option<Position>, FieldViolation> {
        if cursor.is_empty() {
            return Ok(None);
        }
        let bad = || FieldViolation::new(field, "is not a cursor this feed handed out");
        let text = URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok());
        let text = text.ok_or_else(bad)?;
        let (txid, seq) =
            text.strip_prefix(CURSOR_PREFIX).and_then(|t| t.split_once(':')).ok_or_else(bad)?;
        let number = |n: &str| n.parse::<i64>().ok().filter(|n| *n >= 0);
        match (number(txid), number(seq)) {
            (Some(txid), Some(seq)) => Ok(Some(Position { txid, seq })),
            _ => Err(bad()),
        }
    }
}

/// One thing a revision changed, as the feed names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedResource {
    /// What it is about.
    pub changed: Changed,
    /// The item's new etag, when it has one and still exists.
    pub etag: Option<i64>,
    /// The revision deleted the item.
    pub deleted: bool,
}

/// One event of the change feed: a revision of a plan's history, or a step of a complaint.
#[derive(Clone, Debug)]
pub struct PlanChange {
    /// Where the feed stands after it.
    pub position: Position,
    /// The plan; `None` for a complaint's step.
    pub plan: Option<ResourceId>,
    /// The history revision it made; for a complaint's step, the complaint's revision after it.
    pub revision: i64,
    /// When.
    pub time: Instant,
    /// What it changed, each thing once, in the order the history names them.
    pub changed: Vec<ChangedResource>,
    /// The plan's etag after it, when the change moved it (the plan's fields, consent,
    /// signature) and the reader sees every field it versions (as GetPlan shows the etag).
    pub plan_etag: Option<i64>,
}

impl PlanChange {
    /// The event of revision `revision` from its history lines and the etags written with it
    /// (`etags_text`, `kind/id=etag` per line, `plan=N`).
    pub fn of_revision(
        position: Position,
        plan: ResourceId,
        revision: i64,
        time: Instant,
        lines: &[String],
        etags_text: &str,
    ) -> PlanChange {
        let etag_of = |key: &str| {
            etags_text
                .lines()
                .find_map(|l| l.split_once('=').filter(|(k, _)| *k == key))
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        let mut changed: Vec<ChangedResource> = Vec::new();
        for line in lines {
            let what = Changed::of_line(line);
            let deleted = line.starts_with("goal deleted") || line.starts_with("measure deleted");
            let etag = match what {
                Changed::Goal(Some(id)) => etag_of(&format!("goal/{id}")),
                Changed::Measure(Some(id)) => etag_of(&format!("measure/{id}")),
                _ => None,
            };
            match changed.iter_mut().find(|c| c.changed == what) {
                Some(seen) => {
                    seen.deleted |= deleted;
                    seen.etag = if seen.deleted { None } else { etag.or(seen.etag) };
                }
                None => changed.push(ChangedResource {
                    changed: what,
                    etag: if deleted { None } else { etag },
                    deleted,
                }),
            }
        }
        // Written only when the plan's etag moved: its fields, its consent or its signature.
        let plan_etag = etag_of("plan");
        PlanChange { position, plan: Some(plan), revision, time, changed, plan_etag }
    }

    /// The event of a complaint's step, which left it at `revision` (also its etag).
    pub fn of_complaint(
        position: Position,
        complaint: ResourceId,
        revision: i64,
        time: Instant,
    ) -> PlanChange {
        let changed = ChangedResource {
            changed: Changed::Complaint(complaint),
            etag: Some(revision),
            deleted: false,
        };
        PlanChange { position, plan: None, revision, time, changed: vec![changed], plan_etag: None }
    }

    /// The complaint whose step this is; `None` for a plan's revision.
    pub fn complaint(&self) -> Option<ResourceId> {
        match self.changed.as_slice() {
            [ChangedResource { changed: Changed::Complaint(id), .. }] => Some(*id),
            _ => None,
        }
    }
}

/// An event shows what the reader's sight covers of it; one that changed nothing they see is
/// absent. The plan's etag shows only to those who see every field it versions, as in GetPlan.
impl Within for PlanChange {
    const WHAT: &'static str = "plan change";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        self.changed.retain(|c| c.changed.seen_by(sight));
        if self.changed.is_empty() {
            return None;
        }
        if !(sight.sees(PlanPart::PatientSections) && sight.sees(PlanPart::Contacts)) {
            self.plan_etag = None;
        }
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let at = Position { txid: 7_000_000_000, seq: 42 };
        assert_eq!(Position::parse("cursor", &at.encode()).unwrap(), Some(at));
        assert_eq!(Position::parse("cursor", "").unwrap(), None);
        for bad in ["x", "cGMxOi0xOjI", "cGMxOjE", "dG9rZW46MToy", "cGMxOjE6Mjp4"] {
            let refused = Position::parse("cursor", bad).unwrap_err();
            assert_eq!(refused.field, "cursor", "{bad}");
        }
    }

    #[test]
    fn a_revision_names_each_thing_once_with_its_etag() {
        let plan = ResourceId::generate();
        let goal = ResourceId::generate();
        let lines = vec![
            format!("goal created: plans/{plan}/goals/{goal}"),
            format!("goal updated (text): plans/{plan}/goals/{goal}"),
            "sections.important_to_me updated".to_owned(),
        ];
        let etags = format!("plan=4\ngoal/{goal}=2");
        let change =
            PlanChange::of_revision(Position::default(), plan, 9, Instant(0), &lines, &etags);
        assert_eq!(change.changed.len(), 2);
        assert_eq!(change.changed[0].changed, Changed::Goal(Some(goal)));
        assert_eq!(change.changed[0].etag, Some(2));
        assert_eq!(change.plan_etag, Some(4));
        let deleted = vec![format!("goal deleted: plans/{plan}/goals/{goal}")];
        let change =
            PlanChange::of_revision(Position::default(), plan, 10, Instant(0), &deleted, "");
        assert!(change.changed[0].deleted && change.changed[0].etag.is_none());
        assert_eq!(change.plan_etag, None, "the plan's etag did not move");
        let consent = vec!["consent given to 930000000".to_owned()];
        let change =
            PlanChange::of_revision(Position::default(), plan, 11, Instant(0), &consent, "plan=5");
        assert_eq!(change.plan_etag, Some(5), "consent moves the plan's etag");
    }
}
