//! `samvirke.v1.PlanService`.

use tonic::{Request, Response, Status};

use super::convert::{
    optional_date, plan_item, plan_kind, plan_name, plan_page, plan_status_in, required_etag,
    section_of, shown_subject, timestamp,
};
use super::document::{Change, current, encode_consent, encode_plan, plan_at};
use super::{Context, principal};
use crate::auth::{Action, Object, PlanAccess};
use crate::domain::date::Date;
use crate::domain::error::at_most;
use crate::domain::goal::reason;
use crate::domain::mask;
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::{Page, Scope};
use crate::domain::plan::{
    Contact, MAX_CONTACTS, NewConsent, NewPlan, Plan, PlanStatus, Section, Signature, display_text,
    section_text,
};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::proto::plan_service_server::PlanService;
use crate::store::{PlanListFilter, check_plan_version};

/// The plan service.
pub struct PlanApi(pub Context);

/// The field groups of a plan an update mask may name; each has its writers in the policy.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PlanField {
    Sections,
    Section(Section),
    Contacts,
    NextReviewDate,
    DisplayName,
}

impl PlanField {
    fn policy(self) -> (Object, Action) {
        match self {
            PlanField::Sections | PlanField::Section(_) => {
                (Object::PatientSections, Action::Update)
            }
            PlanField::Contacts => (Object::Contacts, Action::Update),
            PlanField::NextReviewDate | PlanField::DisplayName => (Object::Plan, Action::Update),
        }
    }
}

const UPDATABLE: &[(&str, PlanField)] = &[
    ("sections", PlanField::Sections),
    (
        "sections.important_to_me",
        PlanField::Section(Section::ImportantToMe),
    ),
    (
        "sections.resources_and_strengths",
        PlanField::Section(Section::ResourcesAndStrengths),
    ),
    (
        "sections.what_works_now",
        PlanField::Section(Section::WhatWorksNow),
    ),
    (
        "sections.what_i_need",
        PlanField::Section(Section::WhatINeed),
    ),
    (
        "sections.first_priority",
        PlanField::Section(Section::FirstPriority),
    ),
    (
        "sections.thoughts_on_illness",
        PlanField::Section(Section::ThoughtsOnIllness),
    ),
    (
        "sections.admission_agreement",
        PlanField::Section(Section::AdmissionAgreement),
    ),
    ("contacts", PlanField::Contacts),
    ("next_review_date", PlanField::NextReviewDate),
    ("patient_display_name", PlanField::DisplayName),
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

/// Applies the masked fields of `input` to `plan`, naming every bad value at once.
fn apply_update(
    plan: &mut Plan,
    input: &proto::Plan,
    fields: &[(String, PlanField)],
) -> Result<Vec<String>, Error> {
    let mut v = Violations::default();
    let empty = proto::PatientSections::default();
    let sections = input.sections.as_ref().unwrap_or(&empty);
    let set_section = |v: &mut Violations, plan: &mut Plan, section: Section| {
        let field = format!("plan.sections.{}", section.as_str());
        if let Some(text) = v.check(section_text(
            &field,
            section,
            plan.kind,
            section_of(sections, section),
        )) {
            plan.sections.set(section, text);
        }
    };
    for (_, field) in fields {
        match *field {
            PlanField::Sections => {
                for &section in Section::ALL {
                    set_section(&mut v, plan, section);
                }
            }
            PlanField::Section(section) => set_section(&mut v, plan, section),
            PlanField::Contacts => {
                let given = v
                    .check(at_most("plan.contacts", &input.contacts, MAX_CONTACTS))
                    .unwrap_or_default();
                let contacts: Vec<Contact> = given
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        v.check_all(Contact::parse(
                            &format!("plan.contacts[{i}]"),
                            &c.name,
                            &c.role,
                            &c.organisation,
                            &c.phone,
                            &c.note,
                        ))
                    })
                    .collect();
                plan.contacts = contacts;
            }
            PlanField::NextReviewDate => {
                if let Some(d) = v.check(optional_date(
                    "plan.next_review_date",
                    input.next_review_date,
                )) {
                    plan.next_review_date = d;
                }
            }
            PlanField::DisplayName => {
                if let Some(name) = v.check(display_text(
                    "plan.patient_display_name",
                    &input.patient_display_name,
                )) {
                    plan.patient_display_name = name;
                }
            }
        }
    }
    v.finish()?;
    Ok(fields
        .iter()
        .map(|(path, _)| format!("{path} updated"))
        .collect())
}

/// The query a ListPlans page belongs to: its statuses (as a set) and whether only overdue
/// reviews.
fn list_scope(req: &proto::ListPlansRequest) -> Scope {
    let mut statuses: Vec<i32> = req
        .statuses
        .iter()
        .take(PlanStatus::ALL.len() + 1)
        .copied()
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    Scope::of(
        "ListPlans",
        "",
        &format!(
            "statuses={statuses:?};review_overdue={}",
            req.review_overdue
        ),
    )
}

/// The policy action that moves a plan to `to`.
fn transition_action(to: PlanStatus) -> Action {
    match to {
        PlanStatus::Requested => Action::Reopen,
        PlanStatus::Active => Action::Activate,
        PlanStatus::Declined => Action::Decline,
        PlanStatus::Closed => Action::Close,
    }
}

impl PlanApi {
    /// The plan as `who` may see it.
    fn encode(
        &self,
        access: &PlanAccess,
        plan: &Plan,
        who: &Principal,
    ) -> Result<proto::Plan, Error> {
        let show_identity = self.0.guard.may_see_identities(access, who)?;
        Ok(encode_plan(plan, show_identity))
    }

    /// Runs a change to the plan's own fields: authorize `action` on `object`, check the etag
    /// and that the plan is open, let `change` alter the plan, save it if its version still
    /// matches, and write the revision. Returns the plan as the caller may see it.
    async fn change(
        &self,
        who: &Principal,
        plan: crate::domain::ids::ResourceId,
        expected: i64,
        authorize: impl Fn(&PlanAccess) -> Vec<(Object, Action)>,
        content: bool,
        change: impl AsyncFnOnce(
            &mut crate::store::Session,
            &PlanAccess,
            &mut Plan,
            &Change,
        ) -> Result<Vec<String>, Error>,
    ) -> Result<proto::Plan, Error> {
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(&mut session, who, plan, Object::Plan, Action::Read, now)
                .await?;
            for (object, action) in authorize(&access) {
                self.0
                    .guard
                    .require(&mut session, &access, who, object, action, now)
                    .await?;
            }
            check_plan_version(&access.plan, expected)?;
            let begun = Change::begin(&mut session, &access, who, content, now).await?;
            let mut updated = access.plan.clone();
            let changes = change(&mut session, &access, &mut updated, &begun).await?;
            session.save_plan(&updated, expected, now).await?;
            let saved = begun
                .finish(&mut session, &access, who, &changes, now)
                .await?;
            self.encode(&access, &saved, who)
        }
        .await;
        session.finish(result).await
    }
}

#[tonic::async_trait]
impl PlanService for PlanApi {
    async fn create_plan(
        &self,
        request: Request<proto::CreatePlanRequest>,
    ) -> Result<Response<proto::CreatePlanResponse>, Status> {
        let who = principal(&request)?;
        let plan = request
            .into_inner()
            .plan
            .ok_or_else(|| Error::invalid("plan", "must be set"))?;
        let new = NewPlan::parse(
            &plan.organisation,
            &plan.patient_id,
            &plan.patient_display_name,
            plan_kind(plan.kind),
        )
        .map_err(|vs| Error::InvalidArgument(vs).under("plan"))?;
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            self.0
                .guard
                .organisation(
                    &mut session,
                    &who,
                    &new.organisation,
                    Object::Plan,
                    Action::Create,
                    now,
                )
                .await?;
            who.refuse_own(&Subject::citizen(&new.patient), "opens a plan")?;
            session
                .organisation_of_kind(
                    "plan.organisation",
                    &new.organisation,
                    &[OrgKind::Municipality, OrgKind::HealthTrust],
                )
                .await?;
            let plan = session.insert_plan(&new, &who.subject, now).await?;
            // The creator acts through their organisation role, not a relation to the plan.
            let access = PlanAccess {
                plan,
                relations: Vec::new(),
            };
            let change = Change::begin(&mut session, &access, &who, true, now).await?;
            change
                .finish(&mut session, &access, &who, &["plan created".into()], now)
                .await
        }
        .await;
        let plan = session.finish(result).await?;
        // Creating a plan takes unit staff, whom the policy lets read identities.
        Ok(Response::new(proto::CreatePlanResponse {
            plan: Some(encode_plan(&plan, true)),
        }))
    }

    async fn get_plan(
        &self,
        request: Request<proto::GetPlanRequest>,
    ) -> Result<Response<proto::GetPlanResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        if req.revision < 0 {
            v.push(FieldViolation::new(
                "revision",
                "must be a revision of the plan, or 0 for the current plan",
            ));
        }
        let Some(id) = id else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, id, Object::Plan, Action::Read, now)
            .await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        let response = if req.revision == 0 {
            current(&mut session, id, show).await?
        } else {
            plan_at(&mut session, id, req.revision, show)
                .await?
                .ok_or(Error::NotFound("revision"))?
        };
        Ok(Response::new(response))
    }

    async fn list_plans(
        &self,
        request: Request<proto::ListPlansRequest>,
    ) -> Result<Response<proto::ListPlansResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, list_scope(req)));
        let mut statuses = Vec::new();
        let given = v
            .check(at_most("statuses", &req.statuses, PlanStatus::ALL.len()))
            .unwrap_or_default();
        for (i, s) in given.iter().enumerate() {
            match plan_status_in(*s) {
                Some(status) => statuses.push(status),
                None => v.push(FieldViolation::new(
                    format!("statuses[{i}]"),
                    "must be a plan status other than PLAN_STATUS_UNSPECIFIED",
                )),
            }
        }
        let Some(page) = page else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let now = Instant::now();
        let list = PlanListFilter {
            statuses,
            review_before: req.review_overdue.then(|| Date::today_in_norway(now)),
        };
        let mut session = self.0.store.read().await?;
        let filter = self.0.guard.read_filter(&mut session, Object::Plan).await?;
        let mut rows = session.list_plans(&filter, &list, &who, page, now).await?;
        let next_page_token = page.next_token(&mut rows, |row| row.plan.id);
        let listed: Vec<PlanAccess> = rows.into_iter().map(PlanAccess::from).collect();
        self.0
            .guard
            .record_listed_plans(&mut session, &who, &listed, now)
            .await?;
        let plans = listed
            .iter()
            .map(|access| self.encode(access, &access.plan, &who))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(proto::ListPlansResponse {
            plans,
            next_page_token,
        }))
    }

    async fn update_plan(
        &self,
        request: Request<proto::UpdatePlanRequest>,
    ) -> Result<Response<proto::UpdatePlanResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let input = req
            .plan
            .ok_or_else(|| Error::invalid("plan", "must be set"))?;
        let mut v = Violations::default();
        let id = v.check(plan_name("plan.name", &input.name));
        let expected = v.check(required_etag("plan.etag", &input.etag));
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let fields = v.check_all(mask::resolve(&paths, UPDATABLE, FIXED));
        let (Some(id), Some(expected), Some(fields)) = (id, expected, fields) else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let mut authorize: Vec<(Object, Action)> = Vec::new();
        for (_, field) in &fields {
            if !authorize.contains(&field.policy()) {
                authorize.push(field.policy());
            }
        }
        let content = true;
        let plan = self
            .change(
                &who,
                id,
                expected,
                |_| authorize.clone(),
                content,
                async |_, access, plan, _| {
                    access.plan.check_open()?;
                    apply_update(plan, &input, &fields)
                },
            )
            .await?;
        Ok(Response::new(proto::UpdatePlanResponse {
            plan: Some(plan),
        }))
    }

    async fn change_plan_status(
        &self,
        request: Request<proto::ChangePlanStatusRequest>,
    ) -> Result<Response<proto::ChangePlanStatusResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let to = v.check(plan_status_in(req.status).ok_or_else(|| {
            FieldViolation::new(
                "status",
                "must be a plan status other than PLAN_STATUS_UNSPECIFIED",
            )
        }));
        let needs_reason = matches!(to, Some(PlanStatus::Closed | PlanStatus::Declined));
        let why = v.check(reason("reason", &req.reason, needs_reason));
        let (Some(id), Some(expected), Some(to), Some(why)) = (id, expected, to, why) else {
            return Err(v.into_error().into());
        };
        let plan = self
            .change(
                &who,
                id,
                expected,
                |_| vec![(Object::Plan, transition_action(to))],
                false,
                async |_, access, plan, _| {
                    access.plan.check_transition(to)?;
                    plan.status = to;
                    plan.status_reason = if needs_reason { why } else { String::new() };
                    Ok(vec![format!(
                        "status changed from {} to {}",
                        access.plan.status.wire_name(),
                        to.wire_name()
                    )])
                },
            )
            .await?;
        Ok(Response::new(proto::ChangePlanStatusResponse {
            plan: Some(plan),
        }))
    }

    async fn record_consent(
        &self,
        request: Request<proto::RecordConsentRequest>,
    ) -> Result<Response<proto::RecordConsentResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let consent = req
            .consent
            .ok_or_else(|| Error::invalid("consent", "must be set"))?;
        let (Some(id), Some(expected)) = (id, expected) else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let plan = self
            .change(
                &who,
                id,
                expected,
                |access| vec![(consent_object(access), Action::Record)],
                false,
                async |session, access, _, _| {
                    access.plan.check_open()?;
                    if let Some(latest) = session.latest_consent_decision(access.plan.id).await? {
                        latest.check_may_change(&access.relations)?;
                    }
                    let by_patient = access.relations.contains(&Relation::Owner);
                    let new = NewConsent::parse(
                        &consent.recipients,
                        consent
                            .on_behalf
                            .as_ref()
                            .map(|o| (o.given_by.as_str(), o.reason.as_str())),
                        by_patient,
                    )
                    .map_err(Error::InvalidArgument)?;
                    let recorded_by = recorder(access);
                    session
                        .record_consent(
                            &access.plan,
                            &new,
                            &recorded_by,
                            &who.subject,
                            Instant::now(),
                        )
                        .await?;
                    Ok(vec![format!(
                        "consent recorded for {} organisation(s) besides the plan's own",
                        new.recipients.len()
                    )])
                },
            )
            .await?;
        Ok(Response::new(proto::RecordConsentResponse {
            plan: Some(plan),
        }))
    }

    async fn list_consents(
        &self,
        request: Request<proto::ListConsentsRequest>,
    ) -> Result<Response<proto::ListConsentsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let (plan, page) = plan_page(
            "ListConsents",
            &req.parent,
            req.page_size,
            &req.page_token,
            "",
        )?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Consent, Action::Read, now)
            .await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        let mut records = session.list_consents(plan, page).await?;
        let next_page_token = page.next_token(&mut records, |r| r.id);
        Ok(Response::new(proto::ListConsentsResponse {
            consents: records
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
            next_page_token,
        }))
    }

    async fn withdraw_consent(
        &self,
        request: Request<proto::WithdrawConsentRequest>,
    ) -> Result<Response<proto::WithdrawConsentResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let why = v.check(reason("reason", &req.reason, false));
        let (Some(id), Some(expected), Some(why)) = (id, expected, why) else {
            return Err(v.into_error().into());
        };
        let plan = self
            .change(
                &who,
                id,
                expected,
                |access| vec![(consent_object(access), Action::Withdraw)],
                false,
                async |session, access, _, _| {
                    if let Some(latest) = session.latest_consent_decision(access.plan.id).await? {
                        latest.check_may_change(&access.relations)?;
                    }
                    session
                        .withdraw_consent(
                            access.plan.id,
                            &who.subject,
                            &recorder(access),
                            &why,
                            Instant::now(),
                        )
                        .await?;
                    Ok(vec!["consent withdrawn".to_owned()])
                },
            )
            .await?;
        Ok(Response::new(proto::WithdrawConsentResponse {
            plan: Some(plan),
        }))
    }

    async fn sign_plan(
        &self,
        request: Request<proto::SignPlanRequest>,
    ) -> Result<Response<proto::SignPlanResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check(plan_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let (Some(id), Some(expected)) = (id, expected) else {
            return Err(v.into_error().into());
        };
        let plan = self
            .change(
                &who,
                id,
                expected,
                |_| vec![(Object::Plan, Action::Sign)],
                false,
                async |_, access, plan, change| {
                    access.plan.check_open()?;
                    let signed_by = if access.relations.contains(&Relation::Owner) {
                        Relation::Owner
                    } else {
                        Relation::Representative
                    };
                    plan.signature = Some(Signature {
                        revision: change.revision(),
                        sign_time: Instant::now(),
                        signed_by,
                    });
                    Ok(vec![format!("signed by the {}", signed_by.as_str())])
                },
            )
            .await?;
        Ok(Response::new(proto::SignPlanResponse { plan: Some(plan) }))
    }

    async fn list_plan_revisions(
        &self,
        request: Request<proto::ListPlanRevisionsRequest>,
    ) -> Result<Response<proto::ListPlanRevisionsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let (plan, page) = plan_page(
            "ListPlanRevisions",
            &req.parent,
            req.page_size,
            &req.page_token,
            "",
        )?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
            .await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        let mut rows = session.list_revisions(plan, page).await?;
        let next_page_token = page.next_token(&mut rows, |r| r.id);
        Ok(Response::new(proto::ListPlanRevisionsResponse {
            revisions: rows
                .into_iter()
                .map(|r| proto::PlanRevision {
                    revision: r.revision,
                    create_time: Some(timestamp(r.time)),
                    author: shown_subject(&r.author, show),
                    author_relations: r.author_relations,
                    changes: r.changes,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn export_plan(
        &self,
        request: Request<proto::ExportPlanRequest>,
    ) -> Result<Response<proto::ExportPlanResponse>, Status> {
        let who = principal(&request)?;
        let id = plan_name("name", &request.get_ref().name).map_err(Error::from)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, id, Object::Plan, Action::Read, now)
            .await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        let (content, revision) = super::export::export(&mut session, &access.plan, show).await?;
        Ok(Response::new(proto::ExportPlanResponse {
            content,
            content_type: "application/pdf".into(),
            revision,
        }))
    }
}

/// Which consent decision the caller makes: the patient's own, when they are the patient or
/// their representative; otherwise one on the patient's behalf, which the policy gives to the
/// coordinating unit.
fn consent_object(access: &PlanAccess) -> Object {
    let patients_side = access
        .relations
        .iter()
        .any(|r| matches!(r, Relation::Owner | Relation::Representative));
    if patients_side {
        Object::Consent
    } else {
        Object::ConsentOnBehalf
    }
}

/// Who decides on consent, as the plan and its history show it: the patient or their
/// representative, or the coordinating unit's staff, on the patient's behalf.
fn recorder(access: &PlanAccess) -> String {
    [Relation::Owner, Relation::Representative]
        .into_iter()
        .find(|r| access.relations.contains(r))
        .map_or_else(
            || OrgRole::UnitStaff.as_str().to_owned(),
            |r| r.as_str().to_owned(),
        )
}
