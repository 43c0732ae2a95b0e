//! `samvirke.v1.PlanService`.

use tonic::{Request, Response, Status};

use super::convert::{plan_kind, plan_kind_out, plan_resource, plan_status, timestamp};
use super::{Context, principal};
use crate::auth::{Action, Object, PlanAccess};
use crate::domain::Error;
use crate::domain::page::Page;
use crate::domain::plan::{NewPlan, Plan};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::proto;
use crate::proto::plan_service_server::PlanService;

/// The plan service.
pub struct PlanApi(pub Context);

impl PlanApi {
    /// The plan as `who` may see it: the patient's identity number only when the policy lets
    /// them read identities on this plan.
    fn encode(&self, access: &PlanAccess, who: &Principal) -> Result<proto::Plan, Error> {
        let show_identity = self.0.guard.may_see_identities(access, who)?;
        Ok(encode_plan(&access.plan, show_identity))
    }
}

fn encode_plan(plan: &Plan, show_identity: bool) -> proto::Plan {
    proto::Plan {
        name: plan_resource(plan.id),
        organisation: plan.organisation.to_string(),
        patient_id: if show_identity {
            plan.patient.expose().to_owned()
        } else {
            String::new()
        },
        patient_display_name: plan.patient_display_name.clone(),
        kind: plan_kind_out(plan.kind) as i32,
        status: plan_status(plan.status) as i32,
        create_time: Some(timestamp(plan.create_time)),
        update_time: Some(timestamp(plan.update_time)),
        etag: super::convert::etag_of(plan.revision),
    }
}

#[tonic::async_trait]
impl PlanService for PlanApi {
    async fn create_plan(
        &self,
        request: Request<proto::CreatePlanRequest>,
    ) -> Result<Response<proto::CreatePlanResponse>, Status> {
        let who = principal(&request)?;
        let plan = request
            .into_inner()
            .plan
            .ok_or_else(|| Error::invalid("plan", "must be set"))?;
        let new = NewPlan::parse(
            &plan.organisation,
            &plan.patient_id,
            &plan.patient_display_name,
            plan_kind(plan.kind),
        )
        .map_err(|vs| Error::InvalidArgument(vs).under("plan"))?;
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            self.0
                .guard
                .organisation(
                    &mut session,
                    &who,
                    &new.organisation,
                    Object::Plan,
                    Action::Create,
                    now,
                )
                .await?;
            session.insert_plan(&new, &who.subject, now).await
        }
        .await;
        let plan = session.finish(result).await?;
        // Creating a plan takes unit staff, whom the policy lets read identities.
        Ok(Response::new(proto::CreatePlanResponse {
            plan: Some(encode_plan(&plan, true)),
        }))
    }

    async fn get_plan(
        &self,
        request: Request<proto::GetPlanRequest>,
    ) -> Result<Response<proto::GetPlanResponse>, Status> {
        let who = principal(&request)?;
        let id = super::convert::plan_name("name", &request.get_ref().name).map_err(Error::from)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, id, Object::Plan, Action::Read, now)
            .await?;
        Ok(Response::new(proto::GetPlanResponse {
            plan: Some(self.encode(&access, &who)?),
        }))
    }

    async fn list_plans(
        &self,
        request: Request<proto::ListPlansRequest>,
    ) -> Result<Response<proto::ListPlansResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let page = Page::parse(req.page_size, &req.page_token).map_err(Error::InvalidArgument)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let filter = self.0.guard.read_filter(&mut session, Object::Plan).await?;
        let mut rows = session.list_plans(&filter, &who, page, now).await?;
        let next_page_token = page.next_token(&mut rows, |row| row.plan.id);
        let listed: Vec<PlanAccess> = rows.into_iter().map(PlanAccess::from).collect();
        self.0
            .guard
            .record_listed_plans(&mut session, &who, &listed, now)
            .await?;
        let plans = listed
            .iter()
            .map(|access| self.encode(access, &who))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(proto::ListPlansResponse {
            plans,
            next_page_token,
        }))
    }
}
