//! `samvirke.v1.GoalService`.

use tonic::Request;

use super::convert::{goal_status, item_at, masked, optional_date, plan_page};
use super::encode::encode_goal;
use super::{Rpc, reply, take};
use crate::domain::goal::{Goal, GoalPatch, MAX_GOAL_TEXT, NewGoal, goal_text, priority, reason};
use crate::domain::names::{goal_name, plan_name};
use crate::domain::text::{Optional, Required, bounded};
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::goal::UpdateGoal;
use crate::ops::{Context, ItemRef, Shown};
use crate::proto::goal_service_server::GoalService;
use crate::proto::{self, *};

/// The goal service.
pub struct GoalApi(pub Context);

/// The field groups of a goal: the patient's words, and what the coordinator settles.
#[derive(Clone, Copy, Debug, PartialEq)]
enum GoalField {
    Text,
    Priority,
    Status,
    TargetDate,
}

const UPDATABLE: &[(&str, GoalField)] = &[
    ("text", GoalField::Text),
    ("priority", GoalField::Priority),
    ("status", GoalField::Status),
    ("target_date", GoalField::TargetDate),
];

const FIXED: &[&str] = &["name", "adjustments", "create_time", "update_time", "etag"];

/// Validates the masked fields of `input` into a patch, recording what is wrong in `v`.
fn parse_patch(
    input: &proto::Goal,
    fields: &[(String, GoalField)],
    v: &mut Violations,
) -> GoalPatch {
    let mut patch = GoalPatch::default();
    for (_, field) in fields {
        match field {
            GoalField::Text => patch.text = v.check(goal_text("goal.text", &input.text)),
            GoalField::Priority => {
                patch.priority = v.check(priority("goal.priority", input.priority));
            }
            GoalField::Status => {
                patch.status = v.check(goal_status(input.status).ok_or_else(|| {
                    FieldViolation::new(
                        "goal.status",
                        "must be a goal status other than GOAL_STATUS_UNSPECIFIED",
                    )
                }));
            }
            GoalField::TargetDate => {
                patch.target_date = v.check(optional_date("goal.target_date", input.target_date));
            }
        }
    }
    patch
}

/// A goal as the caller may see it.
fn shown(goal: &Shown<Goal>) -> Option<proto::Goal> {
    Some(encode_goal(&goal.value, goal.identities))
}

impl TryFrom<proto::UpdateGoalRequest> for UpdateGoal {
    type Error = Error;

    fn try_from(req: proto::UpdateGoalRequest) -> Result<Self, Error> {
        let input = req.goal.ok_or_else(|| Error::invalid("goal", "must be set"))?;
        let mut v = Violations::default();
        let at = (&input.name[..], &input.etag[..]);
        let m = masked(&mut v, ("goal", goal_name), at, req.update_mask, (UPDATABLE, FIXED));
        let why = v.check(reason("reason", &req.reason, Optional));
        let patch = parse_patch(&input, &m.fields, &mut v);
        let paths = m.paths();
        let (((plan, goal), etag), reason) = v.ok(m.at.zip(why))?;
        let goal = ItemRef { plan, item: goal, etag };
        Ok(UpdateGoal { goal, paths, patch: GoalPatch { reason, ..patch } })
    }
}

#[tonic::async_trait]
impl GoalService for GoalApi {
    async fn create_goal(&self, r: Request<CreateGoalRequest>) -> Rpc<CreateGoalResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let goal = req.goal.ok_or_else(|| Error::invalid("goal", "must be set"))?;
        let target = goal.target_date.map(|d| super::convert::date_in("goal.target_date", d));
        let new = v.check_all(NewGoal::parse(&goal.text, goal.priority, target));
        let (plan, new) = v.ok(plan.zip(new))?;
        let goal = self.0.create_goal(&who, plan, new).await?;
        reply(proto::CreateGoalResponse { goal: shown(&goal) })
    }

    async fn get_goal(&self, r: Request<GetGoalRequest>) -> Rpc<GetGoalResponse> {
        let (who, req) = take(r)?;
        let (plan, goal) = goal_name("name", &req.name)?;
        let goal = self.0.get_goal(&who, plan, goal).await?;
        reply(proto::GetGoalResponse { goal: shown(&goal) })
    }

    async fn list_goals(&self, r: Request<ListGoalsRequest>) -> Rpc<ListGoalsResponse> {
        let (who, req) = take(r)?;
        let (plan, page) = plan_page("ListGoals", &req.parent, req.page_size, &req.page_token, "")?;
        let listed = self.0.list_goals(&who, plan, page).await?;
        let show = listed.identities;
        reply(proto::ListGoalsResponse {
            goals: listed.value.items.iter().map(|g| encode_goal(g, show)).collect(),
            next_page_token: listed.value.next_page_token,
        })
    }

    async fn update_goal(&self, r: Request<UpdateGoalRequest>) -> Rpc<UpdateGoalResponse> {
        let (who, req) = take(r)?;
        let update = UpdateGoal::try_from(req)?;
        let goal = self.0.update_goal(&who, update).await?;
        reply(proto::UpdateGoalResponse { goal: shown(&goal) })
    }

    async fn delete_goal(&self, r: Request<DeleteGoalRequest>) -> Rpc<DeleteGoalResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let at = item_at(goal_name, (&req.name, &req.etag), &mut v);
        let at = v.ok(at)?;
        self.0.delete_goal(&who, at).await?;
        reply(proto::DeleteGoalResponse {})
    }

    async fn propose_goal_adjustment(
        &self,
        r: Request<ProposeGoalAdjustmentRequest>,
    ) -> Rpc<ProposeGoalAdjustmentResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let at = item_at(goal_name, (&req.name, &req.etag), &mut v);
        let why = v.check(reason("reason", &req.reason, Required));
        let text = v.check(bounded("proposed_text", &req.proposed_text, MAX_GOAL_TEXT, Optional));
        let ((at, why), text) = v.ok(at.zip(why).zip(text))?;
        let goal = self.0.propose_goal_adjustment(&who, at, why, text).await?;
        reply(proto::ProposeGoalAdjustmentResponse { goal: shown(&goal) })
    }
}
