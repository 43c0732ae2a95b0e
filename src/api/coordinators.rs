//! `samvirke.v1.CoordinatorService`.

use tonic::Request;

use super::convert::{coordinator_kind, coordinator_kind_out, name_at, shown_subject, timestamp};
use super::encode::encode_plan;
use super::{Rpc, reply, take};
use crate::domain::coordinator::{Assignment, CoordinatorKind, CoordinatorWish, NewAssignment};
use crate::domain::goal::reason;
use crate::domain::names::{plan_item, plan_name};
use crate::domain::page::{Page, Scope};
use crate::domain::text::Required;
use crate::domain::time::Instant;
use crate::domain::{FieldViolation, Violations};
use crate::ops::Context;
use crate::ops::coordinator::WorkList;
use crate::proto::coordinator_service_server::CoordinatorService;
use crate::proto::{self, *};

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
        kind: coordinator_kind_out(a.kind) as i32,
    }
}

/// Validates an appointment from the wire; fields are named under `field`.
pub fn parse_assignment(
    field: &str,
    a: Option<&proto::CoordinatorAssignment>,
) -> Result<NewAssignment, Vec<FieldViolation>> {
    let a = a.ok_or_else(|| vec![FieldViolation::new(field, "must be set")])?;
    let kind = match a.kind {
        0 => Ok(CoordinatorKind::General),
        k => coordinator_kind(k).ok_or_else(|| {
            vec![FieldViolation::new(format!("{field}.kind"), "must be a coordinator kind")]
        }),
    };
    let parsed = NewAssignment::parse(
        field,
        &a.subject,
        &a.display_name,
        &a.organisation,
        a.wish_followed,
        &a.reason,
    );
    match (parsed, kind) {
        (Ok(new), Ok(kind)) => Ok(NewAssignment { kind, ..new }),
        (Err(mut v), Err(k)) => {
            v.extend(k);
            Err(v)
        }
        (Err(v), _) | (_, Err(v)) => Err(v),
    }
}

/// A plan's name and a new appointment, with every violation of either.
fn appointment(
    parent: &str,
    assignment: Option<&proto::CoordinatorAssignment>,
    v: &mut Violations,
) -> Option<(crate::domain::ids::ResourceId, NewAssignment)> {
    let plan = v.check(plan_name("parent", parent));
    let new = v.check_all(parse_assignment("assignment", assignment));
    plan.zip(new)
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorApi {
    async fn record_coordinator_wish(
        &self,
        r: Request<RecordCoordinatorWishRequest>,
    ) -> Rpc<RecordCoordinatorWishResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let at = name_at(&mut v, plan_name, "", (&req.name, &req.etag));
        let wish = req.wish.unwrap_or_default();
        let now = Instant::now();
        let (name, organisation, note) = (&wish.display_name, &wish.organisation, &wish.note);
        let wish = v.check_all(CoordinatorWish::parse(name, organisation, note, now));
        let ((plan, etag), wish) = v.ok(at.zip(wish))?;
        let plan = self.0.record_coordinator_wish(&who, plan, etag, wish).await?;
        reply(proto::RecordCoordinatorWishResponse {
            plan: Some(encode_plan(&plan.value, plan.identities)),
        })
    }

    async fn appoint_coordinator(
        &self,
        r: Request<AppointCoordinatorRequest>,
    ) -> Rpc<AppointCoordinatorResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let appointed = appointment(&req.parent, req.assignment.as_ref(), &mut v);
        let (plan, new) = v.ok(appointed)?;
        let pair = self.0.appoint_coordinator(&who, plan, new, None).await?;
        reply(proto::AppointCoordinatorResponse {
            assignment: Some(encode_assignment(&pair.value.1, pair.identities)),
        })
    }

    async fn replace_coordinator(
        &self,
        r: Request<ReplaceCoordinatorRequest>,
    ) -> Rpc<ReplaceCoordinatorResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let appointed = appointment(&req.parent, req.assignment.as_ref(), &mut v);
        let end_reason = v.check(reason("end_reason", &req.end_reason, Required));
        let ((plan, new), end_reason) = v.ok(appointed.zip(end_reason))?;
        let pair = self.0.appoint_coordinator(&who, plan, new, Some(end_reason)).await?;
        let show = pair.identities;
        reply(proto::ReplaceCoordinatorResponse {
            ended: pair.value.0.as_ref().map(|e| encode_assignment(e, show)),
            assignment: Some(encode_assignment(&pair.value.1, show)),
        })
    }

    async fn list_coordinator_assignments(
        &self,
        r: Request<ListCoordinatorAssignmentsRequest>,
    ) -> Rpc<ListCoordinatorAssignmentsResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let filters = format!("view={};interpreter_needed={}", req.view, req.interpreter_needed);
        let scope = Scope::of("ListCoordinatorAssignments", &req.parent, &filters);
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, scope));
        let parent =
            if req.parent.is_empty() { None } else { v.check(plan_name("parent", &req.parent)) };
        let view = proto::AssignmentView::try_from(req.view).unwrap_or_default();
        if req.parent.is_empty() && view == proto::AssignmentView::Unspecified {
            v.push(FieldViolation::new("view", "must be set when parent is empty"));
        }
        if parent.is_some() && req.interpreter_needed {
            v.push(FieldViolation::new(
                "interpreter_needed",
                "filters work lists only: leave parent empty",
            ));
        }
        let interpreter = req.interpreter_needed;
        let page = v.ok(page)?;
        let listed = match (parent, view) {
            (Some(plan), _) => self.0.list_plan_assignments(&who, plan, page).await?,
            (None, proto::AssignmentView::WithoutCoordinator) => {
                self.0.work_list(&who, WorkList::WithoutCoordinator, interpreter, page).await?
            }
            (None, _) => self.0.work_list(&who, WorkList::Mine, interpreter, page).await?,
        };
        reply(proto::ListCoordinatorAssignmentsResponse {
            entries: listed
                .items
                .iter()
                .map(|entry| {
                    let show = entry.identities;
                    let e = &entry.value;
                    proto::AssignmentEntry {
                        plan: Some(encode_plan(&e.plan, show)),
                        assignment: e.assignment.as_ref().map(|a| encode_assignment(a, show)),
                        review_overdue: e.review_overdue,
                    }
                })
                .collect(),
            next_page_token: listed.next_page_token,
        })
    }
}
