//! `samvirke.v1.ReferralService`.

use tonic::{Request, Response, Status};

use super::convert::{plan_resource, timestamp};
use super::coordinators::{appoint, encode_assignment, parse_assignment};
use super::document::Change;
use super::{Context, principal};
use crate::auth::{Action, Object, PlanAccess};
use crate::domain::goal::{NewGoal, reason};
use crate::domain::ids::ResourceId;
use crate::domain::member::{MemberRole, NewMember};
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::{Page, Scope};
use crate::domain::plan::{NewConsent, NewPlan, PlanKind, PlanStatus};
use crate::domain::referral::{NewReferral, Referral, ReferralStatus};
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::proto::referral_service_server::ReferralService;

/// How the plan shows consent a referral recorded for its health trust: given on the patient's
/// behalf when they could not answer, and ended if the referral is returned.
const REFERRAL_CONSENT: &str = "referral";

/// The referral service.
pub struct ReferralApi(pub Context);

fn referral_name(field: &str, name: &str) -> Result<ResourceId, FieldViolation> {
    name.strip_prefix("referrals/")
        .and_then(ResourceId::parse)
        .ok_or_else(|| FieldViolation::new(field, "must be a referral name, referrals/{referral}"))
}

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
        answered_on_behalf: r
            .answered_on_behalf
            .as_ref()
            .map(|o| proto::AnsweredOnBehalf {
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
        request: Request<proto::CreateReferralRequest>,
    ) -> Result<Response<proto::CreateReferralResponse>, Status> {
        let who = principal(&request)?;
        let r = request
            .into_inner()
            .referral
            .ok_or_else(|| Error::invalid("referral", "must be set"))?;
        let new = NewReferral::parse(
            &r.municipality,
            &r.patient_id,
            &r.patient_display_name,
            r.consent_to_share,
            &r.patient_goals,
            r.wants_plan,
            r.answered_on_behalf
                .as_ref()
                .map(|o| (o.given_by.as_str(), o.reason.as_str())),
        )
        .map_err(Error::InvalidArgument)?;
        let Some(trust) = who.organisation.clone() else {
            return Err(Error::PermissionDenied(
                "referrals are sent by a health trust's personnel or systems".into(),
            )
            .into());
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            self.0
                .guard
                .organisation(
                    &mut session,
                    &who,
                    &trust,
                    Object::SentReferral,
                    Action::Create,
                    now,
                )
                .await?;
            who.refuse_own(&Subject::citizen(&new.patient), "refers a patient")?;
            session
                .organisation_of_kind(
                    "referral.municipality",
                    &new.municipality,
                    &[OrgKind::Municipality],
                )
                .await?;
            let plan = session
                .insert_plan(
                    &NewPlan {
                        organisation: new.municipality.clone(),
                        patient: new.patient.clone(),
                        patient_display_name: new.patient_display_name.clone(),
                        kind: PlanKind::General,
                    },
                    &who.subject,
                    now,
                )
                .await?;
            let access = PlanAccess {
                plan,
                relations: vec![Relation::Requester],
            };
            let change = Change::begin(&mut session, &access, &who, true, now).await?;
            // The requester serves on the plan, and the patient's consent to share covers the
            // trust, so the hospital follows the work it asked for.
            let requester = NewMember::serving(
                who.subject.clone(),
                "Requester at the health trust",
                MemberRole::Specialist,
                trust.clone(),
            );
            session
                .insert_member(&access.plan, &requester, &who.subject, now)
                .await?;
            let consent = NewConsent {
                recipients: vec![trust.clone()],
                on_behalf: new.answered_on_behalf.clone(),
            };
            session
                .record_consent(&access.plan, &consent, REFERRAL_CONSENT, &who.subject, now)
                .await?;
            for text in &new.patient_goals {
                let goal = NewGoal {
                    text: text.clone(),
                    priority: 1,
                    target_date: None,
                };
                session
                    .insert_goal(&access.plan, &goal, &who.subject, now)
                    .await?;
            }
            let referral = Referral {
                id: ResourceId::generate(),
                municipality: new.municipality.clone(),
                health_trust: trust.clone(),
                requester: who.subject.as_stored().to_owned(),
                patient: new.patient.clone(),
                patient_display_name: new.patient_display_name.clone(),
                patient_goals: new.patient_goals.clone(),
                wants_plan: new.wants_plan,
                answered_on_behalf: new.answered_on_behalf.clone(),
                status: ReferralStatus::Sent,
                plan: access.plan.id,
                response: String::new(),
                create_time: now,
                response_time: None,
            };
            session.insert_referral(&referral).await?;
            let mut plan = access.plan.clone();
            plan.referral = Some(referral.id);
            if !new.wants_plan {
                // The patient wants a coordinator, not a plan: the record stays, declined, so
                // that one can still be appointed.
                plan.status = PlanStatus::Declined;
                plan.status_reason = "The patient wants a coordinator, not a plan".into();
            }
            session.save_plan(&plan, plan.version, now).await?;
            change
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("plan requested by referrals/{}", referral.id)],
                    now,
                )
                .await?;
            Ok(encode(&referral))
        }
        .await;
        let referral = session.finish(result).await?;
        Ok(Response::new(proto::CreateReferralResponse {
            referral: Some(referral),
        }))
    }

    async fn get_referral(
        &self,
        request: Request<proto::GetReferralRequest>,
    ) -> Result<Response<proto::GetReferralResponse>, Status> {
        let who = principal(&request)?;
        let id = referral_name("name", &request.get_ref().name).map_err(Error::from)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let referral = self
            .0
            .guard
            .referral(&mut session, &who, id, Action::Read, now)
            .await?;
        Ok(Response::new(proto::GetReferralResponse {
            referral: Some(encode(&referral)),
        }))
    }

    async fn list_referrals(
        &self,
        request: Request<proto::ListReferralsRequest>,
    ) -> Result<Response<proto::ListReferralsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let page = Page::parse(
            req.page_size,
            &req.page_token,
            Scope::of("ListReferrals", "", ""),
        )
        .map_err(Error::InvalidArgument)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        // Each side reads through its own object: the sender's roles in the health trust they
        // act for, the receiver's in the municipality.
        let sent = self
            .0
            .guard
            .read_filter(&mut session, Object::SentReferral)
            .await?;
        let received = self
            .0
            .guard
            .read_filter(&mut session, Object::Referral)
            .await?;
        let mut rows = session
            .list_referrals(
                &who,
                sent.grants(Relation::Requester),
                &sent.org_roles,
                &received.org_roles,
                page,
            )
            .await?;
        let next_page_token = page.next_token(&mut rows, |r| r.referral.id);
        self.0
            .guard
            .record_listed_referrals(&mut session, &who, &rows, now)
            .await?;
        Ok(Response::new(proto::ListReferralsResponse {
            referrals: rows.iter().map(|r| encode(&r.referral)).collect(),
            next_page_token,
        }))
    }

    async fn accept_referral(
        &self,
        request: Request<proto::AcceptReferralRequest>,
    ) -> Result<Response<proto::AcceptReferralResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(referral_name("name", &req.name));
        let new = v.check_all(parse_assignment("coordinator", req.coordinator.as_ref()));
        let comment = v.check(reason("comment", &req.comment, false));
        let (Some(id), Some(new), Some(comment)) = (id, new, comment) else {
            return Err(v.into_error().into());
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let referral = self
                .0
                .guard
                .referral(&mut session, &who, id, Action::Accept, now)
                .await?;
            if referral.status != ReferralStatus::Sent {
                return Err(Error::FailedPrecondition(format!(
                    "the referral is {} already",
                    referral.status.as_str()
                )));
            }
            let access = self
                .0
                .guard
                .plan(
                    &mut session,
                    &who,
                    referral.plan,
                    Object::Coordinator,
                    Action::Appoint,
                    now,
                )
                .await?;
            let change = Change::begin(&mut session, &access, &who, false, now).await?;
            let assignment =
                appoint(&self.0.guard, &mut session, &access.plan, &new, &who, now).await?;
            session
                .answer_referral(
                    &referral,
                    ReferralStatus::Accepted,
                    &comment,
                    who.subject.as_stored(),
                    now,
                )
                .await?;
            change
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("referrals/{id} accepted; coordinator appointed")],
                    now,
                )
                .await?;
            let answered = Referral {
                status: ReferralStatus::Accepted,
                response: comment,
                response_time: Some(now),
                ..referral
            };
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok((encode(&answered), encode_assignment(&assignment, show)))
        }
        .await;
        let (referral, coordinator) = session.finish(result).await?;
        Ok(Response::new(proto::AcceptReferralResponse {
            referral: Some(referral),
            coordinator: Some(coordinator),
        }))
    }

    async fn return_referral(
        &self,
        request: Request<proto::ReturnReferralRequest>,
    ) -> Result<Response<proto::ReturnReferralResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(referral_name("name", &req.name));
        let why = v.check(reason("reason", &req.reason, true));
        let (Some(id), Some(why)) = (id, why) else {
            return Err(v.into_error().into());
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let referral = self
                .0
                .guard
                .referral(&mut session, &who, id, Action::Return, now)
                .await?;
            session
                .answer_referral(
                    &referral,
                    ReferralStatus::Returned,
                    &why,
                    who.subject.as_stored(),
                    now,
                )
                .await?;
            // The relations the referral created end with it: the requester's membership, and
            // the consent it recorded for the health trust, if that is still the one in force.
            let access = self
                .0
                .guard
                .plan(
                    &mut session,
                    &who,
                    referral.plan,
                    Object::Plan,
                    Action::Read,
                    now,
                )
                .await?;
            let change = Change::begin(&mut session, &access, &who, false, now).await?;
            let requester = Subject::from_stored(referral.requester.clone());
            session
                .end_memberships_of(referral.plan, &requester, &referral.health_trust, now)
                .await?;
            let mut changes = vec![format!(
                "referrals/{id} returned; the requester's membership ended"
            )];
            let in_force = session.latest_consent_decision(referral.plan).await?;
            if in_force.is_some_and(|d| !d.withdrawn && d.by == REFERRAL_CONSENT) {
                session
                    .withdraw_consent(
                        referral.plan,
                        &who.subject,
                        OrgRole::UnitStaff.as_str(),
                        "the referral that recorded it was returned",
                        now,
                    )
                    .await?;
                changes.push("the consent the referral recorded ended".into());
            }
            change
                .finish(&mut session, &access, &who, &changes, now)
                .await?;
            Ok(encode(&Referral {
                status: ReferralStatus::Returned,
                response: why,
                response_time: Some(now),
                ..referral
            }))
        }
        .await;
        let referral = session.finish(result).await?;
        Ok(Response::new(proto::ReturnReferralResponse {
            referral: Some(referral),
        }))
    }
}
