//! `samvirke.v1.ComplaintService`.

use tonic::Request;

use super::convert::{
    complaint_kind, complaint_kind_out, complaint_state_out, date, date_in, etag, etag_of, outcome,
    outcome_out, relation, relation_out, timestamp,
};
use super::{Rpc, reply, take};
use crate::domain::complaint::{
    Complaint, ComplaintEvent, ComplaintInput, OnBehalfOf, Outcome, Step, filed_for, long_text,
    subject_shown_to,
};
use crate::domain::date::Date;
use crate::domain::ids::OrgNumber;
use crate::domain::names::{application_name, complaint_name, plan_name, plan_resource};
use crate::domain::page::{Page, Scope};
use crate::domain::principal::Principal;
use crate::domain::text::{Optional, Presence, Required};
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::Context;
use crate::ops::complaint::{ComplaintList, ComplaintStep};
use crate::proto::complaint_service_server::ComplaintService;
use crate::proto::{self, *};

/// The complaint service.
pub struct ComplaintApi(pub Context);

/// A complaint as `viewer` may see it (`Complaint::patient_shown_to`, `subject_shown_to`).
fn encode(c: &Complaint, viewer: &Principal) -> proto::Complaint {
    proto::Complaint {
        name: format!("complaints/{}", c.id),
        organisation: c.organisation.to_string(),
        patient_id: c.patient_shown_to(viewer).map(|p| p.expose().to_owned()).unwrap_or_default(),
        complainant: subject_shown_to(&c.complainant, viewer),
        representative_relation: c.representative.map_or(0, |r| relation_out(r) as i32),
        kind: complaint_kind_out(c.kind) as i32,
        text: c.text.clone(),
        plan: c.plan.map(plan_resource).unwrap_or_default(),
        child_coordinator_application: c
            .application
            .map(crate::ops::child_coordinator::application_name)
            .unwrap_or_default(),
        learned_of: Some(date(c.learned_of)),
        deadline: Some(date(c.deadline)),
        late: c.late,
        state: complaint_state_out(c.state) as i32,
        forwarded_to: c.forwarded_to.as_ref().map(ToString::to_string).unwrap_or_default(),
        decision: c.decision.map_or(0, |d| outcome_out(d) as i32),
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
        etag: etag_of(c.revision),
    }
}

fn encode_event(e: &ComplaintEvent, viewer: &Principal) -> proto::ComplaintEvent {
    proto::ComplaintEvent {
        time: Some(timestamp(e.time)),
        actor: subject_shown_to(&e.actor, viewer),
        actor_organisation: e
            .actor_organisation
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        from_state: e.from.map_or(0, |s| complaint_state_out(s) as i32),
        to_state: complaint_state_out(e.to) as i32,
        text: e.text.clone(),
    }
}

impl ComplaintApi {
    /// Runs one step of a complaint's handling and encodes the complaint for the caller.
    async fn step(&self, who: &Principal, step: ComplaintStep) -> Result<proto::Complaint, Error> {
        Ok(encode(&self.0.edit_complaint(who, step).await?, who))
    }
}

#[tonic::async_trait]
impl ComplaintService for ComplaintApi {
    async fn file_complaint(&self, r: Request<FileComplaintRequest>) -> Rpc<FileComplaintResponse> {
        let (who, req) = take(r)?;
        let complaint = req.complaint.ok_or_else(|| Error::invalid("complaint", "must be set"))?;
        let now = Instant::now();
        let today = Date::today_in_norway(now);
        let on_behalf = req.on_behalf_of.as_ref().map(|behalf| OnBehalfOf {
            patient_id: &behalf.patient_id,
            relation: relation(behalf.relation),
        });
        let (patient, representative) = filed_for(who.national_id.as_ref(), on_behalf);
        let new = ComplaintInput {
            organisation: &complaint.organisation,
            kind: complaint_kind(complaint.kind),
            text: &complaint.text,
            plan: (!complaint.plan.is_empty())
                .then(|| plan_name("complaint.plan", &complaint.plan)),
            application: (!complaint.child_coordinator_application.is_empty()).then(|| {
                let field = "complaint.child_coordinator_application";
                application_name(field, &complaint.child_coordinator_application)
            }),
            learned_of: complaint.learned_of.map(|d| date_in("complaint.learned_of", d)),
            patient,
            representative,
        }
        .parse(today)
        .map_err(Error::InvalidArgument)?;
        let complaint = self.0.file_complaint(&who, new).await?;
        reply(proto::FileComplaintResponse { complaint: Some(encode(&complaint, &who)) })
    }

    async fn get_complaint(&self, r: Request<GetComplaintRequest>) -> Rpc<GetComplaintResponse> {
        let (who, req) = take(r)?;
        let id = complaint_name("name", &req.name)?;
        let (complaint, history) = self.0.get_complaint(&who, id).await?;
        reply(proto::GetComplaintResponse {
            complaint: Some(encode(&complaint, &who)),
            history: history.iter().map(|e| encode_event(e, &who)).collect(),
        })
    }

    async fn list_complaints(
        &self,
        r: Request<ListComplaintsRequest>,
    ) -> Rpc<ListComplaintsResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let page = v.check_all(Page::parse(
            req.page_size,
            &req.page_token,
            Scope::of(
                "ListComplaints",
                "",
                &format!(
                    "awaiting_organisation={};waiting_longer_than_days={}",
                    req.awaiting_organisation, req.waiting_longer_than_days
                ),
            ),
        ));
        let days = v.check(match req.waiting_longer_than_days {
            0 => Ok(None),
            d @ 1..=3650 => Ok(Some(i64::from(d))),
            _ => Err(FieldViolation::new("waiting_longer_than_days", "must be between 0 and 3650")),
        });
        let (page, days) = v.ok(page.zip(days))?;
        let list = ComplaintList {
            awaiting_organisation: req.awaiting_organisation,
            waiting_longer_than_days: days,
        };
        let listed = self.0.list_complaints(&who, list, page).await?;
        reply(proto::ListComplaintsResponse {
            complaints: listed.items.iter().map(|c| encode(c, &who)).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn start_complaint_review(
        &self,
        r: Request<StartComplaintReviewRequest>,
    ) -> Rpc<StartComplaintReviewResponse> {
        let (who, req) = take(r)?;
        let step = step_of((&req.name, &req.etag), Ok(Step::StartReview), None, NO_TEXT)?;
        reply(proto::StartComplaintReviewResponse { complaint: Some(self.step(&who, step).await?) })
    }

    async fn reconsider_complaint(
        &self,
        r: Request<ReconsiderComplaintRequest>,
    ) -> Rpc<ReconsiderComplaintResponse> {
        let (who, req) = take(r)?;
        let outcome = outcome(req.outcome).filter(|o| *o != Outcome::Returned).ok_or_else(|| {
            FieldViolation::new(
                "outcome",
                "must be COMPLAINT_DECISION_UPHELD or COMPLAINT_DECISION_NOT_UPHELD",
            )
        });
        let text = ("text", req.text.as_str(), Required);
        let step = step_of((&req.name, &req.etag), outcome.map(Step::Reconsider), None, text)?;
        reply(proto::ReconsiderComplaintResponse { complaint: Some(self.step(&who, step).await?) })
    }

    async fn forward_complaint(
        &self,
        r: Request<ForwardComplaintRequest>,
    ) -> Rpc<ForwardComplaintResponse> {
        let (who, req) = take(r)?;
        let authority = Some(OrgNumber::parse("authority", &req.authority));
        let text = ("assessment", req.assessment.as_str(), Required);
        let step = step_of((&req.name, &req.etag), Ok(Step::Forward), authority, text)?;
        reply(proto::ForwardComplaintResponse { complaint: Some(self.step(&who, step).await?) })
    }

    async fn decide_complaint(
        &self,
        r: Request<DecideComplaintRequest>,
    ) -> Rpc<DecideComplaintResponse> {
        let (who, req) = take(r)?;
        let decision = outcome(req.decision)
            .map(Step::Decide)
            .ok_or_else(|| FieldViolation::new("decision", "must be set"));
        let text = ("reasons", req.reasons.as_str(), Required);
        let step = step_of((&req.name, &req.etag), decision, None, text)?;
        reply(proto::DecideComplaintResponse { complaint: Some(self.step(&who, step).await?) })
    }

    async fn withdraw_complaint(
        &self,
        r: Request<WithdrawComplaintRequest>,
    ) -> Rpc<WithdrawComplaintResponse> {
        let (who, req) = take(r)?;
        let text = ("reason", req.reason.as_str(), Optional);
        let step = step_of((&req.name, &req.etag), Ok(Step::Withdraw), None, text)?;
        reply(proto::WithdrawComplaintResponse { complaint: Some(self.step(&who, step).await?) })
    }
}

/// A step that carries no text.
const NO_TEXT: (&str, &str, Presence) = ("text", "", Optional);

/// One step of a complaint's handling from its request: the complaint's name and etag, the step
/// (or why it cannot be one), the county governor when forwarded, and the step's text with its
/// field; every violation named at once, in the request's order.
fn step_of(
    (name, etag_text): (&str, &str),
    step: Result<Step, FieldViolation>,
    forwarded_to: Option<Result<OrgNumber, FieldViolation>>,
    (field, text, presence): (&str, &str, Presence),
) -> Result<ComplaintStep, Error> {
    let mut v = Violations::default();
    let complaint = v.check(complaint_name("name", name));
    let step = v.check(step);
    let forwarded_to = forwarded_to.map(|authority| v.check(authority));
    let text = v.check(long_text(field, text, presence));
    let etag = v.check(etag("etag", etag_text));
    let forwarded_to = match forwarded_to {
        None => Some(None),
        Some(authority) => authority.map(Some),
    };
    let parts = complaint.zip(step).zip(forwarded_to).zip(text).zip(etag);
    let ((((complaint, step), forwarded_to), text), etag) = v.ok(parts)?;
    Ok(ComplaintStep { complaint, etag, step, forwarded_to, text })
}
