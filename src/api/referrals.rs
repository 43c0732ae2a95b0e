//! `samvirke.v1.ReferralService`.

use tonic::Request;

use super::convert::timestamp;
use super::coordinators::{encode_assignment, parse_assignment};
use super::{Rpc, reply, take};
use crate::domain::goal::reason;
use crate::domain::names::{plan_resource, referral_name};
use crate::domain::page::{Page, Scope};
use crate::domain::referral::{NewReferral, Referral, ReferralStatus};
use crate::domain::text::{Optional, Required};
use crate::domain::{Error, Violations};
use crate::ops::Context;
use crate::proto::referral_service_server::ReferralService;
use crate::proto::{self, *};

/// The referral service.
pub struct ReferralApi(pub Context);

fn status_out(status: ReferralStatus) -> proto::ReferralStatus {
    match status {
        ReferralStatus::Sent => proto::ReferralStatus::Sent,
        ReferralStatus::Accepted => proto::ReferralStatus::Accepted,
        ReferralStatus::Returned => proto::ReferralStatus::Returned,
    }
}

/// A referral on the wire. Both sides handle the patient's identity, so whoever may read the
/// referral sees it.
fn encode(r: &Referral) -> proto::Referral {
    proto::Referral {
        name: format!("referrals/{}", r.id),
        municipality: r.municipality.to_string(),
        health_trust: r.health_trust.to_string(),
        requester: r.requester.clone(),
        patient_id: r.patient.expose().to_owned(),
        patient_display_name: r.patient_display_name.clone(),
        consent_to_share: true,
        patient_goals: r.patient_goals.clone(),
        wants_plan: r.wants_plan,
        answered_on_behalf: r.answered_on_behalf.as_ref().map(|o| proto::AnsweredOnBehalf {
            given_by: o.given_by.clone(),
            reason: o.reason.clone(),
        }),
        status: status_out(r.status) as i32,
        plan: plan_resource(r.plan),
        response: r.response.clone(),
        create_time: Some(timestamp(r.create_time)),
        response_time: r.response_time.map(timestamp),
    }
}

#[tonic::async_trait]
impl ReferralService for ReferralApi {
    async fn create_referral(
        &self,
        r: Request<CreateReferralRequest>,
    ) -> Rpc<CreateReferralResponse> {
        let (who, req) = take(r)?;
        let r = req.referral.ok_or_else(|| Error::invalid("referral", "must be set"))?;
        let new = NewReferral::parse(
            &r.municipality,
            &r.patient_id,
            &r.patient_display_name,
            r.consent_to_share,
            &r.patient_goals,
            r.wants_plan,
            r.answered_on_behalf.as_ref().map(|o| (o.given_by.as_str(), o.reason.as_str())),
        )
        .map_err(Error::InvalidArgument)?;
        let referral = self.0.create_referral(&who, new).await?;
        reply(proto::CreateReferralResponse { referral: Some(encode(&referral)) })
    }

    async fn get_referral(&self, r: Request<GetReferralRequest>) -> Rpc<GetReferralResponse> {
        let (who, req) = take(r)?;
        let id = referral_name("name", &req.name)?;
        let referral = self.0.get_referral(&who, id).await?;
        reply(proto::GetReferralResponse { referral: Some(encode(&referral)) })
    }

    async fn list_referrals(&self, r: Request<ListReferralsRequest>) -> Rpc<ListReferralsResponse> {
        let (who, req) = take(r)?;
        let scope = Scope::of("ListReferrals", "", "");
        let page =
            Page::parse(req.page_size, &req.page_token, scope).map_err(Error::InvalidArgument)?;
        let listed = self.0.list_referrals(&who, page).await?;
        reply(proto::ListReferralsResponse {
            referrals: listed.items.iter().map(encode).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn accept_referral(
        &self,
        r: Request<AcceptReferralRequest>,
    ) -> Rpc<AcceptReferralResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let id = v.check(referral_name("name", &req.name));
        let new = v.check_all(parse_assignment("coordinator", req.coordinator.as_ref()));
        let comment = v.check(reason("comment", &req.comment, Optional));
        let ((id, new), comment) = v.ok(id.zip(new).zip(comment))?;
        let (referral, coordinator) = self.0.accept_referral(&who, id, new, comment).await?;
        reply(proto::AcceptReferralResponse {
            referral: Some(encode(&referral)),
            coordinator: Some(encode_assignment(&coordinator.value, coordinator.identities)),
        })
    }

    async fn return_referral(
        &self,
        r: Request<ReturnReferralRequest>,
    ) -> Rpc<ReturnReferralResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let id = v.check(referral_name("name", &req.name));
        let why = v.check(reason("reason", &req.reason, Required));
        let (id, why) = v.ok(id.zip(why))?;
        let referral = self.0.return_referral(&who, id, why).await?;
        reply(proto::ReturnReferralResponse { referral: Some(encode(&referral)) })
    }
}
