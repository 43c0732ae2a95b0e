//! Complaints (klage) about the plan or the coordinator, under pasient- og
//! brukerrettighetsloven chapter 7: filed, reviewed, decided or forwarded to the county
//! governor, decided there.

use super::{Context, Listed};
use crate::auth::{Action, Object};
use crate::domain::child_coordinator::ApplicationState;
use crate::domain::complaint::{Complaint, ComplaintEvent, ComplaintState, NewComplaint, Step};
use crate::domain::date::Date;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::ComplaintListFilter;

/// One step of a complaint's handling, validated: what the step is, the etag the caller read,
/// the authority it goes to when forwarded, and its text.
#[derive(Debug)]
pub struct ComplaintStep {
    /// The complaint.
    pub complaint: ResourceId,
    /// Its etag as read, when the caller gave one.
    pub etag: Option<i64>,
    /// The step.
    pub step: Step,
    /// The county governor it is forwarded to.
    pub forwarded_to: Option<OrgNumber>,
    /// The step's text: assessment, reasons or reason.
    pub text: String,
}

/// Which complaints a list returns, besides what the caller may read.
#[derive(Debug, Clone, Copy)]
pub struct ComplaintList {
    /// Only those awaiting the organisation's answer.
    pub awaiting_organisation: bool,
    /// Only those filed more than this many days ago.
    pub waiting_longer_than_days: Option<i64>,
}

impl Context {
    /// FileComplaint: by the patient, or on their behalf, against an organisation of a kind
    /// that handles complaints. A named plan the complainant may not read is `NOT_FOUND`,
    /// exactly as GetPlan answers, so a complaint cannot tell whose plan an id is.
    pub async fn file_complaint(&self, who: &Principal, new: NewComplaint) -> Result<Complaint> {
        let now = Instant::now();
        let deadline = new.deadline(Date::today_in_norway(now));
        self.store
            .write_with(async |s| {
                let mut new = new.clone();
                self.guard.file_complaint(s, who, &new.organisation, now).await?;
                s.organisation_of_kind(
                    "complaint.organisation",
                    &new.organisation,
                    OrgRole::ComplaintHandler.held_in(),
                )
                .await?;
                if let Some(application) = new.application {
                    let pass = self.guard.application(s, who, application, Action::Read, now);
                    let pass = pass.await?;
                    let a = pass.application();
                    // Only the applicant complains about their own application; the
                    // municipality's staff read it, but it is not theirs to complain about.
                    if !who.is(&a.applicant) {
                        return Err(Error::NotFound("child coordinator application"));
                    }
                    if a.municipality != new.organisation {
                        return Err(Error::invalid(
                            "complaint.organisation",
                            "must be the municipality the application was made to",
                        ));
                    }
                    if a.state == ApplicationState::Accepted {
                        return Err(Error::FailedPrecondition(
                            "the application was accepted: a child coordinator is chosen".into(),
                        ));
                    }
                }
                if let Some(plan) = new.plan {
                    let pass = self.plan_pass(s, who, plan, &[], now).await?;
                    if pass.organisation() != &new.organisation {
                        return Err(Error::invalid(
                            "complaint.plan",
                            "must be a plan of the organisation complained against",
                        ));
                    }
                    new.resolve_patient(Some(&pass.plan().patient), pass.identities())?;
                } else {
                    new.resolve_patient(None, false)?;
                }
                s.insert_complaint(&new, who, deadline, now).await
            })
            .await
    }

    /// GetComplaint, with its history.
    pub async fn get_complaint(
        &self,
        who: &Principal,
        id: ResourceId,
    ) -> Result<(Complaint, Vec<ComplaintEvent>)> {
        self.read(async |s, now| {
            let pass = self.guard.complaint(s, who, id, Action::Read, now).await?;
            let history = s.complaint_events(&pass).await?;
            Ok((pass.complaint().clone(), history))
        })
        .await
    }

    /// ListComplaints: those the caller may read, filtered in SQL from what the policy grants.
    pub async fn list_complaints(
        &self,
        who: &Principal,
        list: ComplaintList,
        page: Page,
    ) -> Result<Listed<Complaint>> {
        self.read(async |s, now| {
            let filter = ComplaintListFilter {
                read: self.guard.read_filter(s, Object::Complaint).await?,
                awaiting_organisation: list.awaiting_organisation,
                filed_before: list
                    .waiting_longer_than_days
                    .map(|d| Instant(now.0 - d * 86_400 * 1_000_000)),
            };
            let mut rows = s.list_complaints(&filter, who, page).await?;
            let next_page_token = page.next_token(&mut rows, |row| row.complaint.id);
            let passes = self.guard.listed_complaints(s, who, rows, now).await?;
            Ok(Listed {
                items: passes.iter().map(|p| p.complaint().clone()).collect(),
                next_page_token,
            })
        })
        .await
    }

    /// StartComplaintReview, ReconsiderComplaint, ForwardComplaint, DecideComplaint and
    /// WithdrawComplaint: one step of the complaint's handling, in one transaction.
    pub async fn edit_complaint(
        &self,
        who: &Principal,
        change: ComplaintStep,
    ) -> Result<Complaint> {
        self.write(async |s, now| {
            let pass =
                self.guard.complaint(s, who, change.complaint, action(change.step), now).await?;
            let next = pass.complaint().state.after(change.step)?;
            if let Some(authority) = &change.forwarded_to {
                s.organisation_of_kind("authority", authority, &[OrgKind::CountyGovernor]).await?;
            }
            let decision = match change.step {
                Step::Decide(outcome) if next == ComplaintState::Decided => Some(outcome),
                _ => None,
            };
            s.transition_complaint(
                &pass,
                next,
                change.etag,
                change.forwarded_to.as_ref(),
                decision,
                who,
                &change.text,
                now,
            )
            .await
        })
        .await
    }
}

/// The policy's action for a step of a complaint's handling.
fn action(step: Step) -> Action {
    match step {
        Step::StartReview => Action::Review,
        Step::Reconsider(_) => Action::Reconsider,
        Step::Forward => Action::Forward,
        Step::Decide(_) => Action::Decide,
        Step::Withdraw => Action::Withdraw,
    }
}
