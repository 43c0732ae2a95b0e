//! `samvirke.v1.ChildCoordinatorService`.

use tonic::Request;

use super::convert::{date, optional_date, timestamp};
use super::coordinators::parse_assignment;
use super::{Rpc, reply, take};
use crate::domain::child_coordinator::{
    Application, ApplicationInput, ApplicationState, Child, NewApplication, child_id,
};
use crate::domain::coordinator::CoordinatorKind;
use crate::domain::date::Date;
use crate::domain::goal::reason;
use crate::domain::names::{application_name, plan_item, plan_resource};
use crate::domain::page::{Page, Scope};
use crate::domain::text::{Optional, Required};
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::Context;
use crate::ops::child_coordinator::{AcceptApplication, application_name as name_of};
use crate::proto::child_coordinator_service_server::ChildCoordinatorService;
use crate::proto::{self, *};

/// The child coordinator service: families apply, municipalities answer.
pub struct ChildCoordinatorApi(pub Context);

fn state_out(state: ApplicationState) -> proto::ChildCoordinatorApplicationState {
    match state {
        ApplicationState::Submitted => proto::ChildCoordinatorApplicationState::Submitted,
        ApplicationState::Accepted => proto::ChildCoordinatorApplicationState::Accepted,
        ApplicationState::Declined => proto::ChildCoordinatorApplicationState::Declined,
    }
}

/// A state filter from the wire: `None` for unspecified (every state).
fn state_in(value: i32) -> Result<Option<ApplicationState>, FieldViolation> {
    use proto::ChildCoordinatorApplicationState as Wire;
    match Wire::try_from(value) {
        Ok(Wire::Unspecified) => Ok(None),
        Ok(Wire::Submitted) => Ok(Some(ApplicationState::Submitted)),
        Ok(Wire::Accepted) => Ok(Some(ApplicationState::Accepted)),
        Ok(Wire::Declined) => Ok(Some(ApplicationState::Declined)),
        Err(_) => Err(FieldViolation::new("state", "must be an application state")),
    }
}

/// An application on the wire. Its readers are the applicant and the municipality's unit
/// staff, who both handle the child's identity and the applicant's.
fn encode(a: &Application) -> proto::ChildCoordinatorApplication {
    let (child_id, expected_birth_date) = match &a.child {
        Child::Born(id) => (id.expose().to_owned(), None),
        Child::Expected(due) => (String::new(), Some(date(*due))),
    };
    let coordinator = a.coordinator.as_ref().map(|c| proto::CoordinatorAssignment {
        name: match (a.plan, a.assignment) {
            (Some(plan), Some(assignment)) => plan_item(plan, "coordinatorAssignments", assignment),
            _ => String::new(),
        },
        subject: c.subject.as_stored().to_owned(),
        display_name: c.display_name.clone(),
        organisation: c.organisation.to_string(),
        wish_followed: c.wish_followed,
        reason: c.reason.clone(),
        kind: proto::CoordinatorKind::Child as i32,
        // The appointment began when the application was last answered: with it.
        start_time: a.assignment.and(a.response_time).map(timestamp),
        ..Default::default()
    });
    proto::ChildCoordinatorApplication {
        name: name_of(a.id),
        municipality: a.municipality.to_string(),
        child_id,
        child_display_name: a.child_display_name.clone(),
        expected_birth_date,
        needs: a.needs.clone(),
        applicant: a.applicant.as_stored().to_owned(),
        applicant_display_name: a.applicant_display_name.clone(),
        state: state_out(a.state) as i32,
        plan: a.plan.map(plan_resource).unwrap_or_default(),
        coordinator,
        response: a.response.clone(),
        create_time: Some(timestamp(a.create_time)),
        response_time: a.response_time.map(timestamp),
    }
}

fn one(a: &Application) -> Option<proto::ChildCoordinatorApplication> {
    Some(encode(a))
}

#[tonic::async_trait]
impl ChildCoordinatorService for ChildCoordinatorApi {
    async fn create_child_coordinator_application(
        &self,
        r: Request<CreateChildCoordinatorApplicationRequest>,
    ) -> Rpc<CreateChildCoordinatorApplicationResponse> {
        let (who, req) = take(r)?;
        let a = req.application.ok_or_else(|| Error::invalid("application", "must be set"))?;
        let today = Date::today_in_norway(Instant::now());
        let field = "application.expected_birth_date";
        let input = ApplicationInput {
            municipality: &a.municipality,
            child_id: &a.child_id,
            child_display_name: &a.child_display_name,
            expected_birth_date: optional_date(field, a.expected_birth_date).transpose(),
            needs: &a.needs,
            applicant_display_name: &a.applicant_display_name,
        };
        let new = NewApplication::parse(input, today).map_err(Error::InvalidArgument)?;
        let created = self.0.create_child_coordinator_application(&who, new).await?;
        reply(CreateChildCoordinatorApplicationResponse { application: one(&created) })
    }

    async fn get_child_coordinator_application(
        &self,
        r: Request<GetChildCoordinatorApplicationRequest>,
    ) -> Rpc<GetChildCoordinatorApplicationResponse> {
        let (who, req) = take(r)?;
        let id = application_name("name", &req.name)?;
        let application = self.0.get_child_coordinator_application(&who, id).await?;
        reply(GetChildCoordinatorApplicationResponse { application: one(&application) })
    }

    async fn list_child_coordinator_applications(
        &self,
        r: Request<ListChildCoordinatorApplicationsRequest>,
    ) -> Rpc<ListChildCoordinatorApplicationsResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let state = v.check(state_in(req.state));
        let filters = format!("state={}", req.state);
        let scope = Scope::of("ListChildCoordinatorApplications", "", &filters);
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, scope));
        let (state, page) = v.ok(state.zip(page))?;
        let listed = self.0.list_child_coordinator_applications(&who, state, page).await?;
        reply(ListChildCoordinatorApplicationsResponse {
            applications: listed.items.iter().map(encode).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn accept_child_coordinator_application(
        &self,
        r: Request<AcceptChildCoordinatorApplicationRequest>,
    ) -> Rpc<AcceptChildCoordinatorApplicationResponse> {
        let (who, req) = take(r)?;
        let today = Date::today_in_norway(Instant::now());
        let mut v = Violations::default();
        let id = v.check(application_name("name", &req.name));
        let coordinator = match &req.coordinator {
            None => Some(None),
            Some(c) if c.kind == proto::CoordinatorKind::General as i32 => {
                let what =
                    "must be COORDINATOR_KIND_CHILD or unspecified: this is a child coordinator";
                v.push(FieldViolation::new("coordinator.kind", what));
                None
            }
            Some(c) => v.check_all(parse_assignment("coordinator", Some(c))).map(|c| {
                Some(crate::domain::coordinator::NewAssignment {
                    kind: CoordinatorKind::Child,
                    ..c
                })
            }),
        };
        let child = match req.child_id.as_str() {
            "" => Some(None),
            id => v.check(child_id("child_id", id, today)).map(Some),
        };
        let comment = v.check(reason("comment", &req.comment, Optional));
        let (((id, coordinator), child), comment) =
            v.ok(id.zip(coordinator).zip(child).zip(comment))?;
        let accept = AcceptApplication {
            application: id,
            coordinator,
            child,
            applicant_is_parent: req.applicant_is_parent,
            comment,
        };
        let accepted = self.0.accept_child_coordinator_application(&who, accept).await?;
        reply(AcceptChildCoordinatorApplicationResponse { application: one(&accepted) })
    }

    async fn decline_child_coordinator_application(
        &self,
        r: Request<DeclineChildCoordinatorApplicationRequest>,
    ) -> Rpc<DeclineChildCoordinatorApplicationResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let id = v.check(application_name("name", &req.name));
        let why = v.check(reason("reason", &req.reason, Required));
        let (id, why) = v.ok(id.zip(why))?;
        let declined = self.0.decline_child_coordinator_application(&who, id, why).await?;
        reply(DeclineChildCoordinatorApplicationResponse { application: one(&declined) })
    }
}
