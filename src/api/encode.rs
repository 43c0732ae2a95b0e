//! The domain on the wire: the plan, its goals and measures as a caller may see them. One
//! place, so the current plan, a past revision and the export agree.

use super::convert::{
    date, etag_of, goal_status_out, measure_status_out, plan_kind_out, plan_status, shown_subject,
    timestamp,
};
use crate::domain::goal::Goal;
use crate::domain::measure::Measure;
use crate::domain::names::{plan_item, plan_resource};
use crate::domain::plan::{Consent, Plan, PlanDocument, Section};
use crate::proto;

/// The plan on the wire; the patient's identity number only when `show_identity`.
pub fn encode_plan(plan: &Plan, show_identity: bool) -> proto::Plan {
    let s = &plan.sections;
    proto::Plan {
        name: plan_resource(plan.id),
        organisation: plan.organisation.to_string(),
        patient_id: if show_identity { plan.patient.expose().to_owned() } else { String::new() },
        patient_display_name: plan.patient_display_name.clone(),
        kind: plan_kind_out(plan.kind) as i32,
        status: plan_status(plan.status) as i32,
        create_time: Some(timestamp(plan.create_time)),
        update_time: Some(timestamp(plan.update_time)),
        etag: match plan.version {
            Plan::VERSION_WITHHELD => String::new(),
            version => etag_of(version),
        },
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
        coordinator_wish: plan.coordinator_wish.as_ref().map(|w| proto::CoordinatorWish {
            display_name: w.display_name.clone(),
            organisation: w.organisation.as_ref().map(ToString::to_string).unwrap_or_default(),
            note: w.note.clone(),
            record_time: Some(timestamp(w.time)),
        }),
        referral: plan.referral.map(|r| format!("referrals/{r}")).unwrap_or_default(),
        organisation_display_name: plan.organisation_name.clone(),
        preferred_language: plan
            .preferred_language
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        interpreter: plan
            .interpreter
            .as_ref()
            .map(|i| proto::InterpreterNeed { needed: true, language: i.language.to_string() }),
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
                new_status: a.new_status.map_or(proto::GoalStatus::Unspecified, goal_status_out)
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

/// A whole plan on the wire: the plan, its goals and measures.
pub fn encode_document(doc: &PlanDocument, show_identity: bool) -> proto::GetPlanResponse {
    proto::GetPlanResponse {
        plan: Some(encode_plan(&doc.plan, show_identity)),
        goals: doc.goals.iter().map(|g| encode_goal(g, show_identity)).collect(),
        measures: doc.measures.iter().map(|m| encode_measure(m, show_identity)).collect(),
    }
}
