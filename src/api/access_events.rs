//! `samvirke.v1.AccessEventService`.

use tonic::Request;

use super::convert::{instant, member_role_out, org_role_out, timestamp};
use super::{Rpc, reply, take};
use crate::domain::access_event::{AccessEvent, AccessEventFilter};
use crate::domain::ids::OrgNumber;
use crate::domain::names::{plan_item, plan_name};
use crate::domain::page::{Page, Scope};
use crate::domain::{FieldViolation, Violations};
use crate::ops::Context;
use crate::ops::access_event::ListAccessEvents;
use crate::proto::access_event_service_server::AccessEventService;
use crate::proto::{self, ListAccessEventsRequest, ListAccessEventsResponse};

/// The access event service: the patient's view of their plan's access log.
pub struct AccessEventApi(pub Context);

/// The request's filter, every bad field named.
fn filter(req: &ListAccessEventsRequest, v: &mut Violations) -> Option<AccessEventFilter> {
    let start = v.check(instant("start_time", req.start_time.as_ref()));
    let end = v.check(instant("end_time", req.end_time.as_ref()));
    let organisation = match req.organisation.as_str() {
        "" => Some(None),
        number => v.check(OrgNumber::parse("organisation", number).map(Some)),
    };
    if let (Some(Some(start)), Some(Some(end))) = (start, end)
        && end <= start
    {
        v.push(FieldViolation::new("end_time", "must be after start_time"));
    }
    Some(AccessEventFilter {
        start: start?,
        end: end?,
        organisation: organisation?,
        exclude_patient: req.exclude_patient,
    })
}

fn encode(plan: crate::domain::ids::ResourceId, event: AccessEvent) -> proto::AccessEvent {
    let who = event.accessor;
    proto::AccessEvent {
        name: plan_item(plan, "accessEvents", event.id),
        time: Some(timestamp(event.time)),
        accessor: Some(proto::Accessor {
            display_name: who.display_name,
            member_role: who.member_role.map_or(0, |r| member_role_out(r) as i32),
            organisation_role: who.organisation_role.map_or(0, |r| org_role_out(r) as i32),
            organisation: who.organisation.map(|o| o.as_str().to_owned()).unwrap_or_default(),
            organisation_name: who.organisation_name,
            patient: who.patient,
            caller: who.caller,
        }),
        description: event.description,
        operation: event.operation,
        allowed: event.allowed,
        limited: event.limited,
    }
}

#[tonic::async_trait]
impl AccessEventService for AccessEventApi {
    async fn list_access_events(
        &self,
        r: Request<ListAccessEventsRequest>,
    ) -> Rpc<ListAccessEventsResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let filter = filter(&req, &mut v);
        let canonical = filter.as_ref().map(AccessEventFilter::canonical).unwrap_or_default();
        let scope = Scope::of("ListAccessEvents", &req.parent, &canonical);
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, scope));
        let (plan, (filter, page)) = v.ok(plan.zip(filter.zip(page)))?;
        let listed =
            self.0.list_access_events(&who, ListAccessEvents { plan, filter }, page).await?;
        reply(ListAccessEventsResponse {
            access_events: listed.items.into_iter().map(|e| encode(plan, e)).collect(),
            next_page_token: listed.next_page_token,
        })
    }
}
