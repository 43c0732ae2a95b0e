//! `samvirke.v1.CoordinatorService`, and the appointment that referrals reuse.

use tonic::{Request, Response, Status};

use super::convert::{plan_item, plan_name, required_etag, shown_subject, timestamp};
use super::document::{Change, encode_plan};
use super::{Context, principal};
use crate::auth::{Action, Guard, Object, PlanAccess};
use crate::domain::coordinator::{Assignment, CoordinatorWish, NewAssignment};
use crate::domain::date::Date;
use crate::domain::goal::reason;
use crate::domain::member::{MemberRole, NewMember};
use crate::domain::page::{MAX_PAGE_SIZE, Page, Scope};
use crate::domain::plan::{Plan, PlanStatus};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::proto::coordinator_service_server::CoordinatorService;
use crate::store::{PlanListFilter, ReadFilter, Session, check_plan_version};

/// The coordinator service.
pub struct CoordinatorApi(pub Context);

/// An appointment on the wire.
pub fn encode_assignment(a: &Assignment, show_identity: bool) -> proto::CoordinatorAssignment {
    proto::CoordinatorAssignment {
        name: plan_item(a.plan, "coordinatorAssignments", a.id),
        member: plan_item(a.plan, "members", a.member),
        subject: shown_subject(a.subject.as_stored(), show_identity),
        display_name: a.display_name.clone(),
        organisation: a.organisation.to_string(),
        wish_followed: a.wish_followed,
        reason: a.reason.clone(),
        start_time: Some(timestamp(a.start_time)),
        end_time: a.end_time.map(timestamp),
        end_reason: a.end_reason.clone(),
    }
}

/// Validates an appointment from the wire; fields are named under `field`.
pub fn parse_assignment(
    field: &str,
    a: Option<&proto::CoordinatorAssignment>,
) -> Result<NewAssignment, Vec<FieldViolation>> {
    let a = a.ok_or_else(|| vec![FieldViolation::new(field, "must be set")])?;
    NewAssignment::parse(
        field,
        &a.subject,
        &a.display_name,
        &a.organisation,
        a.wish_followed,
        &a.reason,
    )
}

/// Appoints `new` as the plan's coordinator: the plan must not be closed, must have no current
/// coordinator, and the policy's local rules must not bar the person. The coordinator joins the
/// group in that role. Part of the caller's session and change.
pub async fn appoint(
    guard: &Guard,
    session: &mut Session,
    plan: &Plan,
    new: &NewAssignment,
    who: &Principal,
    now: Instant,
) -> Result<Assignment, Error> {
    who.refuse_own(&new.subject, "appoints a coordinator")?;
    if plan.status == PlanStatus::Closed {
        return Err(Error::FailedPrecondition(
            "the plan is PLAN_STATUS_CLOSED: it cannot get a coordinator".into(),
        ));
    }
    if session.current_assignment(plan.id).await?.is_some() {
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
    let member = session
        .insert_member(plan, &member, &who.subject, now)
        .await?;
    session
        .insert_assignment(plan, &member, new, &who.subject, now)
        .await
}

impl CoordinatorApi {
    /// Runs an appointment or a replacement on a plan, in one session and one change.
    async fn appointing(
        &self,
        who: &Principal,
        plan: crate::domain::ids::ResourceId,
        new: &NewAssignment,
        end_reason: Option<&str>,
    ) -> Result<
        (
            Option<proto::CoordinatorAssignment>,
            proto::CoordinatorAssignment,
        ),
        Error,
    > {
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(
                    &mut session,
                    who,
                    plan,
                    Object::Coordinator,
                    Action::Appoint,
                    now,
                )
                .await?;
            let change = Change::begin(&mut session, &access, who, false, now).await?;
            let ended = match end_reason {
                Some(reason) => {
                    let current = session.current_assignment(plan).await?.ok_or_else(|| {
                        Error::FailedPrecondition("the plan has no coordinator to replace".into())
                    })?;
                    Some(session.end_assignment(&current, reason, now).await?)
                }
                None => None,
            };
            let assignment =
                appoint(&self.0.guard, &mut session, &access.plan, new, who, now).await?;
            let name = plan_item(plan, "coordinatorAssignments", assignment.id);
            let what = if ended.is_some() {
                format!("coordinator replaced: {name}")
            } else {
                format!("coordinator appointed: {name}")
            };
            change
                .finish(&mut session, &access, who, &[what], now)
                .await?;
            let show = self.0.guard.may_see_identities(&access, who)?;
            Ok((
                ended.map(|e| encode_assignment(&e, show)),
                encode_assignment(&assignment, show),
            ))
        }
        .await;
        session.finish(result).await
    }
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorApi {
    async fn record_coordinator_wish(
        &self,
        request: Request<proto::RecordCoordinatorWishRequest>,
    ) -> Result<Response<proto::RecordCoordinatorWishResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let now = Instant::now();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let wish = req.wish.unwrap_or_default();
        let wish = v.check_all(CoordinatorWish::parse(
            &wish.display_name,
            &wish.organisation,
            &wish.note,
            now,
        ));
        let (Some(id), Some(expected), Some(wish)) = (id, expected, wish) else {
            return Err(v.into_error().into());
        };
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(
                    &mut session,
                    &who,
                    id,
                    Object::CoordinatorWish,
                    Action::Record,
                    now,
                )
                .await?;
            check_plan_version(&access.plan, expected)?;
            if access.plan.status == PlanStatus::Closed {
                return Err(Error::FailedPrecondition(
                    "the plan is PLAN_STATUS_CLOSED".into(),
                ));
            }
            let change = Change::begin(&mut session, &access, &who, false, now).await?;
            let mut plan = access.plan.clone();
            plan.coordinator_wish = Some(wish);
            session.save_plan(&plan, expected, now).await?;
            let saved = change
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &["coordinator wish recorded".into()],
                    now,
                )
                .await?;
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok(encode_plan(&saved, show))
        }
        .await;
        let plan = session.finish(result).await?;
        Ok(Response::new(proto::RecordCoordinatorWishResponse {
            plan: Some(plan),
        }))
    }

    async fn appoint_coordinator(
        &self,
        request: Request<proto::AppointCoordinatorRequest>,
    ) -> Result<Response<proto::AppointCoordinatorResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let new = v.check_all(parse_assignment("assignment", req.assignment.as_ref()));
        let (Some(plan), Some(new)) = (plan, new) else {
            return Err(v.into_error().into());
        };
        let (_, assignment) = self.appointing(&who, plan, &new, None).await?;
        Ok(Response::new(proto::AppointCoordinatorResponse {
            assignment: Some(assignment),
        }))
    }

    async fn replace_coordinator(
        &self,
        request: Request<proto::ReplaceCoordinatorRequest>,
    ) -> Result<Response<proto::ReplaceCoordinatorResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let new = v.check_all(parse_assignment("assignment", req.assignment.as_ref()));
        let end_reason = v.check(reason("end_reason", &req.end_reason, true));
        let (Some(plan), Some(new), Some(end_reason)) = (plan, new, end_reason) else {
            return Err(v.into_error().into());
        };
        let (ended, assignment) = self.appointing(&who, plan, &new, Some(&end_reason)).await?;
        Ok(Response::new(proto::ReplaceCoordinatorResponse {
            ended,
            assignment: Some(assignment),
        }))
    }

    async fn list_coordinator_assignments(
        &self,
        request: Request<proto::ListCoordinatorAssignmentsRequest>,
    ) -> Result<Response<proto::ListCoordinatorAssignmentsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let page = v.check_all(Page::parse(
            req.page_size,
            &req.page_token,
            Scope::of(
                "ListCoordinatorAssignments",
                &req.parent,
                &format!("view={}", req.view),
            ),
        ));
        let parent = if req.parent.is_empty() {
            None
        } else {
            v.check(plan_name("parent", &req.parent))
        };
        let view = proto::AssignmentView::try_from(req.view).unwrap_or_default();
        if req.parent.is_empty() && view == proto::AssignmentView::Unspecified {
            v.push(FieldViolation::new(
                "view",
                "must be set when parent is empty",
            ));
        }
        let Some(page) = page else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let now = Instant::now();
        let today = Date::today_in_norway(now);
        let overdue = |plan: &Plan| plan.next_review_date.is_some_and(|d| d < today);
        let mut session = self.0.store.read().await?;
        let (entries, next_page_token) = match (parent, view) {
            (Some(plan), _) => {
                let access = self
                    .0
                    .guard
                    .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
                    .await?;
                let show = self.0.guard.may_see_identities(&access, &who)?;
                let encoded = encode_plan(&access.plan, show);
                let mut all = session.assignments(plan).await?;
                let start = page
                    .after
                    .and_then(|after| all.iter().position(|a| a.id == after).map(|i| i + 1))
                    .unwrap_or(0);
                let mut rest: Vec<Assignment> = all.drain(start.min(all.len())..).collect();
                let next = page.next_token(&mut rest, |a| a.id);
                let entries = rest
                    .iter()
                    .map(|a| proto::AssignmentEntry {
                        plan: Some(encoded.clone()),
                        assignment: Some(encode_assignment(a, show)),
                        review_overdue: overdue(&access.plan),
                    })
                    .collect();
                (entries, next)
            }
            (None, proto::AssignmentView::WithoutCoordinator) => {
                let organisation = who.organisation.clone().ok_or_else(|| {
                    Error::PermissionDenied("only unit staff have this work list".into())
                })?;
                self.0
                    .guard
                    .organisation(
                        &mut session,
                        &who,
                        &organisation,
                        Object::Coordinator,
                        Action::Appoint,
                        now,
                    )
                    .await?;
                let mut plans = session
                    .plans_without_coordinator(&organisation, page)
                    .await?;
                let next = page.next_token(&mut plans, |p| p.id);
                let listed: Vec<PlanAccess> = plans
                    .into_iter()
                    .map(|plan| PlanAccess {
                        plan,
                        relations: Vec::new(),
                    })
                    .collect();
                self.0
                    .guard
                    .record_listed_plans(&mut session, &who, &listed, now)
                    .await?;
                let entries = listed
                    .iter()
                    .map(|access| {
                        let show = self.0.guard.may_see_identities(access, &who)?;
                        Ok(proto::AssignmentEntry {
                            plan: Some(encode_plan(&access.plan, show)),
                            assignment: None,
                            review_overdue: overdue(&access.plan),
                        })
                    })
                    .collect::<Result<_, Error>>()?;
                (entries, next)
            }
            (None, _) => {
                // The plans the caller coordinates, read through the coordinator relation, most
                // urgent review first. A coordinator's list is short: it is sorted whole and
                // paged by position after the token's plan.
                let Some(organisation) = who.organisation.clone() else {
                    return Ok(Response::new(Default::default()));
                };
                let assignments = session
                    .coordinated_plans(&who.subject, &organisation)
                    .await?;
                let filter = self.0.guard.read_filter(&mut session, Object::Plan).await?;
                let only_coordinator = ReadFilter {
                    relations: filter
                        .relations
                        .into_iter()
                        .filter(|r| *r == Relation::Coordinator || *r == Relation::Member)
                        .collect(),
                    org_roles: Vec::new(),
                };
                let mut rows = Vec::new();
                let mut after = None;
                loop {
                    let all = Page::unscoped(MAX_PAGE_SIZE, after);
                    let mut batch = session
                        .list_plans(
                            &only_coordinator,
                            &PlanListFilter::default(),
                            &who,
                            all,
                            now,
                        )
                        .await?;
                    let more = batch.len() > MAX_PAGE_SIZE as usize;
                    batch.truncate(MAX_PAGE_SIZE as usize);
                    after = batch.last().map(|r| r.plan.id);
                    rows.extend(batch.into_iter().filter(|r| r.coordinator));
                    if !more {
                        break;
                    }
                }
                rows.sort_by_key(|r| {
                    (
                        r.plan.next_review_date.is_none(),
                        r.plan.next_review_date,
                        r.plan.id,
                    )
                });
                let start = page
                    .after
                    .and_then(|after| rows.iter().position(|r| r.plan.id == after).map(|i| i + 1))
                    .unwrap_or(0);
                let mut rest: Vec<_> = rows.drain(start.min(rows.len())..).collect();
                let next = page.next_token(&mut rest, |r| r.plan.id);
                let listed: Vec<PlanAccess> = rest.into_iter().map(PlanAccess::from).collect();
                self.0
                    .guard
                    .record_listed_plans(&mut session, &who, &listed, now)
                    .await?;
                let entries = listed
                    .iter()
                    .map(|access| {
                        let show = self.0.guard.may_see_identities(access, &who)?;
                        Ok(proto::AssignmentEntry {
                            plan: Some(encode_plan(&access.plan, show)),
                            assignment: assignments
                                .iter()
                                .find(|a| a.plan == access.plan.id)
                                .map(|a| encode_assignment(a, show)),
                            review_overdue: overdue(&access.plan),
                        })
                    })
                    .collect::<Result<_, Error>>()?;
                (entries, next)
            }
        };
        Ok(Response::new(proto::ListCoordinatorAssignmentsResponse {
            entries,
            next_page_token,
        }))
    }
}
