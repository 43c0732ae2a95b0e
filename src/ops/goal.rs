//! Goals: the patient's words, and what the coordinator settles about them.

use super::{ChangeKind, Context, Listed, Shown, Wants, edit_plan};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::Error;
use crate::domain::goal::{Goal, GoalAdjustment, GoalPatch, NewGoal};
use crate::domain::ids::ResourceId;
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::store::Session;

/// A goal a request names, and the etag the caller read of it.
#[derive(Debug, Clone, Copy)]
pub struct GoalRef {
    /// The plan.
    pub plan: ResourceId,
    /// The goal.
    pub goal: ResourceId,
    /// Its etag as read.
    pub etag: i64,
}

/// UpdateGoal, validated.
#[derive(Debug)]
pub struct UpdateGoal {
    /// The goal.
    pub goal: GoalRef,
    /// The mask's paths, for the history.
    pub paths: Vec<String>,
    /// Whether the patient's words change, which the policy gives to their side.
    pub words: bool,
    /// Whether what the coordinator settles changes.
    pub settled: bool,
    /// What changes.
    pub patch: GoalPatch,
}

fn stale(goal: &Goal, expected: i64) -> Result<(), Error> {
    if goal.revision == expected {
        Ok(())
    } else {
        Err(Error::Aborted("the goal changed since it was read: read it again".into()))
    }
}

impl Context {
    /// CreateGoal: a proposed goal on an open plan.
    pub async fn create_goal(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewGoal,
    ) -> Result<Shown<Goal>, Error> {
        let now = Instant::now();
        self.store
            .write_with(async |s| {
                let pass =
                    self.open_plan(s, who, plan, &[(Object::Goal, Action::Create)], now).await?;
                let (goal, _) = edit_plan(s, &pass, who, ChangeKind::Content, now, async |s, _| {
                    let goal = s.insert_goal(&pass, &new, &who.subject, now).await?;
                    let line = format!("goal created: {}", item(plan, goal.id));
                    Ok((goal, vec![line]))
                })
                .await?;
                Ok(Shown::by(&pass, goal))
            })
            .await
    }

    /// GetGoal.
    pub async fn get_goal(
        &self,
        who: &Principal,
        plan: ResourceId,
        goal: ResourceId,
    ) -> Result<Shown<Goal>, Error> {
        let now = Instant::now();
        self.store
            .read_with(async |s| {
                let pass = self.plan_pass(s, who, plan, &[], now).await?;
                let goal = s.goal(&pass, goal).await?;
                Ok(Shown::by(&pass, goal))
            })
            .await
    }

    /// ListGoals.
    pub async fn list_goals(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Shown<Listed<Goal>>, Error> {
        let now = Instant::now();
        self.store
            .read_with(async |s| {
                let pass = self.plan_pass(s, who, plan, &[], now).await?;
                let mut goals = s.list_goals(&pass, Some(page)).await?;
                let next_page_token = page.next_token(&mut goals, |g| g.id);
                let listed = Listed { items: goals, next_page_token };
                Ok(Shown::by(&pass, listed))
            })
            .await
    }

    /// UpdateGoal: the patient's words by their side, the rest by the coordinator; each change
    /// of text or status leaves a step in the goal's trail.
    pub async fn update_goal(
        &self,
        who: &Principal,
        update: UpdateGoal,
    ) -> Result<Shown<Goal>, Error> {
        let mut wants = Vec::new();
        if update.words {
            wants.push((Object::GoalWords, Action::Update));
        }
        if update.settled {
            wants.push((Object::Goal, Action::Update));
        }
        let at = update.goal;
        self.change_goal(who, at, &wants, async |s, pass, mut goal| {
            let steps = goal.adjustments.len();
            let relations = pass.relation_names();
            let author = who.subject.as_stored();
            update.patch.apply(&mut goal, author, &relations, Instant::now());
            let step = goal.adjustments.get(steps);
            s.save_goal(pass, &goal, at.etag, step).await?;
            let paths = update.paths.join(", ");
            Ok((true, format!("goal updated ({paths}): {}", item(at.plan, goal.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an updated goal was deleted"))
    }

    /// DeleteGoal: a goal no measure serves.
    pub async fn delete_goal(&self, who: &Principal, at: GoalRef) -> Result<(), Error> {
        let wants = [(Object::Goal, Action::Delete)];
        self.change_goal(who, at, &wants, async |s, pass, goal| {
            s.delete_goal(pass, &goal, at.etag).await?;
            Ok((false, format!("goal deleted: {}", item(at.plan, goal.id))))
        })
        .await
        .map(|_| ())
    }

    /// ProposeGoalAdjustment: a proposal, with its reason, in the goal's trail.
    pub async fn propose_goal_adjustment(
        &self,
        who: &Principal,
        at: GoalRef,
        reason: String,
        proposed_text: String,
    ) -> Result<Shown<Goal>, Error> {
        let wants = [(Object::Goal, Action::Adjust)];
        self.change_goal(who, at, &wants, async |s, pass, mut goal| {
            let now = Instant::now();
            let step = GoalAdjustment {
                time: now,
                author: who.subject.as_stored().to_owned(),
                author_relations: pass.relation_names(),
                reason,
                proposed_text,
                ..GoalAdjustment::default()
            };
            goal.update_time = now;
            s.save_goal(pass, &goal, at.etag, Some(&step)).await?;
            Ok((true, format!("goal adjustment proposed: {}", item(at.plan, goal.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an adjusted goal was deleted"))
    }

    /// The pass to an open plan for a caller who must hold each of `wants`.
    pub(crate) async fn open_plan(
        &self,
        session: &mut Session,
        who: &Principal,
        plan: ResourceId,
        wants: &Wants,
        now: Instant,
    ) -> Result<PlanPass, Error> {
        let pass = self.plan_pass(session, who, plan, wants, now).await?;
        pass.plan().check_open()?;
        Ok(pass)
    }

    /// Runs a change to one goal of an open plan: authorize `wants`, load the goal at its etag,
    /// let `change` act on it (returning whether the goal stays, and the history's line), and
    /// record the revision. Returns the goal as it now is, or `None` when it was deleted.
    async fn change_goal(
        &self,
        who: &Principal,
        at: GoalRef,
        wants: &Wants,
        change: impl AsyncFnOnce(&mut Session, &PlanPass, Goal) -> Result<(bool, String), Error>,
    ) -> Result<Option<Shown<Goal>>, Error> {
        let now = Instant::now();
        self.store
            .write_with(async |s| {
                let pass = self.open_plan(s, who, at.plan, wants, now).await?;
                let loaded = s.goal(&pass, at.goal).await?;
                stale(&loaded, at.etag)?;
                let (kept, _) = edit_plan(s, &pass, who, ChangeKind::Content, now, async |s, _| {
                    let (kept, line) = change(s, &pass, loaded).await?;
                    Ok((kept, vec![line]))
                })
                .await?;
                if !kept {
                    return Ok(None);
                }
                let goal = s.goal(&pass, at.goal).await?;
                Ok(Some(Shown::by(&pass, goal)))
            })
            .await
    }
}

/// A goal's resource name, as the history names it.
fn item(plan: ResourceId, goal: ResourceId) -> String {
    plan_item(plan, "goals", goal)
}
