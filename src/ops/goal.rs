//! Goals: the patient's words, and what the coordinator settles about them.

use super::{Context, ItemRef, Listed, READ, Shown, Wants};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::goal::{Goal, GoalAdjustment, GoalPatch, NewGoal};
use crate::domain::ids::ResourceId;
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::Session;

/// UpdateGoal, validated.
#[derive(Debug)]
pub struct UpdateGoal {
    /// The goal.
    pub goal: ItemRef,
    /// The mask's paths, for the history.
    pub paths: Vec<String>,
    /// What changes.
    pub patch: GoalPatch,
}

impl Context {
    /// CreateGoal: a proposed goal on an open plan.
    pub async fn create_goal(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewGoal,
    ) -> Result<Shown<Goal>> {
        self.add_item(who, plan, (Object::Goal, Action::Create), async |s, pass, now| {
            let goal = s.insert_goal(pass, &new, &who.subject, now).await?;
            let line = format!("goal created: {}", item(plan, goal.id));
            Ok((goal, line))
        })
        .await
    }

    /// GetGoal.
    pub async fn get_goal(
        &self,
        who: &Principal,
        plan: ResourceId,
        goal: ResourceId,
    ) -> Result<Shown<Goal>> {
        self.read_plan(who, plan, READ, async |s, pass| s.goal(pass, goal).await).await
    }

    /// ListGoals.
    pub async fn list_goals(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Shown<Listed<Goal>>> {
        self.read_plan(who, plan, READ, async |s, pass| {
            Ok(Listed::page(s.list_goals(pass, Some(page)).await?, page, |g| g.id))
        })
        .await
    }

    /// UpdateGoal: the patient's words by their side, the rest by the coordinator; each change
    /// of text or status leaves a step in the goal's trail.
    pub async fn update_goal(&self, who: &Principal, update: UpdateGoal) -> Result<Shown<Goal>> {
        // The patient's words are their side's to change; what the coordinator settles, theirs.
        let p = &update.patch;
        let mut wants = Vec::new();
        if p.text.is_some() {
            wants.push((Object::GoalWords, Action::Update));
        }
        if p.priority.is_some() || p.status.is_some() || p.target_date.is_some() {
            wants.push((Object::Goal, Action::Update));
        }
        let at = update.goal;
        self.change_goal(who, at, &wants, async |s, pass, mut goal| {
            let steps = goal.adjustments.len();
            let relations = pass.relation_names();
            update.patch.apply(&mut goal, who.subject.as_stored(), &relations, Instant::now());
            s.save_goal(pass, &goal, at.etag, goal.adjustments.get(steps)).await?;
            let paths = update.paths.join(", ");
            Ok((true, format!("goal updated ({paths}): {}", item(at.plan, goal.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an updated goal was deleted"))
    }

    /// DeleteGoal: a goal no measure serves.
    pub async fn delete_goal(&self, who: &Principal, at: ItemRef) -> Result<()> {
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
        at: ItemRef,
        reason: String,
        proposed_text: String,
    ) -> Result<Shown<Goal>> {
        let wants = [(Object::Goal, Action::Adjust)];
        self.change_goal(who, at, &wants, async |s, pass, mut goal| {
            let now = Instant::now();
            let author = who.subject.as_stored().to_owned();
            let author_relations = pass.relation_names();
            let step = GoalAdjustment {
                time: now,
                author,
                author_relations,
                reason,
                proposed_text,
                ..Default::default()
            };
            goal.update_time = now;
            s.save_goal(pass, &goal, at.etag, Some(&step)).await?;
            Ok((true, format!("goal adjustment proposed: {}", item(at.plan, goal.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an adjusted goal was deleted"))
    }

    /// Runs a change to one goal of an open plan (see `edit_item`).
    async fn change_goal(
        &self,
        who: &Principal,
        at: ItemRef,
        wants: &Wants,
        change: impl AsyncFnOnce(&mut Session, &PlanPass, Goal) -> Result<(bool, String)> + Clone,
    ) -> Result<Option<Shown<Goal>>> {
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, at.plan, &[], now).await?;
            let goal = s.goal(&pass, at.item).await?;
            let revision = goal.revision;
            let reload = async |s: &mut Session, pass: &PlanPass| s.goal(pass, at.item).await;
            self.edit_item(s, pass, who, at, wants, (goal, revision, "goal"), change, reload).await
        })
        .await
    }
}

/// A goal's resource name, as the history names it.
fn item(plan: ResourceId, goal: ResourceId) -> String {
    plan_item(plan, "goals", goal)
}
