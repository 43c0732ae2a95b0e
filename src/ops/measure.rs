//! Measures: what the coordinator plans for a goal, and the progress the responsible member
//! reports.

use super::{Context, ItemRef, Listed, READ, Shown, Wants};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::measure::{Evaluation, Measure, MeasurePatch, NewMeasure};
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::Session;

/// UpdateMeasure, validated.
#[derive(Debug)]
pub struct UpdateMeasure {
    /// The measure.
    pub measure: ItemRef,
    /// The mask's paths, for the history.
    pub paths: Vec<String>,
    /// What changes.
    pub patch: MeasurePatch,
}

fn item(plan: ResourceId, measure: ResourceId) -> String {
    plan_item(plan, "measures", measure)
}

impl Context {
    /// CreateMeasure: for a goal of the plan, with a member of its group responsible.
    pub async fn create_measure(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewMeasure,
    ) -> Result<Shown<Measure>> {
        self.add_item(who, plan, (Object::Measure, Action::Create), async |s, pass, now| {
            s.check_measure_refs(pass, Some(new.goal), Some(new.responsible_member), now).await?;
            let measure = s.insert_measure(pass, &new, &who.subject, now).await?;
            let line = format!("measure created: {}", item(plan, measure.id));
            Ok((measure, line))
        })
        .await
    }

    /// GetMeasure.
    pub async fn get_measure(
        &self,
        who: &Principal,
        plan: ResourceId,
        measure: ResourceId,
    ) -> Result<Shown<Measure>> {
        self.read_plan(who, plan, READ, async |s, pass| s.measure(pass, measure).await).await
    }

    /// ListMeasures.
    pub async fn list_measures(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Shown<Listed<Measure>>> {
        self.read_plan(who, plan, READ, async |s, pass| {
            Ok(Listed::page(s.list_measures(pass, Some(page)).await?, page, |m| m.id))
        })
        .await
    }

    /// UpdateMeasure: the plan of the measure by the coordinator, its status also by the member
    /// responsible for it.
    pub async fn update_measure(
        &self,
        who: &Principal,
        update: UpdateMeasure,
    ) -> Result<Shown<Measure>> {
        // The plan of the measure is the coordinator's; its progress (status) also the
        // responsible member's.
        let p = &update.patch;
        let planned = p.goal.is_some() || p.description.is_some() || p.responsible_member.is_some();
        let dated = p.start_date.is_some() || p.end_date.is_some() || p.frequency.is_some();
        let mut wants = Vec::new();
        if planned || dated {
            wants.push((Object::Measure, Action::Update));
        }
        if p.status.is_some() {
            wants.push((Object::MeasureProgress, Action::Update));
        }
        let (at, patch) = (update.measure, update.patch);
        self.change_measure(who, at, &wants, async |s, pass, mut measure| {
            let now = Instant::now();
            s.check_measure_refs(pass, patch.goal, patch.responsible_member, now).await?;
            patch.apply(&mut measure, now).map_err(Error::from)?;
            s.save_measure(pass, &measure, at.etag).await?;
            let paths = update.paths.join(", ");
            Ok((true, format!("measure updated ({paths}): {}", item(at.plan, measure.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an updated measure was deleted"))
    }

    /// DeleteMeasure, with its evaluations.
    pub async fn delete_measure(&self, who: &Principal, at: ItemRef) -> Result<()> {
        let wants = [(Object::Measure, Action::Delete)];
        self.change_measure(who, at, &wants, async |s, pass, measure| {
            s.delete_measure(pass, &measure, at.etag).await?;
            Ok((false, format!("measure deleted: {}", item(at.plan, measure.id))))
        })
        .await
        .map(|_| ())
    }

    /// AddMeasureEvaluation: the progress of a measure, by its responsible member or the
    /// coordinator.
    pub async fn add_measure_evaluation(
        &self,
        who: &Principal,
        at: ItemRef,
        date: Date,
        text: String,
    ) -> Result<Shown<Measure>> {
        let wants = [(Object::MeasureProgress, Action::Update)];
        self.change_measure(who, at, &wants, async |s, pass, mut measure| {
            let now = Instant::now();
            let (author, author_relations) =
                (who.subject.as_stored().to_owned(), pass.relation_names());
            let evaluation = Evaluation { date, text, author, author_relations, time: now };
            s.insert_evaluation(pass, &measure, &evaluation).await?;
            MeasurePatch::default().apply(&mut measure, now).map_err(Error::from)?;
            s.save_measure(pass, &measure, at.etag).await?;
            Ok((true, format!("measure evaluated: {}", item(at.plan, measure.id))))
        })
        .await?
        .ok_or_else(|| Error::internal("an evaluated measure was deleted"))
    }

    /// Runs a change to one measure (see `edit_item`), with the `responsible` relation when the
    /// caller is the member responsible for it.
    async fn change_measure(
        &self,
        who: &Principal,
        at: ItemRef,
        wants: &Wants,
        change: impl AsyncFnOnce(&mut Session, &PlanPass, Measure) -> Result<(bool, String)> + Clone,
    ) -> Result<Option<Shown<Measure>>> {
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, at.plan, &[], now).await?;
            let measure = s.measure(&pass, at.item).await?;
            let pass = self.guard.responsibility(s, pass, who, &measure, now).await?;
            let revision = measure.revision;
            let reload = async |s: &mut Session, pass: &PlanPass| s.measure(pass, at.item).await;
            self.edit_item(s, pass, who, at, wants, (measure, revision, "measure"), change, reload)
                .await
        })
        .await
    }
}
