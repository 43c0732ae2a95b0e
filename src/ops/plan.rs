//! The plan: create, read, list, change its fields and status, consent, signature, history
//! and export.

use super::{ChangeKind, Context, Listed, READ, Shown, distinct, edit_plan};
use crate::auth::{Action, Object, PlanPass};
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::language::{InterpreterNeed, LanguageTag};
use crate::domain::organisation::{OrgKind, OrgRole};
use crate::domain::page::Page;
use crate::domain::plan::{
    ConsentRecord, Contact, NewConsent, NewPlan, Plan, PlanDocument, PlanStatus, Section,
    Signature, section_text,
};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result, Violations};
use crate::snapshot;
use crate::store::{PlanListFilter, RevisionRow, check_plan_version};

/// The fields of a plan an update sets; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PlanPatch {
    /// Sections and their new texts, not yet checked against the plan's kind.
    pub sections: Vec<(Section, String)>,
    /// The new contacts.
    pub contacts: Option<Vec<Contact>>,
    /// The new review date (`Some(None)` clears it).
    pub next_review_date: Option<Option<Date>>,
    /// The patient's new display name.
    pub display_name: Option<String>,
    /// The patient's preferred language (`Some(None)` clears it).
    pub preferred_language: Option<Option<LanguageTag>>,
    /// The patient's need for an interpreter (`Some(None)`: none needed).
    pub interpreter: Option<Option<InterpreterNeed>>,
}

impl PlanPatch {
    /// What the policy must allow for this patch: each field group has its own writers.
    fn wants(&self) -> Vec<(Object, Action)> {
        let mut wants = Vec::new();
        if !self.sections.is_empty() {
            wants.push((Object::PatientSections, Action::Update));
        }
        if self.contacts.is_some() {
            wants.push((Object::Contacts, Action::Update));
        }
        if self.next_review_date.is_some() || self.display_name.is_some() {
            wants.push((Object::Plan, Action::Update));
        }
        if self.preferred_language.is_some() || self.interpreter.is_some() {
            wants.push((Object::Language, Action::Update));
        }
        distinct(wants)
    }

    /// Applies the patch to `plan`, naming every section its kind does not carry.
    fn apply(self, plan: &mut Plan) -> Result<()> {
        let mut v = Violations::default();
        for (section, text) in self.sections {
            let field = format!("plan.sections.{}", section.as_str());
            if let Some(text) = v.check(section_text(&field, section, plan.kind, &text)) {
                plan.sections.set(section, text);
            }
        }
        v.finish()?;
        if let Some(contacts) = self.contacts {
            plan.contacts = contacts;
        }
        if let Some(date) = self.next_review_date {
            plan.next_review_date = date;
        }
        if let Some(name) = self.display_name {
            plan.patient_display_name = name;
        }
        if let Some(language) = self.preferred_language {
            plan.preferred_language = language;
        }
        if let Some(interpreter) = self.interpreter {
            plan.interpreter = interpreter;
        }
        Ok(())
    }
}

/// UpdatePlan, validated.
#[derive(Debug)]
pub struct UpdatePlan {
    /// The plan.
    pub plan: ResourceId,
    /// The etag the caller read.
    pub etag: i64,
    /// The mask's paths, for the history.
    pub paths: Vec<String>,
    /// What changes.
    pub patch: PlanPatch,
}

/// ChangePlanStatus, validated.
#[derive(Debug)]
pub struct ChangeStatus {
    /// The plan.
    pub plan: ResourceId,
    /// The etag the caller read.
    pub etag: i64,
    /// The status to move to.
    pub to: PlanStatus,
    /// Why, for closing and declining; empty otherwise.
    pub reason: String,
}

/// ListPlans, validated: which plans besides what the caller may read.
#[derive(Debug, Default)]
pub struct ListPlans {
    /// Only plans in one of these statuses; empty for all.
    pub statuses: Vec<PlanStatus>,
    /// Only plans whose review date has passed, today in Norway.
    pub review_overdue: bool,
}

/// What a caller asks of a plan's history: the current plan (revision 0) or a past revision.
#[derive(Debug, Clone, Copy)]
pub struct GetPlan {
    /// The plan.
    pub plan: ResourceId,
    /// The revision, or 0 for the plan as it is now.
    pub revision: i64,
}

impl Context {
    /// CreatePlan: unit staff open a plan in their organisation (a municipality or a health
    /// trust of the registry), for another person than themselves.
    pub async fn create_plan(&self, who: &Principal, new: NewPlan) -> Result<Shown<Plan>> {
        self.write(async |s, now| {
            let org = self
                .guard
                .organisation(s, who, &new.organisation, Object::Plan, Action::Create, now)
                .await?;
            who.refuse_own(&Subject::citizen(&new.patient), "opens a plan")?;
            s.organisation_of_kind(
                "plan.organisation",
                &new.organisation,
                &[OrgKind::Municipality, OrgKind::HealthTrust],
            )
            .await?;
            let plan = s.insert_plan(&org, &new, &who.subject, now).await?;
            // The creator acts through their organisation role, not a relation to the plan.
            let pass = self.guard.created_plan(s, &org, plan, Vec::new(), who, now).await?;
            let created = async |_: &mut _, _| Ok(((), vec!["plan created".to_owned()]));
            let (_, pass) = edit_plan(s, &pass, who, ChangeKind::Content, now, created).await?;
            Shown::by(&pass, pass.plan().clone())
        })
        .await
    }

    /// GetPlan: the plan with its goals and measures, now or at a revision of its history;
    /// `NOT_FOUND` for a revision it does not have.
    pub async fn get_plan(&self, who: &Principal, get: GetPlan) -> Result<Shown<PlanDocument>> {
        self.read_plan(who, get.plan, READ, async |s, pass| {
            if get.revision == 0 {
                let (goals, measures) = s.plan_content(pass).await?;
                return Ok(PlanDocument { plan: pass.plan().clone(), goals, measures });
            }
            // A revision whose changes the reader may not see is, to them, absent: its time
            // and the plan's state then would tell of what they may not see.
            if !pass.sight().is_whole() && !s.revision_shown(pass, get.revision).await? {
                return Err(Error::NotFound("revision"));
            }
            snapshot::plan_at(s, pass, get.revision).await?.ok_or(Error::NotFound("revision"))
        })
        .await
    }

    /// ListPlans: the plans the caller may read, filtered in SQL from what the policy grants.
    pub async fn list_plans(
        &self,
        who: &Principal,
        list: ListPlans,
        page: Page,
    ) -> Result<Listed<Shown<Plan>>> {
        let now = Instant::now();
        let review_before = list.review_overdue.then(|| Date::today_in_norway(now));
        let list =
            PlanListFilter { statuses: list.statuses, review_before, interpreter_needed: false };
        self.store
            .read_with(async |s| {
                let filter = self.guard.read_filter(s, Object::Plan).await?;
                let rows = s.list_plans(&filter, &list, who, page, now).await?;
                let listed = Listed::page(rows, page, |row| row.plan.id);
                let passes = self.guard.listed_plans(s, who, listed.items, now).await?;
                Ok(Listed { items: shown_plans(passes)?, next_page_token: listed.next_page_token })
            })
            .await
    }

    /// UpdatePlan: the masked fields, each group by its writers, on an open plan.
    pub async fn update_plan(&self, who: &Principal, update: UpdatePlan) -> Result<Shown<Plan>> {
        let wanted = update.patch.wants();
        let wants = |_: &PlanPass| wanted;
        self.change_plan(
            who,
            update.plan,
            update.etag,
            wants,
            ChangeKind::Content,
            async |_, pass, plan, _| {
                update.patch.apply(plan)?;
                pass.plan().check_open()?;
                Ok(update.paths.iter().map(|p| format!("{p} updated")).collect())
            },
        )
        .await
    }

    /// ChangePlanStatus: one step of the plan's life, by the policy's action for that step.
    pub async fn change_plan_status(
        &self,
        who: &Principal,
        change: ChangeStatus,
    ) -> Result<Shown<Plan>> {
        let wants = |_: &PlanPass| vec![(Object::Plan, transition_action(change.to))];
        self.change_plan(
            who,
            change.plan,
            change.etag,
            wants,
            ChangeKind::Record,
            async |_, pass, plan, _| {
                let from = pass.plan().status;
                pass.plan().check_transition(change.to)?;
                plan.status = change.to;
                plan.status_reason = change.reason;
                Ok(vec![format!(
                    "status changed from {} to {}",
                    from.wire_name(),
                    change.to.wire_name()
                )])
            },
        )
        .await
    }

    /// RecordConsent: the patient's side decides for themselves; the coordinating unit only on
    /// their behalf, and never over a decision the patient made personally.
    pub async fn record_consent(
        &self,
        who: &Principal,
        plan: ResourceId,
        etag: i64,
        consent: ConsentInput,
    ) -> Result<Shown<Plan>> {
        let wants = |pass: &PlanPass| vec![(consent_object(pass), Action::Record)];
        self.change_plan(who, plan, etag, wants, ChangeKind::Record, async |s, pass, _, _| {
            let on_behalf = consent.on_behalf.as_ref();
            let new = NewConsent::parse(
                &consent.recipients,
                on_behalf.map(|(given_by, reason)| (given_by.as_str(), reason.as_str())),
                pass.holds(Relation::Owner),
            )
            .map_err(Error::InvalidArgument)?;
            pass.plan().check_open()?;
            if let Some(latest) = s.latest_consent_decision(pass).await? {
                latest.check_may_change(pass.relations())?;
            }
            s.record_consent(pass, &new, &recorder(pass), &who.subject, Instant::now()).await?;
            Ok(vec![format!(
                "consent recorded for {} organisation(s) besides the plan's own",
                new.recipients.len()
            )])
        })
        .await
    }

    /// ListConsents: every consent decision on the plan, oldest first.
    pub async fn list_consents(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Shown<Listed<ConsentRecord>>> {
        self.read_plan(who, plan, (Object::Consent, Action::Read), async |s, pass| {
            Ok(Listed::page(s.list_consents(pass, page).await?, page, |r| r.id))
        })
        .await
    }

    /// WithdrawConsent: by the same rules as recording one.
    pub async fn withdraw_consent(
        &self,
        who: &Principal,
        plan: ResourceId,
        etag: i64,
        reason: String,
    ) -> Result<Shown<Plan>> {
        let wants = |pass: &PlanPass| vec![(consent_object(pass), Action::Withdraw)];
        self.change_plan(who, plan, etag, wants, ChangeKind::Record, async |s, pass, _, _| {
            if let Some(latest) = s.latest_consent_decision(pass).await? {
                latest.check_may_change(pass.relations())?;
            }
            s.withdraw_consent(pass, &who.subject, &recorder(pass), &reason, Instant::now())
                .await?;
            Ok(vec!["consent withdrawn".to_owned()])
        })
        .await
    }

    /// SignPlan: the patient or their representative signs the revision the signing makes.
    pub async fn sign_plan(
        &self,
        who: &Principal,
        plan: ResourceId,
        etag: i64,
    ) -> Result<Shown<Plan>> {
        let wants = |_: &PlanPass| vec![(Object::Plan, Action::Sign)];
        self.change_plan(
            who,
            plan,
            etag,
            wants,
            ChangeKind::Record,
            async |_, pass, plan, revision| {
                pass.plan().check_open()?;
                let signed_by = if pass.holds(Relation::Owner) {
                    Relation::Owner
                } else {
                    Relation::Representative
                };
                plan.signature = Some(Signature { revision, sign_time: Instant::now(), signed_by });
                Ok(vec![format!("signed by the {}", signed_by.as_str())])
            },
        )
        .await
    }

    /// ListPlanRevisions: the plan's history, oldest first.
    pub async fn list_plan_revisions(
        &self,
        who: &Principal,
        plan: ResourceId,
        page: Page,
    ) -> Result<Shown<Listed<RevisionRow>>> {
        self.read_plan(who, plan, READ, async |s, pass| {
            Ok(Listed::page(s.list_revisions(pass, page).await?, page, |r| r.id))
        })
        .await
    }

    /// ExportPlan: the plan as it is now, as a PDF; returns it and the revision it shows.
    pub async fn export_plan(&self, who: &Principal, plan: ResourceId) -> Result<(Vec<u8>, i64)> {
        let read =
            self.read_plan(who, plan, READ, async |s, pass| super::export::export(s, pass).await);
        let exported = read.await?.value;
        Ok((exported.pdf, exported.revision))
    }

    /// Runs a change to the plan's own fields: authorize `wants`, let `change` validate and
    /// alter a copy of the plan, check the etag, save it if its version still matches, and
    /// record the revision.
    async fn change_plan(
        &self,
        who: &Principal,
        plan: ResourceId,
        etag: i64,
        wants: impl FnOnce(&PlanPass) -> Vec<(Object, Action)> + Clone,
        kind: ChangeKind,
        change: impl AsyncFnOnce(
            &mut crate::store::Session,
            &PlanPass,
            &mut Plan,
            i64,
        ) -> Result<Vec<String>>
        + Clone,
    ) -> Result<Shown<Plan>> {
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &[], now).await?;
            for (object, action) in wants(&pass) {
                self.guard.require(s, &pass, who, object, action, now).await?;
            }
            let (_, pass) = edit_plan(s, &pass, who, kind, now, async |s, revision| {
                let mut updated = pass.plan().clone();
                // The change validates what the caller sent first; a stale etag is told after
                // (the transaction then rolls back whatever the change wrote).
                let changes = change(s, &pass, &mut updated, revision).await?;
                check_plan_version(pass.plan(), etag)?;
                s.save_plan(&pass, &updated, etag, now).await?;
                Ok(((), changes))
            })
            .await?;
            Shown::by(&pass, pass.plan().clone())
        })
        .await
    }
}

/// A consent decision as the caller gave it: the organisations the plan may be shared with
/// (organisation numbers, checked by `NewConsent::parse`), and who answered on the patient's
/// behalf and why.
#[derive(Debug)]
pub struct ConsentInput {
    /// The recipients, as given.
    pub recipients: Vec<String>,
    /// Given by, and the reason, when answered on the patient's behalf.
    pub on_behalf: Option<(String, String)>,
}

/// Each pass's plan, shown as the pass allows.
pub(crate) fn shown_plans(passes: Vec<PlanPass>) -> Result<Vec<Shown<Plan>>> {
    passes.iter().map(|pass| Shown::by(pass, pass.plan().clone())).collect()
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

/// Which consent decision the caller makes: the patient's own, when they are the patient or
/// their representative; otherwise one on the patient's behalf, which the policy gives to the
/// coordinating unit.
fn consent_object(pass: &PlanPass) -> Object {
    if pass.holds(Relation::Owner) || pass.holds(Relation::Representative) {
        Object::Consent
    } else {
        Object::ConsentOnBehalf
    }
}

/// Who decides on consent, as the plan and its history show it: the patient or their
/// representative, or the coordinating unit's staff, on the patient's behalf.
fn recorder(pass: &PlanPass) -> String {
    [Relation::Owner, Relation::Representative]
        .into_iter()
        .find(|r| pass.holds(*r))
        .map_or_else(|| OrgRole::UnitStaff.as_str().to_owned(), |r| r.as_str().to_owned())
}
