//! Plan transfers (PlanTransferService): the responsible unit proposes moving the plan to
//! another municipality, which accepts (appointing a coordinator) or declines. Each step is one
//! transaction and one revision of the plan's history.

use super::coordinator::appoint;
use super::{ChangeKind, Context, Listed, edit_plan};
use crate::auth::{Action, Object};
use crate::domain::coordinator::{Assignment, NewAssignment};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::organisation::OrgKind;
use crate::domain::page::Page;
use crate::domain::plan::Plan;
use crate::domain::principal::Principal;
use crate::domain::transfer::{NewTransfer, PlanTransfer, TransferState};
use crate::domain::{Error, Result};

/// Which transfers a list returns.
#[derive(Clone, Copy, Debug)]
pub enum TransferList {
    /// A plan's.
    Plan(ResourceId),
    /// Those proposed to the municipality the caller acts for.
    Incoming,
}

/// The patient's consent in force covers sharing the plan with `to`: `FAILED_PRECONDITION`
/// otherwise. Asked when the transfer is proposed and again when it is accepted (pasient- og
/// brukerrettighetsloven § 2-5: the plan is made with the patient's consent).
fn consent_covers(plan: &Plan, to: &OrgNumber) -> Result<()> {
    if plan.consent.as_ref().is_some_and(|c| c.recipients.contains(to)) {
        return Ok(());
    }
    Err(Error::FailedPrecondition(
        "the patient's consent does not cover the receiving municipality: the patient records \
         consent to share the plan with it first"
            .into(),
    ))
}

impl Context {
    /// TransferPlan: the plan must be open, the receiving organisation a municipality of the
    /// registry other than the plan's own, the patient's consent must cover it, and no other
    /// proposal nor the referral that requested the plan may be pending.
    pub async fn transfer_plan(&self, who: &Principal, new: NewTransfer) -> Result<PlanTransfer> {
        self.write(async |s, now| {
            let pass = self
                .guard
                .plan(s, who, new.plan, Object::PlanTransfer, Action::Create, now)
                .await?;
            pass.plan().check_open()?;
            let to = &new.to;
            s.organisation_of_kind("transfer.to_organisation", to, &[OrgKind::Municipality])
                .await?;
            if to == pass.organisation() {
                return Err(Error::invalid(
                    "transfer.to_organisation",
                    "must be another organisation than the plan's own",
                ));
            }
            consent_covers(pass.plan(), to)?;
            // A referral's answer belongs to the municipality it was sent to: it answers before
            // the plan moves, or nobody could.
            if s.referral_pending(&pass).await? {
                return Err(Error::FailedPrecondition(
                    "the referral that requested the plan awaits an answer: accept or return it \
                     before the plan moves"
                        .into(),
                ));
            }
            let (transfer, _) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                let transfer = s.insert_transfer(&pass, &new, who, now).await?;
                let line = format!("transfer to {to} proposed: planTransfers/{}", transfer.id);
                Ok((transfer, vec![line]))
            })
            .await?;
            Ok(transfer)
        })
        .await
    }

    /// GetPlanTransfer.
    pub async fn get_plan_transfer(&self, who: &Principal, id: ResourceId) -> Result<PlanTransfer> {
        self.read(async |s, now| {
            let pass = self.guard.transfer(s, who, id, Action::Read, now).await?;
            Ok(pass.transfer().clone())
        })
        .await
    }

    /// ListPlanTransfers: a plan's, for those who may read it; or those proposed to the
    /// municipality the caller acts for, for its unit staff.
    pub async fn list_plan_transfers(
        &self,
        who: &Principal,
        list: TransferList,
        page: Page,
    ) -> Result<Listed<PlanTransfer>> {
        self.read(async |s, now| {
            let rows = match list {
                TransferList::Plan(plan) => {
                    let (object, action) = (Object::PlanTransfer, Action::Read);
                    let pass = self.guard.plan(s, who, plan, object, action, now).await?;
                    s.plan_transfers(&pass, page).await?
                }
                TransferList::Incoming => {
                    let Some(org) = who.organisation.clone() else {
                        return Err(Error::PermissionDenied(
                            "incoming transfers are a municipality's: act for one".into(),
                        ));
                    };
                    let (object, action) = (Object::IncomingPlanTransfer, Action::Read);
                    let pass = self.guard.organisation(s, who, &org, object, action, now).await?;
                    s.incoming_transfers(&pass, who, page).await?
                }
            };
            Ok(Listed::page(rows, page, |t| t.id))
        })
        .await
    }

    /// AcceptPlanTransfer: in one transaction the plan moves (its responsible organisation
    /// changes and the memberships of those serving for the old one end, its coordinator's
    /// appointment with them), and the receiving unit appoints a coordinator, by its role in
    /// the plan's new organisation.
    pub async fn accept_plan_transfer(
        &self,
        who: &Principal,
        id: ResourceId,
        coordinator: NewAssignment,
        comment: String,
    ) -> Result<(PlanTransfer, Assignment)> {
        self.write(async |s, now| {
            let transfer = self.guard.transfer(s, who, id, Action::Accept, now).await?;
            let t = transfer.transfer().clone();
            t.check_pending()?;
            let before = self.guard.transferred_plan(&transfer, who)?;
            if before.organisation() != &t.from {
                return Err(Error::FailedPrecondition(
                    "the plan has moved since the transfer was proposed".into(),
                ));
            }
            // The patient may have narrowed or withdrawn consent since the proposal: it is the
            // consent in force when the plan moves that must cover the receiving side.
            consent_covers(before.plan(), &t.to)?;
            edit_plan(s, &before, who, ChangeKind::Record, now, async |s, _| {
                let mut lines = Vec::new();
                if let Some(current) = s.current_assignment(&before).await? {
                    let why = format!("the plan moved to {}", t.to);
                    s.end_assignment(&before, &current, &why, now).await?;
                    lines.push(format!("coordinator appointment ended: {}", current.display_name));
                }
                let ended = s.move_plan(&before, &t.to, now).await?;
                lines.insert(
                    0,
                    format!(
                        "plan transferred from {} to {}: planTransfers/{id}; {ended} \
                         membership(s) for {} ended",
                        t.from, t.to, t.from
                    ),
                );
                Ok(((), lines))
            })
            .await?;
            let pass =
                self.guard.plan(s, who, t.plan, Object::Coordinator, Action::Appoint, now).await?;
            let (assignment, _) =
                edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                    let assignment =
                        appoint(&self.guard, s, &pass, &coordinator, "coordinator", who, now)
                            .await?;
                    let line = format!("coordinator appointed: {}", assignment.display_name);
                    Ok((assignment, vec![line]))
                })
                .await?;
            let answered = PlanTransfer {
                state: TransferState::Accepted,
                response: comment.clone(),
                assignment: Some(assignment.id),
                response_time: Some(now),
                ..t
            };
            s.answer_transfer(&transfer, &answered, who).await?;
            Ok((answered, assignment))
        })
        .await
    }

    /// DeclinePlanTransfer (the receiving side) or CancelPlanTransfer (the sending side): a
    /// proposal still pending ends, with a reason, as `end` says; the plan stays where it was.
    pub async fn end_plan_transfer(
        &self,
        who: &Principal,
        id: ResourceId,
        end: TransferState,
        reason: String,
    ) -> Result<PlanTransfer> {
        let (action, word) = match end {
            TransferState::Declined => (Action::Decline, "declined"),
            TransferState::Cancelled => (Action::Cancel, "cancelled"),
            _ => return Err(Error::internal("a transfer ends declined or cancelled")),
        };
        self.write(async |s, now| {
            let transfer = self.guard.transfer(s, who, id, action, now).await?;
            let t = transfer.transfer().clone();
            t.check_pending()?;
            let pass = self.guard.transferred_plan(&transfer, who)?;
            let answered = PlanTransfer {
                state: end,
                response: reason.clone(),
                response_time: Some(now),
                ..t
            };
            edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.answer_transfer(&transfer, &answered, who).await?;
                let line = format!("transfer to {} {word}: planTransfers/{id}", answered.to);
                Ok(((), vec![line]))
            })
            .await?;
            Ok(answered)
        })
        .await
    }
}
