//! `samvirke.v1.PlanTransferService`.

use tonic::Request;

use super::convert::timestamp;
use super::coordinators::{encode_assignment, parse_assignment};
use super::{Rpc, reply, take};
use crate::domain::goal::reason;
use crate::domain::names::{plan_item, plan_name, plan_resource, transfer_name};
use crate::domain::page::{Page, Scope};
use crate::domain::text::{Optional, Required};
use crate::domain::transfer::{NewTransfer, PlanTransfer, TransferState};
use crate::domain::{FieldViolation, Violations};
use crate::ops::Context;
use crate::ops::transfer::TransferList;
use crate::proto::plan_transfer_service_server::PlanTransferService;
use crate::proto::{self, *};

/// The plan transfer service.
pub struct PlanTransferApi(pub Context);

fn encode(t: &PlanTransfer) -> proto::PlanTransfer {
    proto::PlanTransfer {
        name: format!("planTransfers/{}", t.id),
        plan: plan_resource(t.plan),
        from_organisation: t.from.as_str().to_owned(),
        to_organisation: t.to.as_str().to_owned(),
        reason: t.reason.clone(),
        state: match t.state {
            TransferState::Proposed => proto::PlanTransferState::Proposed,
            TransferState::Accepted => proto::PlanTransferState::Accepted,
            TransferState::Declined => proto::PlanTransferState::Declined,
            TransferState::Cancelled => proto::PlanTransferState::Cancelled,
        } as i32,
        response: t.response.clone(),
        coordinator_assignment: t
            .assignment
            .map(|a| plan_item(t.plan, "coordinatorAssignments", a))
            .unwrap_or_default(),
        create_time: Some(timestamp(t.create_time)),
        response_time: t.response_time.map(timestamp),
    }
}

#[tonic::async_trait]
impl PlanTransferService for PlanTransferApi {
    async fn transfer_plan(&self, r: Request<TransferPlanRequest>) -> Rpc<TransferPlanResponse> {
        let (who, req) = take(r)?;
        let t = req.transfer.unwrap_or_default();
        let new = NewTransfer::parse(&t.plan, &t.to_organisation, &t.reason)
            .map_err(crate::domain::Error::InvalidArgument)?;
        let transfer = self.0.transfer_plan(&who, new).await?;
        reply(TransferPlanResponse { transfer: Some(encode(&transfer)) })
    }

    async fn get_plan_transfer(
        &self,
        r: Request<GetPlanTransferRequest>,
    ) -> Rpc<GetPlanTransferResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let id = v.check(transfer_name("name", &req.name));
        let id = v.ok(id)?;
        let transfer = self.0.get_plan_transfer(&who, id).await?;
        reply(GetPlanTransferResponse { transfer: Some(encode(&transfer)) })
    }

    async fn list_plan_transfers(
        &self,
        r: Request<ListPlanTransfersRequest>,
    ) -> Rpc<ListPlanTransfersResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let list = match (req.plan.as_str(), req.incoming) {
            ("", true) => Some(TransferList::Incoming),
            (plan, false) if !plan.is_empty() => {
                v.check(plan_name("plan", plan)).map(TransferList::Plan)
            }
            _ => {
                v.push(FieldViolation::new("plan", "name a plan, or ask for incoming transfers"));
                None
            }
        };
        // An incoming list is the municipality's the caller acts for: its token continues no
        // other's.
        let filters = format!(
            "plan={};incoming={};for={}",
            req.plan,
            req.incoming,
            who.acting_organisation()
        );
        let scope = Scope::of("ListPlanTransfers", "", &filters);
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, scope));
        let (list, page) = v.ok(list.zip(page))?;
        let listed = self.0.list_plan_transfers(&who, list, page).await?;
        reply(ListPlanTransfersResponse {
            transfers: listed.items.iter().map(encode).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn accept_plan_transfer(
        &self,
        r: Request<AcceptPlanTransferRequest>,
    ) -> Rpc<AcceptPlanTransferResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let id = v.check(transfer_name("name", &req.name));
        let new = v.check_all(parse_assignment("coordinator", req.coordinator.as_ref()));
        let comment = v.check(reason("comment", &req.comment, Optional));
        let ((id, new), comment) = v.ok(id.zip(new).zip(comment))?;
        let (transfer, coordinator) = self.0.accept_plan_transfer(&who, id, new, comment).await?;
        reply(AcceptPlanTransferResponse {
            transfer: Some(encode(&transfer)),
            coordinator: Some(encode_assignment(&coordinator, false)),
        })
    }

    async fn decline_plan_transfer(
        &self,
        r: Request<DeclinePlanTransferRequest>,
    ) -> Rpc<DeclinePlanTransferResponse> {
        let (who, req) = take(r)?;
        let transfer = self.end(&who, &req.name, &req.reason, TransferState::Declined).await?;
        reply(DeclinePlanTransferResponse { transfer: Some(encode(&transfer)) })
    }

    async fn cancel_plan_transfer(
        &self,
        r: Request<CancelPlanTransferRequest>,
    ) -> Rpc<CancelPlanTransferResponse> {
        let (who, req) = take(r)?;
        let transfer = self.end(&who, &req.name, &req.reason, TransferState::Cancelled).await?;
        reply(CancelPlanTransferResponse { transfer: Some(encode(&transfer)) })
    }
}

impl PlanTransferApi {
    /// DeclinePlanTransfer and CancelPlanTransfer: the transfer `name` ends as `end`, for
    /// `reason` (1 to 1000 characters), every bad field named.
    async fn end(
        &self,
        who: &crate::domain::principal::Principal,
        name: &str,
        reason_text: &str,
        end: TransferState,
    ) -> Result<PlanTransfer, crate::domain::Error> {
        let mut v = Violations::default();
        let id = v.check(transfer_name("name", name));
        let why = v.check(reason("reason", reason_text, Required));
        let (id, why) = v.ok(id.zip(why))?;
        self.0.end_plan_transfer(who, id, end, why).await
    }
}
