//! `samvirke.v1.GoalService`.

use tonic::{Request, Response, Status};

use super::convert::{goal_name, goal_status, optional_date, plan_name, plan_page, required_etag};
use super::document::{Change, encode_goal};
use super::{Context, principal};
use crate::auth::{Action, Object, PlanAccess};
use crate::domain::goal::{
    Goal, GoalAdjustment, GoalPatch, MAX_GOAL_TEXT, NewGoal, goal_text, priority, reason,
};
use crate::domain::ids::ResourceId;
use crate::domain::mask;
use crate::domain::principal::Principal;
use crate::domain::text::bounded;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::proto::goal_service_server::GoalService;
use crate::store::Session;

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

impl GoalField {
    fn policy(self) -> (Object, Action) {
        match self {
            GoalField::Text => (Object::GoalWords, Action::Update),
            _ => (Object::Goal, Action::Update),
        }
    }
}

/// Validates the masked fields of `input` into a patch.
fn parse_patch(
    input: &proto::Goal,
    fields: &[(String, GoalField)],
    why: String,
) -> Result<GoalPatch, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let mut patch = GoalPatch {
        reason: why,
        ..GoalPatch::default()
    };
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
    if v.is_empty() {
        Ok(patch)
    } else {
        Err(v.into_violations())
    }
}

impl GoalApi {
    /// Runs a change to one goal: authorize, check the plan is open, load the goal, let
    /// `change` act on it, and write the plan's revision. Returns the goal as it now is, or
    /// `None` when the change deleted it.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        who: &Principal,
        plan: ResourceId,
        goal: ResourceId,
        authorize: &[(Object, Action)],
        change: impl AsyncFnOnce(
            &mut Session,
            &PlanAccess,
            Goal,
        ) -> Result<(Option<Goal>, String), Error>,
    ) -> Result<Option<proto::Goal>, Error> {
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .authorize(&mut session, who, plan, authorize, now)
                .await?;
            let loaded = session.goal(plan, goal).await?;
            let begun = Change::begin(&mut session, &access, who, true, now).await?;
            let (after, what) = change(&mut session, &access, loaded).await?;
            begun
                .finish(&mut session, &access, who, &[what], now)
                .await?;
            let show = self.0.guard.may_see_identities(&access, who)?;
            Ok(match after {
                Some(_) => Some(encode_goal(&session.goal(plan, goal).await?, show)),
                None => None,
            })
        }
        .await;
        session.finish(result).await
    }

    /// Authorizes `authorize` on the plan, which must be open for change.
    async fn authorize(
        &self,
        session: &mut Session,
        who: &Principal,
        plan: ResourceId,
        authorize: &[(Object, Action)],
        now: Instant,
    ) -> Result<PlanAccess, Error> {
        let access = self
            .0
            .guard
            .plan(session, who, plan, Object::Plan, Action::Read, now)
            .await?;
        for &(object, action) in authorize {
            self.0
                .guard
                .require(session, &access, who, object, action, now)
                .await?;
        }
        access.plan.check_open()?;
        Ok(access)
    }
}

fn stale(goal: &Goal, expected: i64) -> Result<(), Error> {
    if goal.revision == expected {
        Ok(())
    } else {
        Err(Error::Aborted(
            "the goal changed since it was read: read it again".into(),
        ))
    }
}

#[tonic::async_trait]
impl GoalService for GoalApi {
    async fn create_goal(
        &self,
        request: Request<proto::CreateGoalRequest>,
    ) -> Result<Response<proto::CreateGoalResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let goal = req
            .goal
            .ok_or_else(|| Error::invalid("goal", "must be set"))?;
        let new = v.check_all(NewGoal::parse(
            &goal.text,
            goal.priority,
            goal.target_date
                .map(|d| super::convert::date_in("goal.target_date", d)),
        ));
        let (Some(plan), Some(new)) = (plan, new) else {
            return Err(v.into_error().into());
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .authorize(
                    &mut session,
                    &who,
                    plan,
                    &[(Object::Goal, Action::Create)],
                    now,
                )
                .await?;
            let begun = Change::begin(&mut session, &access, &who, true, now).await?;
            let goal = session
                .insert_goal(&access.plan, &new, &who.subject, now)
                .await?;
            let name = super::convert::plan_item(plan, "goals", goal.id);
            begun
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("goal created: {name}")],
                    now,
                )
                .await?;
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok(encode_goal(&goal, show))
        }
        .await;
        let goal = session.finish(result).await?;
        Ok(Response::new(proto::CreateGoalResponse {
            goal: Some(goal),
        }))
    }

    async fn get_goal(
        &self,
        request: Request<proto::GetGoalRequest>,
    ) -> Result<Response<proto::GetGoalResponse>, Status> {
        let who = principal(&request)?;
        let (plan, goal) = goal_name("name", &request.get_ref().name).map_err(Error::from)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
            .await?;
        let goal = session.goal(plan, goal).await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        Ok(Response::new(proto::GetGoalResponse {
            goal: Some(encode_goal(&goal, show)),
        }))
    }

    async fn list_goals(
        &self,
        request: Request<proto::ListGoalsRequest>,
    ) -> Result<Response<proto::ListGoalsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let (plan, page) = plan_page("ListGoals", &req.parent, req.page_size, &req.page_token, "")?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
            .await?;
        let mut goals = session.list_goals(plan, Some(page)).await?;
        let next_page_token = page.next_token(&mut goals, |g| g.id);
        let show = self.0.guard.may_see_identities(&access, &who)?;
        Ok(Response::new(proto::ListGoalsResponse {
            goals: goals.iter().map(|g| encode_goal(g, show)).collect(),
            next_page_token,
        }))
    }

    async fn update_goal(
        &self,
        request: Request<proto::UpdateGoalRequest>,
    ) -> Result<Response<proto::UpdateGoalResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let input = req
            .goal
            .ok_or_else(|| Error::invalid("goal", "must be set"))?;
        let mut v = Violations::default();
        let name = v.check(goal_name("goal.name", &input.name));
        let expected = v.check(required_etag("goal.etag", &input.etag));
        let why = v.check(reason("reason", &req.reason, false));
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let fields = v.check_all(mask::resolve(&paths, UPDATABLE, FIXED));
        let patch = match (&fields, why) {
            (Some(fields), Some(why)) => v.check_all(parse_patch(&input, fields, why)),
            _ => None,
        };
        let (Some((plan, goal)), Some(expected), Some(fields), Some(patch)) =
            (name, expected, fields, patch)
        else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let mut authorize: Vec<(Object, Action)> = Vec::new();
        for (_, field) in &fields {
            if !authorize.contains(&field.policy()) {
                authorize.push(field.policy());
            }
        }
        let goal = self
            .change(
                &who,
                plan,
                goal,
                &authorize,
                async |session, access, mut goal| {
                    stale(&goal, expected)?;
                    let steps = goal.adjustments.len();
                    patch.apply(
                        &mut goal,
                        who.subject.as_stored(),
                        &access.relation_names(),
                        Instant::now(),
                    );
                    let step = goal.adjustments.get(steps);
                    session
                        .save_goal(&access.plan.organisation, &goal, expected, step)
                        .await?;
                    let paths: Vec<&str> = fields.iter().map(|(p, _)| p.as_str()).collect();
                    let name = super::convert::plan_item(plan, "goals", goal.id);
                    Ok((
                        Some(goal),
                        format!("goal updated ({}): {name}", paths.join(", ")),
                    ))
                },
            )
            .await?;
        Ok(Response::new(proto::UpdateGoalResponse { goal }))
    }

    async fn delete_goal(
        &self,
        request: Request<proto::DeleteGoalRequest>,
    ) -> Result<Response<proto::DeleteGoalResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let name = v.check(goal_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let (Some((plan, goal)), Some(expected)) = (name, expected) else {
            return Err(v.into_error().into());
        };
        self.change(
            &who,
            plan,
            goal,
            &[(Object::Goal, Action::Delete)],
            async |session, _, goal| {
                session.delete_goal(&goal, expected).await?;
                let name = super::convert::plan_item(plan, "goals", goal.id);
                Ok((None, format!("goal deleted: {name}")))
            },
        )
        .await?;
        Ok(Response::new(proto::DeleteGoalResponse {}))
    }

    async fn propose_goal_adjustment(
        &self,
        request: Request<proto::ProposeGoalAdjustmentRequest>,
    ) -> Result<Response<proto::ProposeGoalAdjustmentResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let name = v.check(goal_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let why = v.check(reason("reason", &req.reason, true));
        let proposed = v.check(bounded(
            "proposed_text",
            &req.proposed_text,
            MAX_GOAL_TEXT,
            false,
        ));
        let (Some((plan, goal)), Some(expected), Some(why), Some(proposed)) =
            (name, expected, why, proposed)
        else {
            return Err(v.into_error().into());
        };
        let goal = self
            .change(
                &who,
                plan,
                goal,
                &[(Object::Goal, Action::Adjust)],
                async |session, access, mut goal| {
                    stale(&goal, expected)?;
                    let now = Instant::now();
                    let step = GoalAdjustment {
                        time: now,
                        author: who.subject.as_stored().to_owned(),
                        author_relations: access.relation_names(),
                        reason: why,
                        proposed_text: proposed,
                        ..GoalAdjustment::default()
                    };
                    goal.update_time = now;
                    session
                        .save_goal(&access.plan.organisation, &goal, expected, Some(&step))
                        .await?;
                    let name = super::convert::plan_item(plan, "goals", goal.id);
                    Ok((Some(goal), format!("goal adjustment proposed: {name}")))
                },
            )
            .await?;
        Ok(Response::new(proto::ProposeGoalAdjustmentResponse { goal }))
    }
}
