//! The coordinator (koordinator): the patient's wish, appointing and replacing one, and the
//! work lists of coordinators and their units.

use super::{ChangeKind, Context, Listed, Shown, edit_plan};
use crate::auth::{Action, Guard, Object, PlanPass};
use crate::domain::coordinator::{Assignment, CoordinatorWish, NewAssignment};
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::member::{MemberRole, NewMember};
use crate::domain::names::plan_item;
use crate::domain::page::{MAX_PAGE_SIZE, Page};
use crate::domain::plan::{Plan, PlanStatus};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::scope::{Sight, Within};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::{PlanListFilter, ReadFilter, Session, check_plan_version};

/// Which work list a caller asks for when they name no plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkList {
    /// The plans the caller coordinates, most urgent review first.
    Mine,
    /// The plans of the caller's unit that have no coordinator.
    WithoutCoordinator,
}

/// One entry of a work list or of a plan's appointments.
#[derive(Debug)]
pub struct AssignmentEntry {
    /// The plan.
    pub plan: Plan,
    /// The appointment, when there is one.
    pub assignment: Option<Assignment>,
    /// Whether the plan's review is overdue today.
    pub review_overdue: bool,
}

/// The plan as its sight allows; an entry of an appointment shows with the group.
impl Within for AssignmentEntry {
    const WHAT: &'static str = "coordinator assignment";

    fn within(self, sight: &Sight) -> Option<Self> {
        let assignment = match self.assignment {
            Some(a) => Some(a.within(sight)?),
            None => None,
        };
        Some(AssignmentEntry { plan: self.plan.within(sight)?, assignment, ..self })
    }
}

/// Appoints `new` (the request's `field`) as the plan's coordinator: they act for the plan's
/// responsible organisation (`NewAssignment::check_acts_for`), the plan must not be closed,
/// must have no current coordinator, and the policy's local rules must not bar the person. The
/// coordinator joins the group in that role. Part of the caller's session and change.
pub(crate) async fn appoint(
    guard: &Guard,
    session: &mut Session,
    pass: &PlanPass,
    new: &NewAssignment,
    field: &str,
    who: &Principal,
    now: Instant,
) -> Result<Assignment> {
    who.refuse_own(&new.subject, "appoints a coordinator")?;
    new.check_acts_for(field, pass.organisation())?;
    new.kind.check_patient(&pass.plan().patient, Date::today_in_norway(now))?;
    if pass.plan().status == PlanStatus::Closed {
        return Err(Error::FailedPrecondition(
            "the plan is PLAN_STATUS_CLOSED: it cannot get a coordinator".into(),
        ));
    }
    if session.current_assignment(pass).await?.is_some() {
        return Err(Error::FailedPrecondition(
            "the plan has a coordinator already: use ReplaceCoordinator".into(),
        ));
    }
    if guard.barred_from_coordinating(&new.subject, &new.organisation)? {
        return Err(Error::FailedPrecondition(
            "a local rule in the policy bars this person from being coordinator".into(),
        ));
    }
    let member = NewMember::serving(
        new.subject.clone(),
        &new.display_name,
        MemberRole::Coordinator,
        new.organisation.clone(),
    );
    let member = session.insert_member(pass, &member, &who.subject, now).await?;
    session.insert_assignment(pass, &member, new, &who.subject, now).await
}

impl Context {
    /// RecordCoordinatorWish: whom the patient wishes as coordinator, on a plan not closed.
    pub async fn record_coordinator_wish(
        &self,
        who: &Principal,
        plan: ResourceId,
        etag: i64,
        wish: CoordinatorWish,
    ) -> Result<Shown<Plan>> {
        self.write(async |s, now| {
            let pass =
                self.guard.plan(s, who, plan, Object::CoordinatorWish, Action::Record, now).await?;
            check_plan_version(pass.plan(), etag)?;
            if pass.plan().status == PlanStatus::Closed {
                return Err(Error::FailedPrecondition("the plan is PLAN_STATUS_CLOSED".into()));
            }
            let (_, pass) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                let mut plan = pass.plan().clone();
                plan.coordinator_wish = Some(wish);
                s.save_plan(&pass, &plan, etag, now).await?;
                Ok(((), vec!["coordinator wish recorded".to_owned()]))
            })
            .await?;
            Shown::by(&pass, pass.plan().clone())
        })
        .await
    }

    /// AppointCoordinator, or ReplaceCoordinator when `end_reason` is given: the current
    /// appointment ends with that reason and the new one begins, in one change.
    pub async fn appoint_coordinator(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewAssignment,
        end_reason: Option<String>,
    ) -> Result<Shown<(Option<Assignment>, Assignment)>> {
        self.write(async |s, now| {
            let pass =
                self.guard.plan(s, who, plan, Object::Coordinator, Action::Appoint, now).await?;
            let (pair, _) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                let ended = match &end_reason {
                    Some(reason) => {
                        let current = s.current_assignment(&pass).await?.ok_or_else(|| {
                            Error::FailedPrecondition(
                                "the plan has no coordinator to replace".into(),
                            )
                        })?;
                        if current.subject == new.subject
                            && current.organisation == new.organisation
                            && current.kind == new.kind
                        {
                            return Err(Error::FailedPrecondition(
                                "they are the plan's coordinator already: name another".into(),
                            ));
                        }
                        Some(s.end_assignment(&pass, &current, reason, now).await?)
                    }
                    None => None,
                };
                let assignment =
                    appoint(&self.guard, s, &pass, &new, "assignment", who, now).await?;
                let name = plan_item(plan, "coordinatorAssignments", assignment.id);
                let line = if ended.is_some() {
                    format!("coordinator replaced: {name}")
                } else {
                    format!("coordinator appointed: {name}")
                };
                Ok(((ended, assignment), vec![line]))
            })
            .await?;
            Shown::by(&pass, pair)
        })
        .await
    }

    /// ListCoordinatorAssignments for one plan: its appointments, oldest first.
    pub async fn list_plan_assignments(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Listed<Shown<AssignmentEntry>>> {
        let now = Instant::now();
        let today = Date::today_in_norway(now);
        self.store
            .read_with(async |s| {
                let pass = self.plan_pass(s, who, plan, &[], now).await?;
                let mut all = s.assignments(&pass).await?;
                let start = after(&all, page, |a| a.id);
                let mut rest: Vec<Assignment> = all.drain(start..).collect();
                let next_page_token = page.next_token(&mut rest, |a| a.id);
                let entries = rest.into_iter().map(|a| entry(&pass, Some(a), today));
                let items = Shown::all_by(&pass, entries);
                Ok(Listed { items, next_page_token })
            })
            .await
    }

    /// ListCoordinatorAssignments without a plan: the caller's work list, of the plans whose
    /// patient needs an interpreter alone when `interpreter_needed`.
    pub async fn work_list(
        &self,
        who: &Principal,
        list: WorkList,
        interpreter_needed: bool,
        page: Page,
    ) -> Result<Listed<Shown<AssignmentEntry>>> {
        let filter = PlanListFilter { interpreter_needed, ..PlanListFilter::default() };
        self.read(async |s, now| match list {
            WorkList::WithoutCoordinator => {
                self.without_coordinator(s, who, &filter, page, now).await
            }
            WorkList::Mine => self.coordinated_by(s, who, &filter, page, now).await,
        })
        .await
    }

    /// The plans of the caller's unit that have no coordinator, for unit staff who appoint.
    async fn without_coordinator(
        &self,
        s: &mut Session,
        who: &Principal,
        filter: &PlanListFilter,
        page: Page,
        now: Instant,
    ) -> Result<Listed<Shown<AssignmentEntry>>> {
        let today = Date::today_in_norway(now);
        let organisation = who
            .organisation
            .clone()
            .ok_or_else(|| Error::PermissionDenied("only unit staff have this work list".into()))?;
        let org = self
            .guard
            .organisation(s, who, &organisation, Object::Coordinator, Action::Appoint, now)
            .await?;
        let mut plans = s.plans_without_coordinator(&org, who, filter, page).await?;
        let next_page_token = page.next_token(&mut plans, |p| p.id);
        let passes = self.guard.listed_org_plans(s, who, &org, plans, now).await?;
        let items = passes
            .iter()
            .map(|pass| Shown::by(pass, entry(pass, None, today)))
            .collect::<Result<_>>()?;
        Ok(Listed { items, next_page_token })
    }

    /// The plans the caller coordinates, read through the coordinator relation, most urgent
    /// review first. A coordinator's list is short: it is sorted whole and paged by position
    /// after the token's plan.
    async fn coordinated_by(
        &self,
        s: &mut Session,
        who: &Principal,
        list: &PlanListFilter,
        page: Page,
        now: Instant,
    ) -> Result<Listed<Shown<AssignmentEntry>>> {
        let today = Date::today_in_norway(now);
        let Some(organisation) = who.organisation.clone() else {
            return Ok(Listed { items: Vec::new(), next_page_token: String::new() });
        };
        let filter = self.guard.read_filter(s, Object::Plan).await?;
        // The coordinator relation alone, so the query walks the caller's coordinator
        // memberships and no others (a coordinator is a member: either grant lets them read).
        let reads = filter.grants(Relation::Coordinator) || filter.grants(Relation::Member);
        let relations = if reads { vec![Relation::Coordinator] } else { Vec::new() };
        let only_coordinator = ReadFilter { relations, org_roles: Vec::new() };
        let assignments = s.coordinated_plans(&who.subject, &organisation).await?;
        let mut rows = Vec::new();
        let mut after_id = None;
        loop {
            let all = Page::unscoped(MAX_PAGE_SIZE, after_id);
            let mut batch = s.list_plans(&only_coordinator, list, who, all, now).await?;
            let more = batch.len() > MAX_PAGE_SIZE as usize;
            batch.truncate(MAX_PAGE_SIZE as usize);
            after_id = batch.last().map(|r| r.plan.id);
            rows.extend(batch.into_iter().filter(|r| r.coordinator));
            if !more {
                break;
            }
        }
        rows.sort_by_key(|r| {
            (r.plan.next_review_date.is_none(), r.plan.next_review_date, r.plan.id)
        });
        let start = after(&rows, page, |r| r.plan.id);
        let mut rest: Vec<_> = rows.drain(start..).collect();
        let next_page_token = page.next_token(&mut rest, |r| r.plan.id);
        let passes = self.guard.listed_plans(s, who, rest, now).await?;
        let items = passes
            .iter()
            .map(|pass| {
                let assignment = assignments.iter().find(|a| a.plan == pass.id()).cloned();
                Shown::by(pass, entry(pass, assignment, today))
            })
            .collect::<Result<_>>()?;
        Ok(Listed { items, next_page_token })
    }
}

/// The position after the page token's item in a list sorted whole, or 0.
fn after<T>(all: &[T], page: Page, id: impl Fn(&T) -> ResourceId) -> usize {
    page.after
        .and_then(|after| all.iter().position(|t| id(t) == after).map(|i| i + 1))
        .unwrap_or(0)
        .min(all.len())
}

/// The entry of the plan `pass` is for, with `assignment`.
fn entry(pass: &PlanPass, assignment: Option<Assignment>, today: Date) -> AssignmentEntry {
    let plan = pass.plan().clone();
    let review_overdue = plan.next_review_date.is_some_and(|d| d < today);
    AssignmentEntry { plan, assignment, review_overdue }
}
