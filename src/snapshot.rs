//! The plan's history as stored: the versions of its items (the plan's own fields, each section,
//! the contacts, each goal and measure, each adjustment and evaluation), from which any revision
//! is rebuilt. Each change stores only the items it left different.
//!
//! # The stored form, and how old rows stay readable
//!
//! An item's state is the format byte `V1` followed by the item as JSON in the storage types of
//! this module (`PlanV1`, `GoalV1`, …), which belong to the history alone: a change to the API's
//! messages changes nothing stored. The rules that keep every row readable:
//!
//! - a field is only ever added, with `#[serde(default)]`, so rows written before it read;
//! - a field is renamed only with `#[serde(alias = "old")]`, never retyped or removed;
//! - a change those rules cannot express is a new format byte, and the reader of the old one
//!   stays.
//!
//! Rows written before this format carry no format byte: they hold `samvirke.v1` messages (a
//! section its bare UTF-8 text), and whole revisions from before item versions hold a
//! `GetPlanResponse`. `legacy` reads them; `buf breaking` keeps those messages' field numbers
//! and types, so it always can. The first change to a plan after an upgrade stores its items
//! anew in the current format.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::PlanPass;
use crate::domain::Error;
use crate::domain::coordinator::CoordinatorWish;
use crate::domain::date::Date;
use crate::domain::goal::{Goal, GoalAdjustment, GoalStatus};
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::language::{InterpreterNeed, LanguageTag};
use crate::domain::measure::{Evaluation, Measure, MeasureStatus};
use crate::domain::plan::{
    Consent, OnBehalf, PatientSections, Plan, PlanDocument, PlanKind, PlanStatus, Section,
    Signature,
};
use crate::domain::relation::Relation;
use crate::domain::time::Instant;
use crate::store::{ItemKind, ItemVersion, Session};

/// The format byte of the current stored form: JSON of this module's storage types.
const V1: u8 = 1;

/// The item id of the plan's contacts.
const CONTACTS: &str = "contacts";

/// Writes the versions of the items of the plan `pass` is for that differ from the history's
/// latest, as revision `revision` made them, and returns the plan as it now is with the new
/// etags of what changed, for the change feed: `plan=N` when the plan was created or its own
/// etag moved (its fields, consent, signature, responsible organisation), then `goal/{id}=N` and
/// `measure/{id}=N` for each goal and measure changed (through its adjustments and evaluations
/// too), one per line.
pub async fn record_items(
    session: &mut Session,
    pass: &PlanPass,
    revision: i64,
) -> Result<(Plan, String), Error> {
    let doc = session.plan_document(pass).await?;
    let latest: BTreeMap<(&'static str, String), String> = session
        .latest_item_digests(pass)
        .await?
        .into_iter()
        .map(|(kind, id, digest)| ((kind.as_str(), id), digest))
        .collect();
    let now_held = items(&doc)?;
    let mut changed: Vec<ItemVersion> = now_held
        .iter()
        .filter(|item| {
            let key = (item.kind.as_str(), item.item_id.clone());
            latest.get(&key).is_none_or(|digest| *digest != item.digest())
        })
        .cloned()
        .collect();
    for ((kind, id), digest) in &latest {
        let still = now_held.iter().any(|i| i.kind.as_str() == *kind && i.item_id == *id);
        if !still && !digest.is_empty() {
            let kind = stored_kind(kind)?;
            changed.push(ItemVersion {
                kind,
                item_id: id.clone(),
                parent_id: String::new(),
                state: None,
            });
        }
    }
    session.insert_item_versions(pass, revision, &changed).await?;
    let mut etags = Vec::new();
    if revision == 1 || doc.plan.version != pass.plan().version {
        etags.push(format!("plan={}", doc.plan.version));
    }
    for item in &changed {
        let (kind, id) = match item.kind {
            ItemKind::Goal | ItemKind::Measure => (item.kind, item.item_id.as_str()),
            ItemKind::GoalAdjustment => (ItemKind::Goal, item.parent_id.as_str()),
            ItemKind::MeasureEvaluation => (ItemKind::Measure, item.parent_id.as_str()),
            _ => continue,
        };
        let revision = match kind {
            ItemKind::Goal => doc.goals.iter().find(|g| g.id.to_string() == id).map(|g| g.revision),
            _ => doc.measures.iter().find(|m| m.id.to_string() == id).map(|m| m.revision),
        };
        if let Some(revision) = revision {
            etags.push(format!("{}/{id}={revision}", kind.as_str()));
        }
    }
    Ok((doc.plan, etags.join("\n")))
}

/// The plan `pass` is for as it was at `revision`; `None` when it has no such revision.
/// Rebuilt from the latest version of every item at or before it, or from the whole snapshot
/// of a revision written before the history stored items.
pub async fn plan_at(
    session: &mut Session,
    pass: &PlanPass,
    revision: i64,
) -> Result<Option<PlanDocument>, Error> {
    let Some((time, snapshot)) = session.revision_at(pass, revision).await? else {
        return Ok(None);
    };
    let versions = if snapshot.is_empty() {
        session.item_versions_until(pass, revision).await?
    } else {
        legacy::whole(&snapshot)?
    };
    rebuild(pass, versions, revision, time).map(Some)
}

/// The plan's own fields as the history stores them: all but its id (the item's), its
/// revision and update time (the revision's), its sections and contacts (items of their own).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PlanV1 {
    organisation: String,
    organisation_name: String,
    patient: String,
    patient_display_name: String,
    kind: String,
    status: String,
    status_reason: String,
    version: i64,
    content_revision: i64,
    next_review_date: Option<String>,
    consent: Option<ConsentV1>,
    signature: Option<SignatureV1>,
    coordinator_wish: Option<WishV1>,
    referral: Option<String>,
    create_time: i64,
    /// BCP 47; empty when not recorded.
    preferred_language: String,
    /// BCP 47; empty when no interpreter is needed.
    interpreter_language: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ConsentV1 {
    recipients: Vec<String>,
    on_behalf: Option<(String, String)>,
    give_time: i64,
    recorded_by: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct SignatureV1 {
    revision: i64,
    sign_time: i64,
    signed_by: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct WishV1 {
    display_name: String,
    organisation: Option<String>,
    note: String,
    time: i64,
}

/// A goal without its trail, as the history stores it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct GoalV1 {
    text: String,
    priority: i32,
    status: String,
    target_date: Option<String>,
    revision: i64,
    create_time: i64,
    update_time: i64,
}

/// A step of a goal's trail, as the history stores it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct AdjustmentV1 {
    time: i64,
    author: String,
    author_relations: String,
    reason: String,
    proposed_text: String,
    previous_text: String,
    new_text: String,
    previous_status: Option<String>,
    new_status: Option<String>,
}

/// A measure without its evaluations, as the history stores it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct MeasureV1 {
    goal: String,
    description: String,
    responsible_member: String,
    start_date: Option<String>,
    end_date: Option<String>,
    frequency: String,
    status: String,
    revision: i64,
    create_time: i64,
    update_time: i64,
}

/// An evaluation of a measure, as the history stores it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct EvaluationV1 {
    date: String,
    text: String,
    author: String,
    author_relations: String,
    time: i64,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut state = vec![V1];
    serde_json::to_writer(&mut state, value).map_err(Error::internal)?;
    Ok(state)
}

/// An item's state in the current form, or `None` when a legacy row holds it.
fn decode<T: DeserializeOwned>(state: &[u8]) -> Result<Option<T>, Error> {
    match state.split_first() {
        Some((&V1, json)) => serde_json::from_slice(json).map(Some).map_err(Error::internal),
        _ => Ok(None),
    }
}

/// Decodes a stored text that only valid data could have produced.
fn parsed<T>(what: &str, value: Option<T>) -> Result<T, Error> {
    value.ok_or_else(|| Error::internal(format!("a revision's history holds an unreadable {what}")))
}

fn date(text: &Option<String>) -> Result<Option<Date>, Error> {
    text.as_deref().map(|d| parsed("date", Date::from_stored(d))).transpose()
}

fn id(text: &str) -> Result<ResourceId, Error> {
    parsed("id", ResourceId::parse(text))
}

fn org(text: &str) -> Result<OrgNumber, Error> {
    parsed("organisation", OrgNumber::parse("", text).ok())
}

fn stored_kind(kind: &str) -> Result<ItemKind, Error> {
    parsed("item kind", ItemKind::from_stored(kind))
}

/// The items of a plan as the history stores them: the plan's own fields, each of the
/// patient's sections, the contacts, each goal and measure without their trails, and each
/// adjustment and evaluation on its own, so a change stores only what it changed.
fn items(doc: &PlanDocument) -> Result<Vec<ItemVersion>, Error> {
    let mut items = Vec::new();
    let mut push = |kind, item_id: String, parent_id: String, state: Vec<u8>| {
        items.push(ItemVersion { kind, item_id, parent_id, state: Some(state) });
    };
    let plan = &doc.plan;
    push(ItemKind::Plan, plan.id.to_string(), String::new(), encode(&plan_v1(plan))?);
    for &section in Section::ALL {
        let text = encode(&plan.sections.get(section))?;
        push(ItemKind::PlanSection, section.as_str().to_owned(), String::new(), text);
    }
    push(ItemKind::PlanContacts, CONTACTS.into(), String::new(), encode(&plan.contacts)?);
    for goal in &doc.goals {
        let trail = goal.adjustments.iter().map(|a| encode(&adjustment_v1(a)));
        push_trail(&mut push, (ItemKind::GoalAdjustment, &goal.id.to_string()), trail)?;
        push(ItemKind::Goal, goal.id.to_string(), String::new(), encode(&goal_v1(goal))?);
    }
    for measure in &doc.measures {
        let trail = measure.evaluations.iter().map(|e| encode(&evaluation_v1(e)));
        push_trail(&mut push, (ItemKind::MeasureEvaluation, &measure.id.to_string()), trail)?;
        push(
            ItemKind::Measure,
            measure.id.to_string(),
            String::new(),
            encode(&measure_v1(measure))?,
        );
    }
    Ok(items)
}

/// Pushes each step of a goal's or measure's trail as an item of its own, `{parent}/{index}`:
/// a trail only grows, so each step is stored once.
fn push_trail(
    push: &mut impl FnMut(ItemKind, String, String, Vec<u8>),
    (kind, parent): (ItemKind, &str),
    steps: impl Iterator<Item = Result<Vec<u8>, Error>>,
) -> Result<(), Error> {
    for (i, step) in steps.enumerate() {
        push(kind, format!("{parent}/{i}"), parent.to_owned(), step?);
    }
    Ok(())
}

fn plan_v1(plan: &Plan) -> PlanV1 {
    PlanV1 {
        organisation: plan.organisation.to_string(),
        organisation_name: plan.organisation_name.clone(),
        patient: plan.patient.expose().to_owned(),
        patient_display_name: plan.patient_display_name.clone(),
        kind: plan.kind.as_str().to_owned(),
        status: plan.status.as_str().to_owned(),
        status_reason: plan.status_reason.clone(),
        version: plan.version,
        content_revision: plan.content_revision,
        next_review_date: plan.next_review_date.map(|d| d.to_string()),
        consent: plan.consent.as_ref().map(|c| ConsentV1 {
            recipients: c.recipients.iter().map(ToString::to_string).collect(),
            on_behalf: c.on_behalf.as_ref().map(|o| (o.given_by.clone(), o.reason.clone())),
            give_time: c.give_time.0,
            recorded_by: c.recorded_by.clone(),
        }),
        signature: plan.signature.as_ref().map(|s| SignatureV1 {
            revision: s.revision,
            sign_time: s.sign_time.0,
            signed_by: s.signed_by.as_str().to_owned(),
        }),
        coordinator_wish: plan.coordinator_wish.as_ref().map(|w| WishV1 {
            display_name: w.display_name.clone(),
            organisation: w.organisation.as_ref().map(ToString::to_string),
            note: w.note.clone(),
            time: w.time.0,
        }),
        referral: plan.referral.map(|r| r.to_string()),
        create_time: plan.create_time.0,
        preferred_language: plan
            .preferred_language
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        interpreter_language: plan
            .interpreter
            .as_ref()
            .map(|i| i.language.to_string())
            .unwrap_or_default(),
    }
}

fn goal_v1(goal: &Goal) -> GoalV1 {
    GoalV1 {
        text: goal.text.clone(),
        priority: goal.priority,
        status: goal.status.as_str().to_owned(),
        target_date: goal.target_date.map(|d| d.to_string()),
        revision: goal.revision,
        create_time: goal.create_time.0,
        update_time: goal.update_time.0,
    }
}

fn adjustment_v1(a: &GoalAdjustment) -> AdjustmentV1 {
    AdjustmentV1 {
        time: a.time.0,
        author: a.author.clone(),
        author_relations: a.author_relations.clone(),
        reason: a.reason.clone(),
        proposed_text: a.proposed_text.clone(),
        previous_text: a.previous_text.clone(),
        new_text: a.new_text.clone(),
        previous_status: a.previous_status.map(|s| s.as_str().to_owned()),
        new_status: a.new_status.map(|s| s.as_str().to_owned()),
    }
}

fn measure_v1(m: &Measure) -> MeasureV1 {
    MeasureV1 {
        goal: m.goal.to_string(),
        description: m.description.clone(),
        responsible_member: m.responsible_member.to_string(),
        start_date: m.start_date.map(|d| d.to_string()),
        end_date: m.end_date.map(|d| d.to_string()),
        frequency: m.frequency.clone(),
        status: m.status.as_str().to_owned(),
        revision: m.revision,
        create_time: m.create_time.0,
        update_time: m.update_time.0,
    }
}

fn evaluation_v1(e: &Evaluation) -> EvaluationV1 {
    EvaluationV1 {
        date: e.date.to_string(),
        text: e.text.clone(),
        author: e.author.clone(),
        author_relations: e.author_relations.clone(),
        time: e.time.0,
    }
}

/// An item's state in either form: the current one, or a legacy row's through `legacy`.
fn read<T: DeserializeOwned>(
    state: &[u8],
    legacy: impl FnOnce(&[u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    match decode(state)? {
        Some(value) => Ok(value),
        None => legacy(state),
    }
}

/// The plan from its item versions, oldest first: the latest state of every item not deleted,
/// at `revision`, made at `time`.
fn rebuild(
    pass: &PlanPass,
    versions: Vec<ItemVersion>,
    revision: i64,
    time: Instant,
) -> Result<PlanDocument, Error> {
    let mut latest: BTreeMap<(&'static str, String), ItemVersion> = BTreeMap::new();
    for v in versions {
        latest.insert((v.kind.as_str(), v.item_id.clone()), v);
    }
    // The held items of a kind: adjustments and evaluations in the order they were made, the
    // rest by id, which is time.
    let of_kind = |kind: ItemKind| {
        let mut found: Vec<(&ItemVersion, &[u8])> = latest
            .values()
            .filter(|v| v.kind == kind)
            .filter_map(|v| v.state.as_deref().map(|state| (v, state)))
            .collect();
        found.sort_by_key(|(v, _)| {
            let index = v.item_id.rsplit('/').next().and_then(|i| i.parse::<u64>().ok());
            (v.parent_id.clone(), index, v.item_id.clone())
        });
        found
    };
    let own = of_kind(ItemKind::Plan);
    let (_, state) =
        own.first().ok_or_else(|| Error::internal("a revision's history holds no plan"))?;
    let mut plan = plan_from(pass.id(), read(state, legacy::plan)?, revision, time)?;
    for (v, state) in of_kind(ItemKind::PlanSection) {
        let section = parsed("section", Section::from_stored(&v.item_id))?;
        plan.sections.set(section, read(state, legacy::section)?);
    }
    if let Some((_, state)) = of_kind(ItemKind::PlanContacts).first() {
        plan.contacts = read(state, legacy::contacts)?;
    }
    let steps_of = |kind, parent: &str| {
        of_kind(kind)
            .into_iter()
            .filter(|(v, _)| v.parent_id == parent)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
    };
    let mut goals = Vec::new();
    for (v, state) in of_kind(ItemKind::Goal) {
        let adjustments = steps_of(ItemKind::GoalAdjustment, &v.item_id)
            .into_iter()
            .map(|s| adjustment_from(read(s, legacy::adjustment)?))
            .collect::<Result<_, _>>()?;
        goals.push(goal_from(pass.id(), id(&v.item_id)?, read(state, legacy::goal)?, adjustments)?);
    }
    let mut measures = Vec::new();
    for (v, state) in of_kind(ItemKind::Measure) {
        let evaluations = steps_of(ItemKind::MeasureEvaluation, &v.item_id)
            .into_iter()
            .map(|s| evaluation_from(read(s, legacy::evaluation)?))
            .collect::<Result<_, _>>()?;
        let stored = read(state, legacy::measure)?;
        measures.push(measure_from(pass.id(), id(&v.item_id)?, stored, evaluations)?);
    }
    Ok(PlanDocument { plan, goals, measures })
}

/// A stored language tag; `None` for an empty one.
fn language(tag: &str) -> Result<Option<LanguageTag>, Error> {
    (!tag.is_empty()).then(|| parsed("language", LanguageTag::from_stored(tag))).transpose()
}

fn plan_from(plan: ResourceId, p: PlanV1, revision: i64, time: Instant) -> Result<Plan, Error> {
    Ok(Plan {
        id: plan,
        organisation: org(&p.organisation)?,
        organisation_name: p.organisation_name,
        patient: parsed("patient", NationalId::parse("", &p.patient).ok())?,
        patient_display_name: p.patient_display_name,
        kind: parsed("plan kind", PlanKind::from_stored(&p.kind))?,
        status: parsed("plan status", PlanStatus::from_stored(&p.status))?,
        status_reason: p.status_reason,
        revision,
        version: p.version,
        content_revision: p.content_revision,
        sections: PatientSections::default(),
        contacts: Vec::new(),
        next_review_date: date(&p.next_review_date)?,
        consent: p
            .consent
            .map(|c| -> Result<Consent, Error> {
                Ok(Consent {
                    recipients: c.recipients.iter().map(|r| org(r)).collect::<Result<_, _>>()?,
                    on_behalf: c.on_behalf.map(|(given_by, reason)| OnBehalf { given_by, reason }),
                    give_time: Instant(c.give_time),
                    recorded_by: c.recorded_by,
                })
            })
            .transpose()?,
        signature: p
            .signature
            .map(|s| -> Result<Signature, Error> {
                let signed_by = parsed("signer", Relation::from_stored(&s.signed_by))?;
                Ok(Signature { revision: s.revision, sign_time: Instant(s.sign_time), signed_by })
            })
            .transpose()?,
        coordinator_wish: p
            .coordinator_wish
            .map(|w| -> Result<CoordinatorWish, Error> {
                Ok(CoordinatorWish {
                    display_name: w.display_name,
                    organisation: w.organisation.as_deref().map(org).transpose()?,
                    note: w.note,
                    time: Instant(w.time),
                })
            })
            .transpose()?,
        referral: p.referral.as_deref().map(id).transpose()?,
        preferred_language: language(&p.preferred_language)?,
        interpreter: language(&p.interpreter_language)?
            .map(|language| InterpreterNeed { language }),
        create_time: Instant(p.create_time),
        update_time: time,
    })
}

fn goal_from(
    plan: ResourceId,
    goal: ResourceId,
    g: GoalV1,
    adjustments: Vec<GoalAdjustment>,
) -> Result<Goal, Error> {
    Ok(Goal {
        id: goal,
        plan,
        text: g.text,
        priority: g.priority,
        status: parsed("goal status", GoalStatus::from_stored(&g.status))?,
        target_date: date(&g.target_date)?,
        adjustments,
        revision: g.revision,
        create_time: Instant(g.create_time),
        update_time: Instant(g.update_time),
    })
}

fn adjustment_from(a: AdjustmentV1) -> Result<GoalAdjustment, Error> {
    let status = |s: Option<String>| {
        s.map(|s| parsed("goal status", GoalStatus::from_stored(&s))).transpose()
    };
    Ok(GoalAdjustment {
        time: Instant(a.time),
        author: a.author,
        author_relations: a.author_relations,
        reason: a.reason,
        proposed_text: a.proposed_text,
        previous_text: a.previous_text,
        new_text: a.new_text,
        previous_status: status(a.previous_status)?,
        new_status: status(a.new_status)?,
    })
}

fn measure_from(
    plan: ResourceId,
    measure: ResourceId,
    m: MeasureV1,
    evaluations: Vec<Evaluation>,
) -> Result<Measure, Error> {
    Ok(Measure {
        id: measure,
        plan,
        goal: id(&m.goal)?,
        description: m.description,
        responsible_member: id(&m.responsible_member)?,
        start_date: date(&m.start_date)?,
        end_date: date(&m.end_date)?,
        frequency: m.frequency,
        status: parsed("measure status", MeasureStatus::from_stored(&m.status))?,
        evaluations,
        revision: m.revision,
        create_time: Instant(m.create_time),
        update_time: Instant(m.update_time),
    })
}

fn evaluation_from(e: EvaluationV1) -> Result<Evaluation, Error> {
    Ok(Evaluation {
        date: parsed("evaluation date", Date::from_stored(&e.date))?,
        text: e.text,
        author: e.author,
        author_relations: e.author_relations,
        time: Instant(e.time),
    })
}

/// Rows written before the history had a form of its own: `samvirke.v1` messages, read into
/// the storage types. The one place outside `api` that reads the wire's messages; `buf
/// breaking` keeps their field numbers and types.
mod legacy {
    use prost::Message;

    use super::{
        AdjustmentV1, CONTACTS, ConsentV1, EvaluationV1, GoalV1, MeasureV1, PlanV1, SignatureV1,
        WishV1, encode, parsed, push_trail,
    };
    use crate::domain::Error;
    use crate::domain::plan::{Contact, Section};
    use crate::domain::time::Instant;
    use crate::proto;
    use crate::store::{ItemKind, ItemVersion};

    fn message<M: Message + Default>(state: &[u8]) -> Result<M, Error> {
        M::decode(state).map_err(Error::internal)
    }

    /// A wire enum's name as the domain stores it: `PLAN_STATUS_ACTIVE` → `active`.
    fn stored(name: &str, prefix: &str) -> String {
        name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
    }

    /// A timestamp as the domain's `Instant` counts it.
    fn seconds(ts: Option<prost_types::Timestamp>) -> i64 {
        ts.and_then(|t| Instant::from_parts(t.seconds, t.nanos)).map_or(0, |i| i.0)
    }

    fn date(d: Option<proto::Date>) -> Option<String> {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
    }

    fn nonempty(text: String) -> Option<String> {
        (!text.is_empty()).then_some(text)
    }

    pub(super) fn plan(state: &[u8]) -> Result<PlanV1, Error> {
        let p: proto::Plan = message(state)?;
        let kind = proto::PlanKind::try_from(p.kind).unwrap_or_default().as_str_name();
        let status = proto::PlanStatus::try_from(p.status).unwrap_or_default().as_str_name();
        // The wire told only whether the content changed since signing.
        let content_revision = p
            .signature
            .as_ref()
            .map_or(0, |s| if s.changed_since_signing { s.revision + 1 } else { s.revision });
        let signature = p.signature.map(|s| SignatureV1 {
            revision: s.revision,
            sign_time: seconds(s.sign_time),
            signed_by: s.signed_by,
        });
        Ok(PlanV1 {
            organisation: p.organisation,
            organisation_name: p.organisation_display_name,
            patient: p.patient_id,
            patient_display_name: p.patient_display_name,
            kind: stored(kind, "PLAN_KIND_"),
            status: stored(status, "PLAN_STATUS_"),
            status_reason: p.status_reason,
            version: parsed("etag", p.etag.parse().ok())?,
            content_revision,
            next_review_date: date(p.next_review_date),
            consent: p.consent.map(|c| ConsentV1 {
                recipients: c.recipients,
                on_behalf: c.on_behalf.map(|o| (o.given_by, o.reason)),
                give_time: seconds(c.give_time),
                recorded_by: c.recorded_by,
            }),
            signature,
            coordinator_wish: p.coordinator_wish.map(|w| WishV1 {
                display_name: w.display_name,
                organisation: nonempty(w.organisation),
                note: w.note,
                time: seconds(w.record_time),
            }),
            referral: nonempty(p.referral.trim_start_matches("referrals/").to_owned()),
            // Rows from before the patient's language was recorded hold none; read what the
            // message holds all the same.
            preferred_language: p.preferred_language,
            interpreter_language: p
                .interpreter
                .filter(|i| i.needed)
                .map(|i| i.language)
                .unwrap_or_default(),
            create_time: seconds(p.create_time),
        })
    }

    /// A goal status of a legacy row's wire enum, as the domain stores it; `None` for
    /// UNSPECIFIED.
    fn goal_v1_text(value: i32) -> Option<String> {
        match proto::GoalStatus::try_from(value).ok()? {
            proto::GoalStatus::Unspecified => None,
            status => Some(stored(status.as_str_name(), "GOAL_STATUS_")),
        }
    }

    pub(super) fn section(state: &[u8]) -> Result<String, Error> {
        String::from_utf8(state.to_vec()).map_err(Error::internal)
    }

    pub(super) fn contacts(state: &[u8]) -> Result<Vec<Contact>, Error> {
        let p: proto::Plan = message(state)?;
        let contact = |c: proto::Contact| Contact {
            name: c.name,
            role: c.role,
            organisation: c.organisation,
            phone: c.phone,
            note: c.note,
        };
        Ok(p.contacts.into_iter().map(contact).collect())
    }

    pub(super) fn goal(state: &[u8]) -> Result<GoalV1, Error> {
        let g: proto::Goal = message(state)?;
        let status = proto::GoalStatus::try_from(g.status).unwrap_or_default().as_str_name();
        Ok(GoalV1 {
            text: g.text,
            priority: g.priority,
            status: stored(status, "GOAL_STATUS_"),
            target_date: date(g.target_date),
            revision: parsed("etag", g.etag.parse().ok())?,
            create_time: seconds(g.create_time),
            update_time: seconds(g.update_time),
        })
    }

    pub(super) fn adjustment(state: &[u8]) -> Result<AdjustmentV1, Error> {
        let a: proto::GoalAdjustment = message(state)?;
        Ok(AdjustmentV1 {
            time: seconds(a.create_time),
            author: a.author,
            author_relations: a.author_relations,
            reason: a.reason,
            proposed_text: a.proposed_text,
            previous_text: a.previous_text,
            new_text: a.new_text,
            previous_status: goal_v1_text(a.previous_status),
            new_status: goal_v1_text(a.new_status),
        })
    }

    pub(super) fn measure(state: &[u8]) -> Result<MeasureV1, Error> {
        let m: proto::Measure = message(state)?;
        let status = proto::MeasureStatus::try_from(m.status).unwrap_or_default().as_str_name();
        let item = |name: &str| name.rsplit('/').next().unwrap_or_default().to_owned();
        Ok(MeasureV1 {
            goal: item(&m.goal),
            description: m.description,
            responsible_member: item(&m.responsible_member),
            start_date: date(m.start_date),
            end_date: date(m.end_date),
            frequency: m.frequency,
            status: stored(status, "MEASURE_STATUS_"),
            revision: parsed("etag", m.etag.parse().ok())?,
            create_time: seconds(m.create_time),
            update_time: seconds(m.update_time),
        })
    }

    pub(super) fn evaluation(state: &[u8]) -> Result<EvaluationV1, Error> {
        let e: proto::Evaluation = message(state)?;
        Ok(EvaluationV1 {
            date: date(e.date).unwrap_or_default(),
            text: e.text,
            author: e.author,
            author_relations: e.author_relations,
            time: seconds(e.create_time),
        })
    }

    /// A whole revision written before item versions: its `GetPlanResponse`, as the items
    /// the current form would have stored.
    pub(super) fn whole(snapshot: &[u8]) -> Result<Vec<ItemVersion>, Error> {
        let doc: proto::GetPlanResponse = message(snapshot)?;
        let mut items = Vec::new();
        let mut push = |kind, item_id: String, parent_id: String, state: Vec<u8>| {
            items.push(ItemVersion { kind, item_id, parent_id, state: Some(state) });
        };
        let item_id = |name: &str| name.rsplit('/').next().unwrap_or_default().to_owned();
        if let Some(p) = doc.plan {
            let sections = p.sections.clone().unwrap_or_default();
            let texts = [
                (Section::ImportantToMe, sections.important_to_me),
                (Section::ResourcesAndStrengths, sections.resources_and_strengths),
                (Section::WhatWorksNow, sections.what_works_now),
                (Section::WhatINeed, sections.what_i_need),
                (Section::FirstPriority, sections.first_priority),
                (Section::ThoughtsOnIllness, sections.thoughts_on_illness),
                (Section::AdmissionAgreement, sections.admission_agreement),
            ];
            for (section, text) in texts {
                push(
                    ItemKind::PlanSection,
                    section.as_str().to_owned(),
                    String::new(),
                    encode(&text)?,
                );
            }
            let contacts = proto::Plan { contacts: p.contacts.clone(), ..Default::default() };
            push(
                ItemKind::PlanContacts,
                CONTACTS.into(),
                String::new(),
                encode(&self::contacts(&contacts.encode_to_vec())?)?,
            );
            push(
                ItemKind::Plan,
                item_id(&p.name),
                String::new(),
                encode(&plan(&p.encode_to_vec())?)?,
            );
        }
        for g in doc.goals {
            let id = item_id(&g.name);
            let trail = g.adjustments.iter().map(|a| encode(&adjustment(&a.encode_to_vec())?));
            push_trail(&mut push, (ItemKind::GoalAdjustment, &id), trail)?;
            push(ItemKind::Goal, id, String::new(), encode(&goal(&g.encode_to_vec())?)?);
        }
        for m in doc.measures {
            let id = item_id(&m.name);
            let trail = m.evaluations.iter().map(|e| encode(&evaluation(&e.encode_to_vec())?));
            push_trail(&mut push, (ItemKind::MeasureEvaluation, &id), trail)?;
            push(ItemKind::Measure, id, String::new(), encode(&measure(&m.encode_to_vec())?)?);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::Contact;

    /// A row as the current form writes it reads back, and a row of an older writer that
    /// lacks a field added since reads with that field's default.
    #[test]
    fn stored_goals_stay_readable() {
        let v1 = GoalV1 {
            text: "Gå tur".into(),
            priority: 2,
            status: "agreed".into(),
            ..Default::default()
        };
        let state = encode(&v1).unwrap();
        assert_eq!(state[0], V1);
        let back: GoalV1 = decode(&state).unwrap().unwrap();
        assert_eq!(
            (back.text.as_str(), back.priority, back.status.as_str()),
            ("Gå tur", 2, "agreed")
        );
        let older = [&[V1][..], r#"{"text":"Gå tur","status":"proposed"}"#.as_bytes()].concat();
        let back: GoalV1 = decode(&older).unwrap().unwrap();
        assert_eq!((back.priority, back.target_date), (0, None));
    }

    /// A legacy row (a `samvirke.v1` message, no format byte) is not taken for the current
    /// form, and reads through `legacy`.
    #[test]
    fn legacy_rows_read_through_the_wire_messages() {
        use prost::Message;
        let goal = crate::proto::Goal {
            text: "Komme hjem".into(),
            priority: 1,
            status: crate::proto::GoalStatus::Proposed as i32,
            etag: "3".into(),
            ..Default::default()
        };
        let state = goal.encode_to_vec();
        assert!(decode::<GoalV1>(&state).unwrap().is_none());
        let read = read(&state, legacy::goal).unwrap();
        assert_eq!(
            (read.text.as_str(), read.status.as_str(), read.revision),
            ("Komme hjem", "proposed", 3)
        );
        assert_eq!(legacy::section("Min tekst".as_bytes()).unwrap(), "Min tekst");
    }

    /// A whole revision as the earlier writers stored it (a `GetPlanResponse`, every item a
    /// `samvirke.v1` message) rebuilds to the plan it was, field for field; so does the same
    /// plan stored in the current form.
    #[test]
    fn a_plan_rebuilds_from_either_form() {
        use prost::Message;

        use crate::api::encode::encode_document;
        let doc = sample();
        let pass = PlanPass::operator(doc.plan.clone());
        let (revision, time) = (doc.plan.revision, doc.plan.update_time);
        let expected = encode_document(&doc, true);

        let legacy = legacy::whole(&expected.encode_to_vec()).unwrap();
        let rebuilt = rebuild(&pass, legacy, revision, time).unwrap();
        assert_eq!(encode_document(&rebuilt, true), expected);

        let current = items(&doc).unwrap();
        assert!(current.iter().all(|i| i.state.as_ref().is_some_and(|s| s[0] == V1)));
        let rebuilt = rebuild(&pass, current, revision, time).unwrap();
        assert_eq!(encode_document(&rebuilt, true), expected);
    }

    /// A plan with something in every field the history keeps.
    fn sample() -> PlanDocument {
        let now = Instant::from_parts(1_795_000_000, 123_000).unwrap();
        let plan_id = ResourceId::generate();
        let org = OrgNumber::parse("", "910000004").unwrap();
        let mut sections = PatientSections::default();
        sections.set(Section::ImportantToMe, "Hunden min".into());
        let goal_id = ResourceId::generate();
        let member = ResourceId::generate();
        let plan = Plan {
            id: plan_id,
            organisation: org.clone(),
            organisation_name: "Kommune".into(),
            patient: crate::domain::national_id::synthetic_for_tests(0),
            patient_display_name: "Ola".into(),
            kind: PlanKind::General,
            status: PlanStatus::Active,
            status_reason: String::new(),
            revision: 7,
            version: 4,
            content_revision: 6,
            sections,
            contacts: vec![Contact {
                name: "Fastlege".into(),
                phone: "12345678".into(),
                ..Default::default()
            }],
            next_review_date: Date::from_stored("2027-03-01"),
            consent: Some(Consent {
                recipients: vec![OrgNumber::parse("", "930000000").unwrap()],
                on_behalf: Some(OnBehalf { given_by: "Mor".into(), reason: "Bevisstløs".into() }),
                give_time: now,
                recorded_by: "owner".into(),
            }),
            signature: Some(Signature { revision: 5, sign_time: now, signed_by: Relation::Owner }),
            coordinator_wish: Some(CoordinatorWish {
                display_name: "Liv".into(),
                organisation: Some(org),
                note: "Kjenner meg".into(),
                time: now,
            }),
            referral: Some(ResourceId::generate()),
            preferred_language: LanguageTag::from_stored("se"),
            interpreter: LanguageTag::from_stored("nsi")
                .map(|language| InterpreterNeed { language }),
            create_time: now,
            update_time: now,
        };
        let goal = Goal {
            id: goal_id,
            plan: plan_id,
            text: "Gå tur".into(),
            priority: 1,
            status: GoalStatus::Agreed,
            target_date: Date::from_stored("2027-06-01"),
            adjustments: vec![GoalAdjustment {
                time: now,
                author: format!(
                    "citizen:{}",
                    crate::domain::national_id::synthetic_for_tests(0).expose()
                ),
                author_relations: "owner".into(),
                reason: "Bedre".into(),
                previous_status: Some(GoalStatus::Proposed),
                new_status: Some(GoalStatus::Agreed),
                ..Default::default()
            }],
            revision: 2,
            create_time: now,
            update_time: now,
        };
        let measure = Measure {
            id: ResourceId::generate(),
            plan: plan_id,
            goal: goal_id,
            description: "Turgruppe".into(),
            responsible_member: member,
            start_date: Date::from_stored("2027-01-01"),
            end_date: None,
            frequency: "ukentlig".into(),
            status: MeasureStatus::Ongoing,
            evaluations: vec![Evaluation {
                date: Date::from_stored("2027-02-01").unwrap(),
                text: "Går bra".into(),
                author: "personnel:nav-1".into(),
                author_relations: "member".into(),
                time: now,
            }],
            revision: 3,
            create_time: now,
            update_time: now,
        };
        PlanDocument { plan, goals: vec![goal], measures: vec![measure] }
    }
}
