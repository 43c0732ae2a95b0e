//! Referrals: a health trust asks a municipality for a plan or a coordinator, and the
//! municipality accepts (appointing one) or returns it.

use super::coordinator::appoint;
use super::{ChangeKind, Context, Listed, Shown, edit_plan};
use crate::auth::{Action, Object, ReferralPass};
use crate::domain::coordinator::{Assignment, NewAssignment};
use crate::domain::goal::NewGoal;
use crate::domain::ids::ResourceId;
use crate::domain::member::{MemberRole, NewMember};
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::Page;
use crate::domain::plan::{NewConsent, NewPlan, PlanKind, PlanStatus};
use crate::domain::principal::Principal;
use crate::domain::referral::{NewReferral, Referral, ReferralStatus};
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::Session;

/// How the plan shows consent a referral recorded for its health trust: given on the patient's
/// behalf when they could not answer, and ended if the referral is returned.
const REFERRAL_CONSENT: &str = "referral";

/// The referral as it reads once answered.
fn answered(
    pass: ReferralPass,
    status: ReferralStatus,
    response: String,
    now: Instant,
) -> Referral {
    Referral { status, response, response_time: Some(now), ..pass.referral().clone() }
}

impl Context {
    /// CreateReferral: a health trust's referrer asks a municipality of the registry for a
    /// plan. In one transaction: the plan (REQUESTED, or DECLINED when the patient wants only a
    /// coordinator), the requester on its group, consent covering the trust, and the patient's
    /// goals as proposals.
    pub async fn create_referral(&self, who: &Principal, new: NewReferral) -> Result<Referral> {
        let Some(trust) = who.organisation.clone() else {
            return Err(Error::PermissionDenied(
                "referrals are sent by a health trust's personnel or systems".into(),
            ));
        };
        self.write(async |s, now| {
            let org = self
                .guard
                .organisation(s, who, &trust, Object::SentReferral, Action::Create, now)
                .await?;
            who.refuse_own(&Subject::citizen(&new.patient), "refers a patient")?;
            s.organisation_of_kind(
                "referral.municipality",
                &new.municipality,
                &[OrgKind::Municipality],
            )
            .await?;
            let requested = NewPlan {
                organisation: new.municipality.clone(),
                patient: new.patient.clone(),
                patient_display_name: new.patient_display_name.clone(),
                kind: PlanKind::General,
            };
            let plan = s.insert_plan(&org, &requested, &who.subject, now).await?;
            let pass =
                self.guard.created_plan(s, &org, plan, vec![Relation::Requester], who, now).await?;
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
                plan: pass.id(),
                response: String::new(),
                create_time: now,
                response_time: None,
            };
            edit_plan(s, &pass, who, ChangeKind::Content, now, async |s, _| {
                // The requester serves on the plan, and the patient's consent to share
                // covers the trust, so the hospital follows the work it asked for.
                let requester = NewMember::serving(
                    who.subject.clone(),
                    "Requester at the health trust",
                    MemberRole::Specialist,
                    trust.clone(),
                );
                s.insert_member(&pass, &requester, &who.subject, now).await?;
                let consent = NewConsent {
                    recipients: vec![trust.clone()],
                    on_behalf: new.answered_on_behalf.clone(),
                };
                s.record_consent(&pass, &consent, REFERRAL_CONSENT, &who.subject, now).await?;
                for text in &new.patient_goals {
                    let goal = NewGoal { text: text.clone(), priority: 1, target_date: None };
                    s.insert_goal(&pass, &goal, &who.subject, now).await?;
                }
                s.insert_referral(&org, &referral).await?;
                let mut plan = pass.plan().clone();
                plan.referral = Some(referral.id);
                if !new.wants_plan {
                    // The patient wants a coordinator, not a plan: the record stays,
                    // declined, so that one can still be appointed.
                    plan.status = PlanStatus::Declined;
                    plan.status_reason = "The patient wants a coordinator, not a plan".into();
                }
                s.save_plan(&pass, &plan, plan.version, now).await?;
                let line = format!("plan requested by referrals/{}", referral.id);
                Ok(((), vec![line]))
            })
            .await?;
            Ok(referral)
        })
        .await
    }

    /// GetReferral.
    pub async fn get_referral(&self, who: &Principal, id: ResourceId) -> Result<Referral> {
        self.read(async |s, now| {
            let pass = self.guard.referral(s, who, id, Action::Read, now).await?;
            Ok(pass.referral().clone())
        })
        .await
    }

    /// ListReferrals: each side reads through its own object, the sender's roles in the health
    /// trust they act for, the receiver's in the municipality.
    pub async fn list_referrals(&self, who: &Principal, page: Page) -> Result<Listed<Referral>> {
        self.read(async |s, now| {
            let sent = self.guard.read_filter(s, Object::SentReferral).await?;
            let received = self.guard.read_filter(s, Object::Referral).await?;
            let mut rows = s
                .list_referrals(
                    who,
                    sent.grants(Relation::Requester),
                    &sent.org_roles,
                    &received.org_roles,
                    page,
                )
                .await?;
            let next_page_token = page.next_token(&mut rows, |r| r.referral.id);
            let passes = self.guard.listed_referrals(s, who, rows, now).await?;
            Ok(Listed {
                items: passes.iter().map(|p| p.referral().clone()).collect(),
                next_page_token,
            })
        })
        .await
    }

    /// AcceptReferral: appoints the coordinator in the same transaction; a second answer is
    /// `FAILED_PRECONDITION`.
    pub async fn accept_referral(
        &self,
        who: &Principal,
        id: ResourceId,
        coordinator: NewAssignment,
        comment: String,
    ) -> Result<(Referral, Shown<Assignment>)> {
        self.write(async |s, now| {
            let referral = self.guard.referral(s, who, id, Action::Accept, now).await?;
            let status = referral.referral().status;
            if status != ReferralStatus::Sent {
                return Err(Error::FailedPrecondition(format!(
                    "the referral is {} already",
                    status.as_str()
                )));
            }
            let plan = referral.referral().plan;
            let pass =
                self.guard.plan(s, who, plan, Object::Coordinator, Action::Appoint, now).await?;
            let (assignment, _) =
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    let assignment =
                        appoint(&self.guard, s, &pass, &coordinator, "coordinator", who, now)
                            .await?;
                    answer(s, &referral, ReferralStatus::Accepted, &comment, who, now).await?;
                    let line = format!("referrals/{id} accepted; coordinator appointed");
                    Ok((assignment, vec![line]))
                })
                .await?;
            let accepted = answered(referral, ReferralStatus::Accepted, comment, now);
            Ok((accepted, Shown::by(&pass, assignment)?))
        })
        .await
    }

    /// ReturnReferral: with a reason. The relations the referral created end with it: the
    /// requester's membership, and the consent it recorded for the health trust, if that is
    /// still the one in force.
    pub async fn return_referral(
        &self,
        who: &Principal,
        id: ResourceId,
        reason: String,
    ) -> Result<Referral> {
        self.write(async |s, now| {
            let referral = self.guard.referral(s, who, id, Action::Return, now).await?;
            answer(s, &referral, ReferralStatus::Returned, &reason, who, now).await?;
            let r = referral.referral();
            let pass = self.guard.plan(s, who, r.plan, Object::Plan, Action::Read, now).await?;
            edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                let requester = Subject::from_stored(r.requester.clone());
                s.end_memberships_of(&pass, &requester, &r.health_trust, now).await?;
                let mut changes =
                    vec![format!("referrals/{id} returned; the requester's membership ended")];
                let in_force = s.latest_consent_decision(&pass).await?;
                if in_force.is_some_and(|d| !d.withdrawn && d.by == REFERRAL_CONSENT) {
                    let why = "the referral that recorded it was returned";
                    let unit = OrgRole::UnitStaff.as_str();
                    s.withdraw_consent(&pass, &who.subject, unit, why, now).await?;
                    changes.push("the consent the referral recorded ended".into());
                }
                Ok(((), changes))
            })
            .await?;
            Ok(answered(referral, ReferralStatus::Returned, reason, now))
        })
        .await
    }
}

/// Records the municipality's answer, if the referral is still sent.
async fn answer(
    s: &mut Session,
    referral: &ReferralPass,
    status: ReferralStatus,
    response: &str,
    who: &Principal,
    now: Instant,
) -> Result<()> {
    s.answer_referral(referral, status, response, who.subject.as_stored(), now).await
}
