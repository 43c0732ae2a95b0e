//! The plan as the API shows it: encoding the plan, its goals and measures for a caller, the
//! snapshot each revision keeps, and writing that revision. One place, so the current plan, a
//! past revision and the export agree.

use std::collections::BTreeMap;

use prost::Message;

use super::convert::{
    date, etag_of, goal_status_out, measure_status_out, plan_item, plan_kind_out, plan_resource,
    plan_status, section_mut, section_of, shown_subject, timestamp,
};
use crate::auth::PlanAccess;
use crate::domain::Error;
use crate::domain::goal::Goal;
use crate::domain::ids::ResourceId;
use crate::domain::measure::Measure;
use crate::domain::plan::{Consent, Plan, Section};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::proto;
use crate::store::{ItemKind, ItemVersion, NewRevision, Session};

/// The plan on the wire; the patient's identity number only when `show_identity`.
pub fn encode_plan(plan: &Plan, show_identity: bool) -> proto::Plan {
    let s = &plan.sections;
    proto::Plan {
        name: plan_resource(plan.id),
        organisation: plan.organisation.to_string(),
        patient_id: if show_identity {
            plan.patient.expose().to_owned()
        } else {
            String::new()
        },
        patient_display_name: plan.patient_display_name.clone(),
        kind: plan_kind_out(plan.kind) as i32,
        status: plan_status(plan.status) as i32,
        create_time: Some(timestamp(plan.create_time)),
        update_time: Some(timestamp(plan.update_time)),
        etag: etag_of(plan.version),
        sections: Some(proto::PatientSections {
            important_to_me: s.get(Section::ImportantToMe).to_owned(),
            resources_and_strengths: s.get(Section::ResourcesAndStrengths).to_owned(),
            what_works_now: s.get(Section::WhatWorksNow).to_owned(),
            what_i_need: s.get(Section::WhatINeed).to_owned(),
            first_priority: s.get(Section::FirstPriority).to_owned(),
            thoughts_on_illness: s.get(Section::ThoughtsOnIllness).to_owned(),
            admission_agreement: s.get(Section::AdmissionAgreement).to_owned(),
        }),
        contacts: plan
            .contacts
            .iter()
            .map(|c| proto::Contact {
                name: c.name.clone(),
                role: c.role.clone(),
                organisation: c.organisation.clone(),
                phone: c.phone.clone(),
                note: c.note.clone(),
            })
            .collect(),
        next_review_date: plan.next_review_date.map(date),
        consent: plan.consent.as_ref().map(encode_consent),
        signature: plan.signature.as_ref().map(|s| proto::Signature {
            revision: s.revision,
            sign_time: Some(timestamp(s.sign_time)),
            signed_by: s.signed_by.as_str().to_owned(),
            changed_since_signing: plan.changed_since_signing(),
        }),
        status_reason: plan.status_reason.clone(),
        revision: plan.revision,
        coordinator_wish: plan
            .coordinator_wish
            .as_ref()
            .map(|w| proto::CoordinatorWish {
                display_name: w.display_name.clone(),
                organisation: w
                    .organisation
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                note: w.note.clone(),
                record_time: Some(timestamp(w.time)),
            }),
        referral: plan
            .referral
            .map(|r| format!("referrals/{r}"))
            .unwrap_or_default(),
        organisation_display_name: plan.organisation_name.clone(),
    }
}

/// A consent on the wire, as the plan shows the one in force.
pub fn encode_consent(c: &Consent) -> proto::Consent {
    proto::Consent {
        recipients: c.recipients.iter().map(ToString::to_string).collect(),
        on_behalf: c.on_behalf.as_ref().map(|o| proto::ConsentOnBehalf {
            given_by: o.given_by.clone(),
            reason: o.reason.clone(),
        }),
        give_time: Some(timestamp(c.give_time)),
        recorded_by: c.recorded_by.clone(),
        ..Default::default()
    }
}

/// A goal on the wire.
pub fn encode_goal(goal: &Goal, show_identity: bool) -> proto::Goal {
    proto::Goal {
        name: plan_item(goal.plan, "goals", goal.id),
        text: goal.text.clone(),
        priority: goal.priority,
        status: goal_status_out(goal.status) as i32,
        target_date: goal.target_date.map(date),
        adjustments: goal
            .adjustments
            .iter()
            .map(|a| proto::GoalAdjustment {
                create_time: Some(timestamp(a.time)),
                author: shown_subject(&a.author, show_identity),
                author_relations: a.author_relations.clone(),
                reason: a.reason.clone(),
                proposed_text: a.proposed_text.clone(),
                previous_text: a.previous_text.clone(),
                new_text: a.new_text.clone(),
                previous_status: a
                    .previous_status
                    .map_or(proto::GoalStatus::Unspecified, goal_status_out)
                    as i32,
                new_status: a
                    .new_status
                    .map_or(proto::GoalStatus::Unspecified, goal_status_out)
                    as i32,
            })
            .collect(),
        create_time: Some(timestamp(goal.create_time)),
        update_time: Some(timestamp(goal.update_time)),
        etag: etag_of(goal.revision),
    }
}

/// A measure on the wire.
pub fn encode_measure(measure: &Measure, show_identity: bool) -> proto::Measure {
    proto::Measure {
        name: plan_item(measure.plan, "measures", measure.id),
        goal: plan_item(measure.plan, "goals", measure.goal),
        description: measure.description.clone(),
        responsible_member: plan_item(measure.plan, "members", measure.responsible_member),
        start_date: measure.start_date.map(date),
        end_date: measure.end_date.map(date),
        frequency: measure.frequency.clone(),
        status: measure_status_out(measure.status) as i32,
        evaluations: measure
            .evaluations
            .iter()
            .map(|e| proto::Evaluation {
                date: Some(date(e.date)),
                text: e.text.clone(),
                author: shown_subject(&e.author, show_identity),
                author_relations: e.author_relations.clone(),
                create_time: Some(timestamp(e.time)),
            })
            .collect(),
        create_time: Some(timestamp(measure.create_time)),
        update_time: Some(timestamp(measure.update_time)),
        etag: etag_of(measure.revision),
    }
}

/// The whole plan as it is now in this session: the plan, all its goals and measures.
pub async fn current(
    session: &mut Session,
    plan: ResourceId,
    show_identity: bool,
) -> Result<proto::GetPlanResponse, Error> {
    let loaded = session.load_plan(plan).await?;
    let goals = session.list_goals(plan, None).await?;
    let measures = session.list_measures(plan, None).await?;
    Ok(proto::GetPlanResponse {
        plan: Some(encode_plan(&loaded, show_identity)),
        goals: goals
            .iter()
            .map(|g| encode_goal(g, show_identity))
            .collect(),
        measures: measures
            .iter()
            .map(|m| encode_measure(m, show_identity))
            .collect(),
    })
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
        goal.adjustments
            .iter_mut()
            .for_each(|a| hide(&mut a.author));
    }
    for measure in &mut snapshot.measures {
        measure
            .evaluations
            .iter_mut()
            .for_each(|e| hide(&mut e.author));
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
            items.push(ItemVersion {
                kind,
                item_id,
                parent_id: String::new(),
                state: Some(state),
            });
        };
        item(ItemKind::Plan, item_id(&plan.name), own.encode_to_vec());
        let sections = plan.sections.clone().unwrap_or_default();
        for &section in Section::ALL {
            let text = section_of(&sections, section).as_bytes().to_vec();
            item(ItemKind::PlanSection, section.as_str().to_owned(), text);
        }
        let contacts = proto::Plan {
            contacts: plan.contacts.clone(),
            ..Default::default()
        };
        item(
            ItemKind::PlanContacts,
            "contacts".into(),
            contacts.encode_to_vec(),
        );
    }
    for goal in &snapshot.goals {
        let own = proto::Goal {
            adjustments: Vec::new(),
            ..goal.clone()
        };
        let trail = goal.adjustments.iter().map(Message::encode_to_vec);
        push_with_trail(&mut items, ItemKind::Goal, &goal.name, own, trail);
    }
    for measure in &snapshot.measures {
        let own = proto::Measure {
            evaluations: Vec::new(),
            ..measure.clone()
        };
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

/// The plan as it was at `revision`, as the caller may see it; `None` when it has no such
/// revision. Rebuilt from the latest version of every item at or before it, or read from the
/// full snapshot of a revision written before the history stored items.
pub async fn plan_at(
    session: &mut Session,
    plan: ResourceId,
    revision: i64,
    show_identity: bool,
) -> Result<Option<proto::GetPlanResponse>, Error> {
    let Some((time, snapshot)) = session.revision_at(plan, revision).await? else {
        return Ok(None);
    };
    let mut rebuilt = if snapshot.is_empty() {
        rebuild(
            session.item_versions_until(plan, revision).await?,
            revision,
            time,
        )?
    } else {
        proto::GetPlanResponse::decode(snapshot.as_slice()).map_err(Error::internal)?
    };
    hide_identities(&mut rebuilt, show_identity);
    Ok(Some(rebuilt))
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
        let mut found: Vec<&ItemVersion> = latest
            .values()
            .filter(|v| v.kind == kind && v.state.is_some())
            .collect();
        // Adjustments and evaluations in the order they were made; items by id, which is time.
        found.sort_by_key(|v| {
            let index = v
                .item_id
                .rsplit('/')
                .next()
                .and_then(|i| i.parse::<u64>().ok());
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
        plan.contacts = proto::Plan::decode(decode(v).unwrap_or_default())
            .map_err(Error::internal)?
            .contacts;
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
    Ok(proto::GetPlanResponse {
        plan: Some(plan),
        goals,
        measures,
    })
}

/// A change to a plan under way: begun by taking the plan's next history revision (which also
/// locks the plan's row, so concurrent changes number their revisions in order), finished by
/// writing that revision with a snapshot of the plan as the change left it.
pub struct Change {
    revision: i64,
}

impl Change {
    /// Begins a change to the plan `access` is for; `content` says whether it changes what a
    /// signature covers.
    pub async fn begin(
        session: &mut Session,
        access: &PlanAccess,
        who: &Principal,
        content: bool,
        now: Instant,
    ) -> Result<Change, Error> {
        let relations = access.relation_names();
        let revision = session
            .next_revision(&revision_of(access, who, &relations, &[], content), now)
            .await?;
        Ok(Change { revision })
    }

    /// The history revision this change makes.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Writes the revision, with `changes` saying what changed, and returns the plan as it now
    /// is.
    pub async fn finish(
        self,
        session: &mut Session,
        access: &PlanAccess,
        who: &Principal,
        changes: &[String],
        now: Instant,
    ) -> Result<Plan, Error> {
        let snapshot = current(session, access.plan.id, true).await?;
        let relations = access.relation_names();
        let change = revision_of(access, who, &relations, changes, false);
        // Only what changed since the history's latest version of each item is stored.
        let latest: BTreeMap<(&'static str, String), (ItemKind, String)> = session
            .latest_item_digests(access.plan.id)
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
        session
            .insert_item_versions(
                &access.plan.organisation,
                access.plan.id,
                self.revision,
                &changed,
            )
            .await?;
        session
            .insert_revision(&change, self.revision, Vec::new(), now)
            .await?;
        session.load_plan(access.plan.id).await
    }
}

fn revision_of<'a>(
    access: &'a PlanAccess,
    who: &'a Principal,
    relations: &'a str,
    changes: &'a [String],
    content: bool,
) -> NewRevision<'a> {
    NewRevision {
        organisation: &access.plan.organisation,
        plan: access.plan.id,
        author: who.subject.as_stored(),
        author_relations: relations,
        changes,
        content,
    }
}
