//! Access scopes: the patient, or their representative, decides *what* a member of the group,
//! or everyone serving for an organisation, sees of the plan, and *for how long*. A school then
//! sees the goals and measures it works on, not the patient's thoughts on their illness.
//!
//! A scope narrows what the `member` relation shows; it never widens anything. It does not
//! touch those who run the plan (the patient, their representatives, the coordinator, and the
//! responsible organisation's staff by their role), so the plan always has someone who sees it
//! whole. When a scope's `expire_time` has passed it grants nothing: the member is, to the
//! plan, as one whose membership ended, until the patient lifts the scope or gives a new one.
//!
//! What a member may not see is absent from every answer (`Sight` and `Within`), never
//! redacted text: the sections and contacts are empty, the goals, measures, meetings and
//! members outside the scope are not in any list, and naming one is `NOT_FOUND`.

use std::collections::BTreeSet;

use super::goal::Goal;
use super::ids::{OrgNumber, ResourceId};
use super::measure::Measure;
use super::meeting::Meeting;
use super::member::Member;
use super::plan::{PatientSections, Plan, PlanDocument};
use super::time::Instant;
use super::{FieldViolation, stored_enum};

stored_enum! {
    /// A part of a plan a scope can give sight of. The plan's header (whose plan it is, its
    /// status, responsible organisation, review date, language and interpreter need, consent
    /// and signature) is seen by everyone who may read the plan.
    PlanPart {
        /// The patient's own sections, in their words, and their wish for a coordinator.
        PatientSections = "patient_sections",
        /// The plan's contacts and phone numbers.
        Contacts = "contacts",
        /// All goals and measures, with their trails and evaluations.
        GoalsAndMeasures = "goals_and_measures",
        /// The measures the member is responsible for, and the goals they serve.
        OwnGoalsAndMeasures = "own_goals_and_measures",
        /// The group's meetings.
        Meetings = "meetings",
        /// The responsibility group: who serves on it, and its coordinator.
        Group = "group",
    }
}

impl PlanPart {
    /// The part's bit in a stored `Parts`.
    fn bit(self) -> i64 {
        1 << PlanPart::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// A set of parts, stored as a bit set of `PlanPart`s in the order they are declared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts(i64);

/// How much of the goals and measures a set of parts shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum GoalSight {
    None,
    Own,
    All,
}

impl Parts {
    /// The set of `parts`.
    pub fn of(parts: impl IntoIterator<Item = PlanPart>) -> Parts {
        Parts(parts.into_iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// The set as stored; unknown bits (of a later version) are dropped.
    pub fn from_stored(bits: i64) -> Parts {
        Parts(bits & Parts::of(PlanPart::ALL.iter().copied()).0)
    }

    /// The stored form.
    pub fn bits(self) -> i64 {
        self.0
    }

    /// Whether the set names `part`.
    pub fn contains(self, part: PlanPart) -> bool {
        self.0 & part.bit() != 0
    }

    /// The parts, in declaration order.
    pub fn parts(self) -> Vec<PlanPart> {
        PlanPart::ALL.iter().copied().filter(|p| self.contains(*p)).collect()
    }

    fn goals(self) -> GoalSight {
        if self.contains(PlanPart::GoalsAndMeasures) {
            GoalSight::All
        } else if self.contains(PlanPart::OwnGoalsAndMeasures) {
            GoalSight::Own
        } else {
            GoalSight::None
        }
    }

    /// What both sets show: a member scoped on their own and through their organisation sees
    /// only what each scope gives.
    pub fn intersect(self, other: Parts) -> Parts {
        let goals = match self.goals().min(other.goals()) {
            GoalSight::None => 0,
            GoalSight::Own => PlanPart::OwnGoalsAndMeasures.bit(),
            GoalSight::All => PlanPart::GoalsAndMeasures.bit(),
        };
        let mask = !(PlanPart::GoalsAndMeasures.bit() | PlanPart::OwnGoalsAndMeasures.bit());
        Parts((self.0 & other.0 & mask) | goals)
    }
}

/// Whose access a scope narrows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeTarget {
    /// One membership's person, acting for the organisation they serve for (none for a
    /// citizen); the scope follows the person if they are added again.
    Member(ResourceId),
    /// Everyone serving on the plan for an organisation.
    Organisation(OrgNumber),
}

/// An access scope, as it is kept.
#[derive(Clone, Debug)]
pub struct AccessScope {
    /// The scope's id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// Whose access it narrows.
    pub target: ScopeTarget,
    /// What they see.
    pub parts: Parts,
    /// When it lapses and grants nothing more; `None` while the patient lets it stand.
    pub expire_time: Option<Instant>,
    /// Who set it (a stored subject).
    pub created_by: String,
    /// When.
    pub create_time: Instant,
}

impl AccessScope {
    /// Whether it has lapsed at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expire_time.is_some_and(|t| t <= now)
    }
}

/// A scope as a request asks for it, every field checked.
#[derive(Clone, Debug)]
pub struct NewAccessScope {
    /// Whose access.
    pub target: ScopeTarget,
    /// What they see.
    pub parts: Parts,
    /// When it lapses.
    pub expire_time: Option<Instant>,
}

impl NewAccessScope {
    /// Checks the parts a request names: each a part, none twice. `field` names the list.
    pub fn parts(field: &str, given: &[Option<PlanPart>]) -> Result<Parts, Vec<FieldViolation>> {
        let mut seen = Vec::new();
        let mut violations = Vec::new();
        for (i, part) in given.iter().enumerate() {
            match part {
                None => violations
                    .push(FieldViolation::new(format!("{field}[{i}]"), "must name a plan part")),
                Some(p) if seen.contains(p) => violations
                    .push(FieldViolation::new(format!("{field}[{i}]"), "names a part twice")),
                Some(p) => seen.push(*p),
            }
        }
        if violations.is_empty() { Ok(Parts::of(seen)) } else { Err(violations) }
    }

    /// Checks an expiry: in the future of `now`.
    pub fn expiry(field: &str, at: Instant, now: Instant) -> Result<Instant, FieldViolation> {
        if at > now { Ok(at) } else { Err(FieldViolation::new(field, "must be in the future")) }
    }
}

/// What a caller sees of a plan they may read: all of it, or the parts a scope gives.
#[derive(Clone, Debug, Default)]
pub enum Sight {
    /// The whole plan: no scope applies to the caller.
    #[default]
    Whole,
    /// The parts a scope gives.
    Scoped(Scoped),
}

/// The sight of a scoped caller: the parts, and the items that are theirs.
#[derive(Clone, Debug, Default)]
pub struct Scoped {
    /// The parts.
    pub parts: Parts,
    /// The caller, as stored: they always see what they wrote themselves.
    pub subject: String,
    /// The caller's memberships of the plan, ended ones too: they always see their own.
    pub memberships: BTreeSet<ResourceId>,
    /// The measures the caller is responsible for.
    pub measures: BTreeSet<ResourceId>,
    /// The goals those measures serve.
    pub goals: BTreeSet<ResourceId>,
    /// The newest revision of the plan's history the reader sees, and when it was made: what
    /// they are told of the plan's revision and update time (`Within for Plan`).
    pub seen: Option<(i64, Instant)>,
}

impl Sight {
    /// Whether the caller sees the whole plan.
    pub fn is_whole(&self) -> bool {
        matches!(self, Sight::Whole)
    }

    /// Whether the caller sees `part`. The own goals and measures count as `GoalsAndMeasures`
    /// seen in part: ask `sees_goal` and `sees_measure` for the items.
    pub fn sees(&self, part: PlanPart) -> bool {
        match self {
            Sight::Whole => true,
            Sight::Scoped(s) => s.parts.contains(part),
        }
    }

    /// Whether the caller sees the goal `id`.
    pub fn sees_goal(&self, id: ResourceId) -> bool {
        self.sees_goals_item(|own| own.goals.contains(&id))
    }

    /// Whether the caller sees the measure `id`.
    pub fn sees_measure(&self, id: ResourceId) -> bool {
        self.sees_goals_item(|own| own.measures.contains(&id))
    }

    /// Whether the caller sees an item of the goals and measures that `theirs` says whether
    /// is their own.
    fn sees_goals_item(&self, theirs: impl Fn(&Scoped) -> bool) -> bool {
        match self {
            Sight::Whole => true,
            Sight::Scoped(s) => match s.parts.goals() {
                GoalSight::All => true,
                GoalSight::Own => theirs(s),
                GoalSight::None => false,
            },
        }
    }

    /// Whether the caller sees the membership `id`: the group's, or their own.
    pub fn sees_member(&self, id: ResourceId) -> bool {
        match self {
            Sight::Whole => true,
            Sight::Scoped(s) => s.parts.contains(PlanPart::Group) || s.memberships.contains(&id),
        }
    }

    /// Whether the caller may be shown that `author` (a stored subject) wrote something: who
    /// serves on the group is the group's part, so a scoped caller without it sees only their
    /// own name on what they see.
    pub fn shows_author(&self, author: &str) -> bool {
        match self {
            Sight::Whole => true,
            Sight::Scoped(s) => s.parts.contains(PlanPart::Group) || author == s.subject,
        }
    }

    /// `(author, relations)` as the caller may be shown them: empty when they may not.
    fn author(&self, author: &mut String, relations: &mut String) {
        if !self.shows_author(author) {
            author.clear();
            relations.clear();
        }
    }

    /// Whether the caller sees the history line `line` (one of a revision's changes, as
    /// `ops` words them). Lines about a part show with the part; lines about the record
    /// around the plan show to all; lines about the patient's own decisions on access (blocks,
    /// scopes), and any line not known here, show only to those who see the whole plan.
    pub fn sees_change(&self, line: &str) -> bool {
        super::change::Changed::of_line(line).seen_by(self)
    }
}

/// A value shown through a plan's pass, narrowed to what the reader's `Sight` gives: every
/// value an answer carries goes through it (`ops::Shown::by`), so nothing is shown around it.
pub trait Within: Sized {
    /// What the value is, for the `NOT_FOUND` of one the reader may not see.
    const WHAT: &'static str;

    /// The value as `sight` shows it; `None` when the reader may not see it at all.
    fn within(self, sight: &Sight) -> Option<Self>;
}

impl Within for Plan {
    const WHAT: &'static str = "plan";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        if !sight.sees(PlanPart::PatientSections) {
            self.sections = PatientSections::default();
            self.coordinator_wish = None;
        }
        if !sight.sees(PlanPart::Contacts) {
            self.contacts = Vec::new();
        }
        if let Sight::Scoped(scoped) = sight {
            // Changes the reader may not see do not show as the plan moving: its revision and
            // update time are those of the newest change they see, and the version of fields
            // they do not all see is withheld (they change none of them).
            if let Some((revision, time)) = scoped.seen
                && self.revision > revision
            {
                self.revision = revision;
                self.update_time = time;
                self.content_revision = self.content_revision.min(revision);
            }
            if !(sight.sees(PlanPart::PatientSections) && sight.sees(PlanPart::Contacts)) {
                self.version = Plan::VERSION_WITHHELD;
            }
        }
        Some(self)
    }
}

/// A goal shows with the goals and measures, its trail's authors with the group.
impl Within for Goal {
    const WHAT: &'static str = "goal";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        if !sight.sees_goal(self.id) {
            return None;
        }
        for step in &mut self.adjustments {
            sight.author(&mut step.author, &mut step.author_relations);
        }
        Some(self)
    }
}

/// A measure shows with the goals and measures, its evaluations' authors with the group.
impl Within for Measure {
    const WHAT: &'static str = "measure";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        if !sight.sees_measure(self.id) {
            return None;
        }
        for evaluation in &mut self.evaluations {
            sight.author(&mut evaluation.author, &mut evaluation.author_relations);
        }
        Some(self)
    }
}

/// A meeting shows with the meetings; whom it invited and who attended, and its etag and update
/// time, with the group (the caller sees their own invitation and attendance).
impl Within for Meeting {
    const WHAT: &'static str = "meeting";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        if !sight.sees(PlanPart::Meetings) {
            return None;
        }
        self.invited.retain(|m| sight.sees_member(*m));
        self.attended.retain(|m| sight.sees_member(*m));
        if !sight.sees(PlanPart::Group) {
            // A change of whom it invited, or who attended, must not show as the meeting
            // moving: its etag and update time are the group's to see.
            self.revision = Meeting::REVISION_WITHHELD;
        }
        Some(self)
    }
}

/// A membership shows with the group, or as the caller's own; who added it as authors show.
impl Within for Member {
    const WHAT: &'static str = "member";

    fn within(mut self, sight: &Sight) -> Option<Self> {
        if !sight.sees_member(self.id) {
            return None;
        }
        if !sight.shows_author(self.added_by.as_stored()) {
            self.added_by = super::subject::Subject::from_stored(String::new());
        }
        Some(self)
    }
}

impl Within for PlanDocument {
    const WHAT: &'static str = "plan";

    fn within(self, sight: &Sight) -> Option<Self> {
        Some(PlanDocument {
            plan: self.plan.within(sight)?,
            goals: self.goals.within(sight)?,
            measures: self.measures.within(sight)?,
        })
    }
}

/// A list shows the items the reader sees; the others are absent.
impl<T: Within> Within for Vec<T> {
    const WHAT: &'static str = T::WHAT;

    fn within(self, sight: &Sight) -> Option<Self> {
        Some(self.into_iter().filter_map(|item| item.within(sight)).collect())
    }
}

/// An optional value shows when absent, or when its reader sees it.
impl<T: Within> Within for Option<T> {
    const WHAT: &'static str = T::WHAT;

    fn within(self, sight: &Sight) -> Option<Self> {
        match self {
            None => Some(None),
            Some(value) => value.within(sight).map(Some),
        }
    }
}

/// A pair shows when both of its values do.
impl<A: Within, B: Within> Within for (A, B) {
    const WHAT: &'static str = B::WHAT;

    fn within(self, sight: &Sight) -> Option<Self> {
        Some((self.0.within(sight)?, self.1.within(sight)?))
    }
}

/// Values about the plan's access and record, which only those who see it whole are shown
/// (the policy gives them to the patient's side and to those who run the plan): to a scoped
/// reader they are absent.
macro_rules! whole_only {
    ($($t:ty => $what:literal),+ $(,)?) => {
        $(impl Within for $t {
            const WHAT: &'static str = $what;

            fn within(self, sight: &Sight) -> Option<Self> {
                sight.is_whole().then_some(self)
            }
        })+
    };
}

whole_only! {
    AccessScope => "access scope",
    super::block::Block => "block",
    super::plan::ConsentRecord => "consent",
    crate::store::AccessEventRow => "access event",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_intersect_to_what_both_give() {
        let school = Parts::of([PlanPart::GoalsAndMeasures, PlanPart::Meetings]);
        let own = Parts::of([PlanPart::OwnGoalsAndMeasures, PlanPart::Contacts]);
        assert_eq!(school.intersect(own), Parts::of([PlanPart::OwnGoalsAndMeasures]));
        assert_eq!(school.intersect(school), school);
        assert_eq!(school.intersect(Parts::default()), Parts::default());
        assert_eq!(Parts::from_stored(school.bits() | 1 << 40), school);
    }

    #[test]
    fn a_scoped_reader_sees_only_the_history_lines_of_their_parts() {
        let goal = ResourceId::generate();
        let other = ResourceId::generate();
        let plan = ResourceId::generate();
        let sight = Sight::Scoped(Scoped {
            parts: Parts::of([PlanPart::OwnGoalsAndMeasures]),
            goals: [goal].into(),
            ..Scoped::default()
        });
        assert!(sight.sees_change("plan created"));
        assert!(sight.sees_change(&format!("goal created: plans/{plan}/goals/{goal}")));
        assert!(!sight.sees_change(&format!("goal created: plans/{plan}/goals/{other}")));
        assert!(!sight.sees_change("sections.thoughts_on_illness updated"));
        assert!(!sight.sees_change("contacts updated"));
        assert!(!sight.sees_change("member added: Kari (school)"));
        assert!(!sight.sees_change("access blocked at the patient's request"));
        assert!(!sight.sees_change("something new"));
        assert!(Sight::Whole.sees_change("something new"));
    }
}
