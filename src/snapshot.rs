//! The plan's history as stored: the versions of its items (the plan's own fields, each
//! section, the contacts, each goal and measure, each adjustment and evaluation), from which
//! any revision is rebuilt. Each change stores only the items it left different.
//!
//! The stored form of an item is its `samvirke.v1` message (`buf breaking` keeps field numbers
//! and types, so old rows stay readable); revisions from before item versions keep a whole
//! `GetPlanResponse`.

use std::collections::BTreeMap;

use prost::Message;

use crate::api::convert::{section_mut, section_of, shown_subject, timestamp};
use crate::api::encode::encode_document;
use crate::auth::PlanPass;
use crate::domain::Error;
use crate::domain::plan::Section;
use crate::domain::time::Instant;
use crate::proto;
use crate::store::{ItemKind, ItemVersion, Session};

/// Writes the versions of the items of the plan `pass` is for that differ from the history's
/// latest, as revision `revision` made them.
pub async fn record_items(
    session: &mut Session,
    pass: &PlanPass,
    revision: i64,
) -> Result<(), Error> {
    let doc = session.plan_document(pass).await?;
    let snapshot = encode_document(&doc, true);
    let latest: BTreeMap<(&'static str, String), (ItemKind, String)> = session
        .latest_item_digests(pass)
        .await?
        .into_iter()
        .map(|(kind, id, digest)| ((kind.as_str(), id), (kind, digest)))
        .collect();
    let now_held = items(&snapshot);
    let mut changed: Vec<ItemVersion> = now_held
        .iter()
        .filter(|item| {
            latest
                .get(&(item.kind.as_str(), item.item_id.clone()))
                .is_none_or(|(_, digest)| *digest != item.digest())
        })
        .cloned()
        .collect();
    for ((_, id), (kind, digest)) in &latest {
        let still = now_held.iter().any(|i| i.kind == *kind && i.item_id == *id);
        if !still && !digest.is_empty() {
            changed.push(ItemVersion {
                kind: *kind,
                item_id: id.clone(),
                parent_id: String::new(),
                state: None,
            });
        }
    }
    session.insert_item_versions(pass, revision, &changed).await
}

/// Hides what a caller who may not see identities must not: the patient's number, and citizen
/// authors of adjustments and evaluations.
fn hide_identities(snapshot: &mut proto::GetPlanResponse, show_identity: bool) {
    if show_identity {
        return;
    }
    if let Some(plan) = snapshot.plan.as_mut() {
        plan.patient_id.clear();
    }
    let hide = |author: &mut String| *author = shown_subject(author, false);
    for goal in &mut snapshot.goals {
        goal.adjustments.iter_mut().for_each(|a| hide(&mut a.author));
    }
    for measure in &mut snapshot.measures {
        measure.evaluations.iter_mut().for_each(|e| hide(&mut e.author));
    }
}

/// The last segment of a resource name: an item's id within its plan.
fn item_id(name: &str) -> String {
    name.rsplit('/').next().unwrap_or_default().to_owned()
}

/// The items of a plan as the history stores them: the plan's own fields (without the
/// revision and update time every change moves), each goal and measure without their trails,
/// and each adjustment and evaluation on its own, so a change stores only what it changed.
fn items(snapshot: &proto::GetPlanResponse) -> Vec<ItemVersion> {
    let mut items = Vec::new();
    if let Some(plan) = &snapshot.plan {
        // The plan's own fields, each of the patient's sections and the contacts are items of
        // their own: a change to one stores only that one.
        let own = proto::Plan {
            revision: 0,
            update_time: None,
            sections: None,
            contacts: Vec::new(),
            ..plan.clone()
        };
        let mut item = |kind, item_id: String, state: Vec<u8>| {
            items.push(ItemVersion { kind, item_id, parent_id: String::new(), state: Some(state) });
        };
        item(ItemKind::Plan, item_id(&plan.name), own.encode_to_vec());
        let sections = plan.sections.clone().unwrap_or_default();
        for &section in Section::ALL {
            let text = section_of(&sections, section).as_bytes().to_vec();
            item(ItemKind::PlanSection, section.as_str().to_owned(), text);
        }
        let contacts = proto::Plan { contacts: plan.contacts.clone(), ..Default::default() };
        item(ItemKind::PlanContacts, "contacts".into(), contacts.encode_to_vec());
    }
    for goal in &snapshot.goals {
        let own = proto::Goal { adjustments: Vec::new(), ..goal.clone() };
        let trail = goal.adjustments.iter().map(Message::encode_to_vec);
        push_with_trail(&mut items, ItemKind::Goal, &goal.name, own, trail);
    }
    for measure in &snapshot.measures {
        let own = proto::Measure { evaluations: Vec::new(), ..measure.clone() };
        let trail = measure.evaluations.iter().map(Message::encode_to_vec);
        push_with_trail(&mut items, ItemKind::Measure, &measure.name, own, trail);
    }
    items
}

/// Adds a goal or measure (`own`, without its trail) and each step of its trail, in order, as
/// items of their own: a trail only grows, so each step is stored once.
fn push_with_trail(
    items: &mut Vec<ItemVersion>,
    kind: ItemKind,
    name: &str,
    own: impl Message,
    trail: impl Iterator<Item = Vec<u8>>,
) {
    let id = item_id(name);
    let step_kind = match kind {
        ItemKind::Goal => ItemKind::GoalAdjustment,
        _ => ItemKind::MeasureEvaluation,
    };
    for (i, step) in trail.enumerate() {
        items.push(ItemVersion {
            kind: step_kind,
            item_id: format!("{id}/{i}"),
            parent_id: id.clone(),
            state: Some(step),
        });
    }
    items.push(ItemVersion {
        kind,
        item_id: id,
        parent_id: String::new(),
        state: Some(own.encode_to_vec()),
    });
}

/// A past revision of a plan, rebuilt from its history, for the wire adapter to show.
#[derive(Debug)]
pub struct PastPlan(proto::GetPlanResponse);

impl PastPlan {
    /// The revision as the wire shows it; identity numbers only when `show_identity`.
    pub fn into_wire(mut self, show_identity: bool) -> proto::GetPlanResponse {
        hide_identities(&mut self.0, show_identity);
        self.0
    }
}

/// The plan `pass` is for as it was at `revision`; `None` when it has no such revision.
/// Rebuilt from the latest version of every item at or before it, or read from the full
/// snapshot of a revision written before the history stored items.
pub async fn plan_at(
    session: &mut Session,
    pass: &PlanPass,
    revision: i64,
) -> Result<Option<PastPlan>, Error> {
    let Some((time, snapshot)) = session.revision_at(pass, revision).await? else {
        return Ok(None);
    };
    let rebuilt = if snapshot.is_empty() {
        let versions = session.item_versions_until(pass, revision).await?;
        rebuild(versions, revision, time)?
    } else {
        proto::GetPlanResponse::decode(snapshot.as_slice()).map_err(Error::internal)?
    };
    Ok(Some(PastPlan(rebuilt)))
}

/// The plan from its item versions, oldest first: the latest state of every item not deleted.
fn rebuild(
    versions: Vec<ItemVersion>,
    revision: i64,
    time: Instant,
) -> Result<proto::GetPlanResponse, Error> {
    let mut latest: BTreeMap<(&'static str, String), ItemVersion> = BTreeMap::new();
    for v in versions {
        latest.insert((v.kind.as_str(), v.item_id.clone()), v);
    }
    fn decode(v: &ItemVersion) -> Option<&[u8]> {
        v.state.as_deref()
    }
    let of_kind = |kind: ItemKind| {
        let mut found: Vec<&ItemVersion> =
            latest.values().filter(|v| v.kind == kind && v.state.is_some()).collect();
        // Adjustments and evaluations in the order they were made; items by id, which is time.
        found.sort_by_key(|v| {
            let index = v.item_id.rsplit('/').next().and_then(|i| i.parse::<u64>().ok());
            (v.parent_id.clone(), index, v.item_id.clone())
        });
        found
    };
    let mut plan = of_kind(ItemKind::Plan)
        .first()
        .and_then(|v| decode(v))
        .map(proto::Plan::decode)
        .transpose()
        .map_err(Error::internal)?
        .ok_or_else(|| Error::internal("a revision's history holds no plan"))?;
    plan.revision = revision;
    plan.update_time = Some(timestamp(time));
    let mut sections = proto::PatientSections::default();
    for v in of_kind(ItemKind::PlanSection) {
        let section = Section::from_stored(&v.item_id)
            .ok_or_else(|| Error::internal("a revision's history holds an unknown section"))?;
        *section_mut(&mut sections, section) =
            String::from_utf8(decode(v).unwrap_or_default().to_vec()).map_err(Error::internal)?;
    }
    plan.sections = Some(sections);
    if let Some(v) = of_kind(ItemKind::PlanContacts).first() {
        plan.contacts =
            proto::Plan::decode(decode(v).unwrap_or_default()).map_err(Error::internal)?.contacts;
    }
    // A goal or measure with the steps of its trail, decoded.
    let with_trail =
        |v: &ItemVersion, step_kind: ItemKind| -> Result<(Vec<u8>, Vec<Vec<u8>>), Error> {
            let steps = of_kind(step_kind)
                .into_iter()
                .filter(|step| step.parent_id == v.item_id)
                .map(|step| decode(step).unwrap_or_default().to_vec())
                .collect();
            Ok((decode(v).unwrap_or_default().to_vec(), steps))
        };
    let mut goals = Vec::new();
    for v in of_kind(ItemKind::Goal) {
        let (own, steps) = with_trail(v, ItemKind::GoalAdjustment)?;
        let mut goal = proto::Goal::decode(own.as_slice()).map_err(Error::internal)?;
        for step in steps {
            goal.adjustments
                .push(proto::GoalAdjustment::decode(step.as_slice()).map_err(Error::internal)?);
        }
        goals.push(goal);
    }
    let mut measures = Vec::new();
    for v in of_kind(ItemKind::Measure) {
        let (own, steps) = with_trail(v, ItemKind::MeasureEvaluation)?;
        let mut measure = proto::Measure::decode(own.as_slice()).map_err(Error::internal)?;
        for step in steps {
            measure
                .evaluations
                .push(proto::Evaluation::decode(step.as_slice()).map_err(Error::internal)?);
        }
        measures.push(measure);
    }
    Ok(proto::GetPlanResponse { plan: Some(plan), goals, measures })
}
