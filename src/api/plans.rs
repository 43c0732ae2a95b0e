//! `samvirke.v1.PlanService`.

use tonic::Request;

use super::convert::{
    masked, name_at, optional_date, plan_kind, plan_page, plan_status_in, section_of,
    shown_subject, timestamp,
};
use super::encode::{encode_consent, encode_document, encode_plan};
use super::{Rpc, reply, take};
use crate::domain::error::at_most;
use crate::domain::goal::reason;
use crate::domain::ids::ResourceId;
use crate::domain::language::{InterpreterNeed, LanguageTag};
use crate::domain::names::{plan_item, plan_name};
use crate::domain::page::{Page, Scope};
use crate::domain::plan::{
    Contact, MAX_CONTACTS, NewPlan, Plan, PlanStatus, Section, display_text,
};
use crate::domain::text::{Optional, Required};
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::plan::{ChangeStatus, ConsentInput, GetPlan, ListPlans, PlanPatch, UpdatePlan};
use crate::ops::{Context, Shown};
use crate::proto::plan_service_server::PlanService;
use crate::proto::{self, *};

/// The plan service.
pub struct PlanApi(pub Context);

/// The field groups of a plan an update mask may name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PlanField {
    Sections,
    Section(Section),
    Contacts,
    NextReviewDate,
    DisplayName,
    PreferredLanguage,
    Interpreter,
}

const UPDATABLE: &[(&str, PlanField)] = &[
    ("sections", PlanField::Sections),
    ("sections.important_to_me", PlanField::Section(Section::ImportantToMe)),
    ("sections.resources_and_strengths", PlanField::Section(Section::ResourcesAndStrengths)),
    ("sections.what_works_now", PlanField::Section(Section::WhatWorksNow)),
    ("sections.what_i_need", PlanField::Section(Section::WhatINeed)),
    ("sections.first_priority", PlanField::Section(Section::FirstPriority)),
    ("sections.thoughts_on_illness", PlanField::Section(Section::ThoughtsOnIllness)),
    ("sections.admission_agreement", PlanField::Section(Section::AdmissionAgreement)),
    ("contacts", PlanField::Contacts),
    ("next_review_date", PlanField::NextReviewDate),
    ("patient_display_name", PlanField::DisplayName),
    ("preferred_language", PlanField::PreferredLanguage),
    ("interpreter", PlanField::Interpreter),
];

const FIXED: &[&str] = &[
    "name",
    "organisation",
    "patient_id",
    "kind",
    "status",
    "create_time",
    "update_time",
    "etag",
    "consent",
    "signature",
    "status_reason",
    "revision",
];

impl TryFrom<proto::UpdatePlanRequest> for UpdatePlan {
    type Error = Error;

    /// Validates the mask and every masked field at once; the sections are checked against the
    /// plan's kind once it is loaded.
    fn try_from(req: proto::UpdatePlanRequest) -> Result<Self, Error> {
        let input = req.plan.ok_or_else(|| Error::invalid("plan", "must be set"))?;
        let mut v = Violations::default();
        let at = (&input.name[..], &input.etag[..]);
        let m = masked(&mut v, ("plan", plan_name), at, req.update_mask, (UPDATABLE, FIXED));
        let mut patch = PlanPatch::default();
        let sections = input.sections.clone().unwrap_or_default();
        for (_, field) in &m.fields {
            match *field {
                PlanField::Sections => {
                    for &section in Section::ALL {
                        let text = section_of(&sections, section).to_owned();
                        patch.sections.push((section, text));
                    }
                }
                PlanField::Section(section) => {
                    let text = section_of(&sections, section).to_owned();
                    patch.sections.push((section, text));
                }
                PlanField::Contacts => {
                    let given = v
                        .check(at_most("plan.contacts", &input.contacts, MAX_CONTACTS))
                        .unwrap_or_default();
                    let contacts = given.iter().enumerate().filter_map(|(i, c)| {
                        let field = format!("plan.contacts[{i}]");
                        let c = (&c.name, &c.role, &c.organisation, &c.phone, &c.note);
                        v.check_all(Contact::parse(&field, c.0, c.1, c.2, c.3, c.4))
                    });
                    patch.contacts = Some(contacts.collect());
                }
                PlanField::NextReviewDate => {
                    let field = "plan.next_review_date";
                    patch.next_review_date = v.check(optional_date(field, input.next_review_date));
                }
                PlanField::DisplayName => {
                    let field = "plan.patient_display_name";
                    patch.display_name = v.check(display_text(field, &input.patient_display_name));
                }
                PlanField::PreferredLanguage => {
                    let (field, tag) = ("plan.preferred_language", &input.preferred_language);
                    let tag = (!tag.is_empty()).then(|| LanguageTag::parse(field, tag));
                    patch.preferred_language = v.check(tag.transpose());
                }
                PlanField::Interpreter => {
                    let need = input.interpreter.clone().unwrap_or_default();
                    let parsed =
                        InterpreterNeed::parse("plan.interpreter", need.needed, &need.language);
                    patch.interpreter = v.check(parsed);
                }
            }
        }
        let paths = m.paths();
        let (plan, etag) = v.ok(m.at)?;
        Ok(UpdatePlan { plan, etag, paths, patch })
    }
}

impl TryFrom<proto::ChangePlanStatusRequest> for ChangeStatus {
    type Error = Error;

    fn try_from(req: proto::ChangePlanStatusRequest) -> Result<Self, Error> {
        let mut v = Violations::default();
        let at = name_at(&mut v, plan_name, "", (&req.name, &req.etag));
        let to = v.check(plan_status_in(req.status).ok_or_else(|| {
            FieldViolation::new(
                "status",
                "must be a plan status other than PLAN_STATUS_UNSPECIFIED",
            )
        }));
        let needs_reason = matches!(to, Some(PlanStatus::Closed | PlanStatus::Declined));
        let why =
            v.check(reason("reason", &req.reason, if needs_reason { Required } else { Optional }));
        let (((plan, etag), to), why) = v.ok(at.zip(to).zip(why))?;
        Ok(ChangeStatus { plan, etag, to, reason: if needs_reason { why } else { String::new() } })
    }
}

/// A plan name and etag, as the requests that change a plan as a whole give them.
fn plan_at_etag(name: &str, etag: &str) -> Result<(ResourceId, i64), Error> {
    let mut v = Violations::default();
    let at = name_at(&mut v, plan_name, "", (name, etag));
    v.ok(at)
}

/// A plan as the caller may see it.
fn shown(plan: &Shown<Plan>) -> Option<proto::Plan> {
    Some(encode_plan(&plan.value, plan.identities))
}

/// The query a ListPlans page belongs to: its statuses (as a set) and whether only overdue
/// reviews.
fn list_scope(req: &proto::ListPlansRequest) -> Scope {
    let mut statuses: Vec<i32> =
        req.statuses.iter().take(PlanStatus::ALL.len() + 1).copied().collect();
    statuses.sort_unstable();
    statuses.dedup();
    Scope::of(
        "ListPlans",
        "",
        &format!("statuses={statuses:?};review_overdue={}", req.review_overdue),
    )
}

#[tonic::async_trait]
impl PlanService for PlanApi {
    async fn create_plan(&self, r: Request<CreatePlanRequest>) -> Rpc<CreatePlanResponse> {
        let (who, req) = take(r)?;
        let plan = req.plan.ok_or_else(|| Error::invalid("plan", "must be set"))?;
        let kind = plan_kind(plan.kind);
        let new =
            NewPlan::parse(&plan.organisation, &plan.patient_id, &plan.patient_display_name, kind)
                .map_err(|vs| Error::InvalidArgument(vs).under("plan"))?;
        let plan = self.0.create_plan(&who, new).await?;
        reply(proto::CreatePlanResponse { plan: shown(&plan) })
    }

    async fn get_plan(&self, r: Request<GetPlanRequest>) -> Rpc<GetPlanResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("name", &req.name));
        if req.revision < 0 {
            v.push(FieldViolation::new(
                "revision",
                "must be a revision of the plan, or 0 for the current plan",
            ));
        }
        let plan = v.ok(plan)?;
        let revision = req.revision;
        let read = self.0.get_plan(&who, GetPlan { plan, revision }).await?;
        reply(encode_document(&read.value, read.identities))
    }

    async fn list_plans(&self, r: Request<ListPlansRequest>) -> Rpc<ListPlansResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, list_scope(&req)));
        let mut statuses = Vec::new();
        let given =
            v.check(at_most("statuses", &req.statuses, PlanStatus::ALL.len())).unwrap_or_default();
        for (i, s) in given.iter().enumerate() {
            match plan_status_in(*s) {
                Some(status) => statuses.push(status),
                None => v.push(FieldViolation::new(
                    format!("statuses[{i}]"),
                    "must be a plan status other than PLAN_STATUS_UNSPECIFIED",
                )),
            }
        }
        let page = v.ok(page)?;
        let list = ListPlans { statuses, review_overdue: req.review_overdue };
        let listed = self.0.list_plans(&who, list, page).await?;
        reply(proto::ListPlansResponse {
            plans: listed.items.iter().filter_map(shown).collect(),
            next_page_token: listed.next_page_token,
        })
    }

    async fn update_plan(&self, r: Request<UpdatePlanRequest>) -> Rpc<UpdatePlanResponse> {
        let (who, req) = take(r)?;
        let update = UpdatePlan::try_from(req)?;
        let plan = self.0.update_plan(&who, update).await?;
        reply(proto::UpdatePlanResponse { plan: shown(&plan) })
    }

    async fn change_plan_status(
        &self,
        r: Request<ChangePlanStatusRequest>,
    ) -> Rpc<ChangePlanStatusResponse> {
        let (who, req) = take(r)?;
        let change = ChangeStatus::try_from(req)?;
        let plan = self.0.change_plan_status(&who, change).await?;
        reply(proto::ChangePlanStatusResponse { plan: shown(&plan) })
    }

    async fn record_consent(&self, r: Request<RecordConsentRequest>) -> Rpc<RecordConsentResponse> {
        let (who, req) = take(r)?;
        let (plan, etag) = plan_at_etag(&req.name, &req.etag)?;
        let consent = req.consent.ok_or_else(|| Error::invalid("consent", "must be set"))?;
        let input = ConsentInput {
            recipients: consent.recipients,
            on_behalf: consent.on_behalf.map(|o| (o.given_by, o.reason)),
        };
        let plan = self.0.record_consent(&who, plan, etag, input).await?;
        reply(proto::RecordConsentResponse { plan: shown(&plan) })
    }

    async fn list_consents(&self, r: Request<ListConsentsRequest>) -> Rpc<ListConsentsResponse> {
        let (who, req) = take(r)?;
        let (plan, page) =
            plan_page("ListConsents", &req.parent, req.page_size, &req.page_token, "")?;
        let listed = self.0.list_consents(&who, plan, page).await?;
        let show = listed.identities;
        reply(proto::ListConsentsResponse {
            consents: listed
                .value
                .items
                .iter()
                .map(|r| proto::Consent {
                    name: plan_item(plan, "consents", r.id),
                    recorder: shown_subject(r.recorder.as_stored(), show),
                    withdraw_time: r.withdraw_time.map(timestamp),
                    withdrawn_by: r.withdrawn_by.clone(),
                    withdrawer: r
                        .withdrawer
                        .as_ref()
                        .map(|s| shown_subject(s.as_stored(), show))
                        .unwrap_or_default(),
                    withdraw_reason: r.withdraw_reason.clone(),
                    ..encode_consent(&r.consent)
                })
                .collect(),
            next_page_token: listed.value.next_page_token,
        })
    }

    async fn withdraw_consent(
        &self,
        r: Request<WithdrawConsentRequest>,
    ) -> Rpc<WithdrawConsentResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let at = name_at(&mut v, plan_name, "", (&req.name, &req.etag));
        let why = v.check(reason("reason", &req.reason, Optional));
        let ((plan, etag), why) = v.ok(at.zip(why))?;
        let plan = self.0.withdraw_consent(&who, plan, etag, why).await?;
        reply(proto::WithdrawConsentResponse { plan: shown(&plan) })
    }

    async fn sign_plan(&self, r: Request<SignPlanRequest>) -> Rpc<SignPlanResponse> {
        let (who, req) = take(r)?;
        let (plan, etag) = plan_at_etag(&req.name, &req.etag)?;
        let plan = self.0.sign_plan(&who, plan, etag).await?;
        reply(proto::SignPlanResponse { plan: shown(&plan) })
    }

    async fn list_plan_revisions(
        &self,
        r: Request<ListPlanRevisionsRequest>,
    ) -> Rpc<ListPlanRevisionsResponse> {
        let (who, req) = take(r)?;
        let rpc = "ListPlanRevisions";
        let (plan, page) = plan_page(rpc, &req.parent, req.page_size, &req.page_token, "")?;
        let listed = self.0.list_plan_revisions(&who, plan, page).await?;
        let show = listed.identities;
        reply(proto::ListPlanRevisionsResponse {
            revisions: listed
                .value
                .items
                .into_iter()
                .map(|r| proto::PlanRevision {
                    revision: r.revision,
                    create_time: Some(timestamp(r.time)),
                    author: shown_subject(&r.author, show),
                    author_relations: r.author_relations,
                    changes: r.changes,
                })
                .collect(),
            next_page_token: listed.value.next_page_token,
        })
    }

    async fn export_plan(&self, r: Request<ExportPlanRequest>) -> Rpc<ExportPlanResponse> {
        let (who, req) = take(r)?;
        let plan = plan_name("name", &req.name)?;
        let (content, revision) = self.0.export_plan(&who, plan).await?;
        reply(proto::ExportPlanResponse {
            content,
            content_type: "application/pdf".into(),
            revision,
        })
    }
}
