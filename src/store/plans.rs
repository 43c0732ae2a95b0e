//! Plans, and the one query that loads a plan together with the caller's relations to it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, Visible, blocks, db, scopes, stored};
use crate::auth::{OrgPass, PlanPass};
use crate::domain::coordinator::CoordinatorWish;
use crate::domain::date::Date;
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::language::{InterpreterNeed, LanguageTag};
use crate::domain::member::{MemberRole, RepresentativeBasis};
use crate::domain::organisation::OrgRole;
use crate::domain::page::Page;
use crate::domain::plan::{
    Consent, Contact, NewPlan, OnBehalf, PatientSections, Plan, PlanKind, PlanStatus, Section,
    Signature,
};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

// A plan's columns, with the consent in force joined as `c`.
macro_rules! plan_select {
    () => {
        "SELECT p.id, p.organisation_id, p.patient_id, p.patient_display_name, \
         p.kind, p.status, p.status_reason, p.revision, p.version, p.content_revision, \
         p.important_to_me, p.resources_and_strengths, p.what_works_now, p.what_i_need, \
         p.first_priority, p.thoughts_on_illness, p.admission_agreement, p.contacts, \
         p.next_review_date, p.signed_revision, p.sign_time, p.signed_by, \
         p.wish_display_name, p.wish_organisation, p.wish_note, p.wish_time, p.referral_id, \
         p.create_time, p.update_time, p.preferred_language, p.interpreter_language, \
         c.recipients AS consent_recipients, c.on_behalf_given_by, c.on_behalf_reason, \
         c.recorded_by AS consent_recorded_by, c.give_time AS consent_give_time, \
         o.name AS organisation_name"
    };
}

macro_rules! plan_from {
    () => {
        " FROM plans p LEFT JOIN consents c ON c.plan_id = p.id AND c.withdraw_time IS NULL \
         LEFT JOIN organisations o ON o.organisation_id = p.organisation_id "
    };
}

/// The membership `m` of plan `p` is for an organisation the plan may be shared with: a
/// citizen's (''), the plan's own, or one the consent in force names.
const WITHIN_CONSENT: &str = "(m.acting_organisation = '' OR m.acting_organisation = p.organisation_id \
     OR EXISTS (SELECT 1 FROM consent_recipients cr WHERE cr.plan_id = p.id \
     AND cr.recipient = m.acting_organisation))";

/// Appends the conditions of a membership `m` that counts now: the caller's, acting for the
/// organisation they act for, begun and not ended at `now`.
fn serving(statement: Statement, who: &Principal, now: Instant) -> Statement {
    statement
        .sql("m.subject = ")
        .subject(who)
        .sql(" AND m.acting_organisation = ")
        .acting(who)
        .sql(" AND m.start_time <= ")
        .bind(now.0)
        .sql(" AND (m.end_time IS NULL OR m.end_time > ")
        .bind(now.0)
        .sql(")")
}

/// Appends `EXISTS (…)`: the caller serves on plan `p` now, for an organisation the plan may be
/// shared with; `narrow` adds conditions on the membership `m`.
fn active_membership(
    statement: Statement,
    who: &Principal,
    now: Instant,
    narrow: impl FnOnce(Statement) -> Statement,
) -> Statement {
    let exists = statement.sql("EXISTS (SELECT 1 FROM members m WHERE m.plan_id = p.id AND ");
    narrow(serving(exists, who, now)).sql(" AND ").sql(WITHIN_CONSENT).sql(")")
}

/// Appends the condition of a membership `m` as representative whose powers last at `now`.
fn represents(statement: Statement, now: Instant) -> Statement {
    statement
        .sql("m.role = ")
        .bind(MemberRole::Representative.as_str())
        .sql(" AND (m.powers_end_time IS NULL OR m.powers_end_time > ")
        .bind(now.0)
        .sql(")")
}

/// Appends `, CAST(CASE WHEN <condition> THEN 1 ELSE 0 END AS BIGINT) AS <name>`.
fn flag(
    statement: Statement,
    name: &str,
    condition: impl FnOnce(Statement) -> Statement,
) -> Statement {
    let when = statement.sql(", CAST(CASE WHEN ");
    condition(when).sql(&format!(" THEN 1 ELSE 0 END AS BIGINT) AS {name}"))
}

/// A plan's columns and the caller's relations to it, for one plan or a list of them, up to and
/// including the `FROM` clause.
fn access_select(statement: Statement, who: &Principal, now: Instant) -> Statement {
    let role = |role: MemberRole| move |m: Statement| m.sql(" AND m.role = ").bind(role.as_str());
    let statement = statement.sql(plan_select!());
    let statement = flag(statement, "is_owner", |s| s.sql("p.patient_id = ").national_id(who));
    // A membership a lapsed scope keeps out is no membership (`scopes::not_lapsed`).
    let statement = flag(statement, "is_member", |s| {
        active_membership(s, who, now, |m| scopes::not_lapsed(m.sql(" AND "), now))
    });
    let statement = flag(statement, "is_coordinator", |s| {
        active_membership(s, who, now, role(MemberRole::Coordinator))
    });
    let statement = flag(statement, "is_representative", |s| {
        active_membership(s, who, now, |m| represents(m.sql(" AND "), now))
    });
    let statement = flag(statement, "is_attorney", |s| {
        active_membership(s, who, now, |m| {
            role(MemberRole::Representative)(m)
                .sql(" AND m.basis = ")
                .bind(RepresentativeBasis::PowerOfAttorney.as_str())
        })
    });
    let statement = flag(statement, "is_blocked", |s| blocks::keeps_out(s, who));
    scopes::scopes_column(statement, who)
        .sql(", (SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1) AS grants_epoch")
        .sql(plan_from!())
}

/// A plan with the caller's relations to it, as one query found them.
#[derive(Debug)]
pub struct PlanAccessRow {
    /// The plan.
    pub plan: Plan,
    /// The caller is the patient.
    pub owner: bool,
    /// The caller serves on the plan's group now, for the organisation they act for.
    pub member: bool,
    /// The caller is the plan's coordinator now.
    pub coordinator: bool,
    /// The caller is the patient's representative on the plan now.
    pub representative: bool,
    /// The caller represents the patient by a power of attorney the patient gave.
    pub attorney: bool,
    /// A block the patient placed keeps the caller out, whatever else they hold.
    pub blocked: bool,
    /// What the scopes on the caller, their own and their organisation's, give them to see of
    /// the plan through their membership; `None` when no scope names them.
    pub scope: Option<crate::domain::scope::Parts>,
    /// The role grants' epoch at the time of the query, to keep the policy fresh.
    pub grants_epoch: i64,
}

/// Which relations and organisation roles let a caller see an item in a list: the policy
/// decides, the SQL filters on it.
#[derive(Debug, Default)]
pub struct ReadFilter {
    /// Relations that grant read.
    pub relations: Vec<Relation>,
    /// Roles that grant read, in the organisation the caller acts for.
    pub org_roles: Vec<OrgRole>,
}

/// Which plans a list returns, besides what the caller may read.
#[derive(Debug, Default)]
pub struct PlanListFilter {
    /// Only plans in one of these statuses; empty for all.
    pub statuses: Vec<PlanStatus>,
    /// Only plans whose review date is before this date.
    pub review_before: Option<Date>,
    /// Only plans whose patient needs an interpreter.
    pub interpreter_needed: bool,
}

impl PlanListFilter {
    /// Appends the filter's conditions on `p`.
    fn conditions(&self, mut statement: Statement) -> Statement {
        if self.interpreter_needed {
            statement = statement.sql(" AND p.interpreter_language <> ''");
        }
        if !self.statuses.is_empty() {
            let statuses = self.statuses.iter().map(|s| s.as_str());
            statement = statement.sql(" AND p.status IN ").list(statuses);
        }
        if let Some(date) = self.review_before {
            statement = statement
                .sql(" AND p.next_review_date IS NOT NULL AND p.next_review_date < ")
                .bind(date.to_string());
        }
        statement
    }
}

impl ReadFilter {
    /// Whether `relation` grants read.
    pub fn grants(&self, relation: Relation) -> bool {
        self.relations.contains(&relation)
    }

    /// Appends `EXISTS (…)`: the caller holds one of the roles that grant read in the
    /// organisation they act for, and acts for `column`'s organisation.
    pub(super) fn held_in(&self, statement: Statement, column: &str, who: &Principal) -> Statement {
        statement
            .sql(&format!(" AND {column} = "))
            .acting(who)
            .sql(" AND EXISTS (SELECT 1 FROM role_grants g WHERE g.organisation_id = ")
            .acting(who)
            .sql(" AND g.subject = ")
            .subject(who)
            .sql(" AND g.role IN ")
            .list(self.org_roles.iter().map(|r| r.as_str()))
            .sql(")")
    }
}

const PLAN_QUERY: &str = concat!(plan_select!(), plan_from!(), "WHERE p.id = $1");

impl Session {
    /// Stores a new plan at revision 0: the change that creates it makes revision 1. `_pass`
    /// is the proof that the caller may create plans: through the plan's organisation
    /// (CreatePlan), or through the health trust that refers the patient (CreateReferral).
    #[tracing::instrument(skip_all)]
    pub async fn insert_plan(
        &mut self,
        _pass: &OrgPass,
        new: &NewPlan,
        created_by: &Subject,
        now: Instant,
    ) -> Result<Plan> {
        let id = ResourceId::generate();
        sqlx::query(
            "INSERT INTO plans (id, organisation_id, patient_id, patient_display_name, kind, \
             status, revision, content_revision, create_time, update_time, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(new.organisation.as_str())
        .bind(new.patient.expose())
        .bind(new.patient_display_name.as_str())
        .bind(new.kind.as_str())
        .bind(PlanStatus::Requested.as_str())
        .bind(now.0)
        .bind(now.0)
        .bind(created_by.as_stored())
        .run(self)
        .await?;
        self.load_plan(id).await
    }

    /// Loads the plan `pass` is for as it is now in this session.
    #[tracing::instrument(skip_all)]
    pub async fn reload_plan(&mut self, pass: &PlanPass) -> Result<Plan> {
        self.load_plan(pass.id()).await
    }

    /// Loads a plan without a pass: for `PlanPass::operator_for` (the command line, which acts
    /// with the database's own authority) and for the store's own reads of a plan it has just
    /// written or holds a pass to.
    pub(crate) async fn load_plan(&mut self, plan: ResourceId) -> Result<Plan> {
        let row = sqlx::query(PLAN_QUERY).bind(plan.to_string()).optional(self).await?;
        row.as_ref().map(plan_from_row).transpose()?.ok_or(Error::NotFound("plan"))
    }

    /// Writes the plan's own fields (everything but consent, identity, kind and organisation)
    /// if its version is still `expected_version`; `ABORTED` if someone changed it first.
    #[tracing::instrument(skip_all)]
    pub async fn save_plan(
        &mut self,
        pass: &PlanPass,
        plan: &Plan,
        expected_version: i64,
        now: Instant,
    ) -> Result<()> {
        pass.covers(plan.id)?;
        let sections = &plan.sections;
        let contacts = serde_json::to_string(&plan.contacts).map_err(Error::internal)?;
        let signature = plan.signature.as_ref();
        let wish = plan.coordinator_wish.as_ref();
        let updated = sqlx::query(
            // The long texts keep their stored value when unchanged, so PostgreSQL keeps their
            // TOAST storage instead of writing it again with every change to the plan.
            "UPDATE plans SET patient_display_name = $1, status = $2, status_reason = $3, \
             important_to_me = CASE WHEN important_to_me = $4 THEN important_to_me ELSE $4 END, \
             resources_and_strengths = CASE WHEN resources_and_strengths = $5 \
             THEN resources_and_strengths ELSE $5 END, \
             what_works_now = CASE WHEN what_works_now = $6 THEN what_works_now ELSE $6 END, \
             what_i_need = CASE WHEN what_i_need = $7 THEN what_i_need ELSE $7 END, \
             first_priority = CASE WHEN first_priority = $8 THEN first_priority ELSE $8 END, \
             thoughts_on_illness = CASE WHEN thoughts_on_illness = $9 \
             THEN thoughts_on_illness ELSE $9 END, \
             admission_agreement = CASE WHEN admission_agreement = $10 \
             THEN admission_agreement ELSE $10 END, \
             contacts = CASE WHEN contacts = $11 THEN contacts ELSE $11 END, next_review_date = $12, \
             signed_revision = $13, sign_time = $14, signed_by = $15, update_time = $16, \
             wish_display_name = $17, wish_organisation = $18, wish_note = $19, wish_time = $20, \
             referral_id = $21, preferred_language = $22, interpreter_language = $23, \
             version = version + 1 WHERE id = $24 AND version = $25",
        )
        .bind(plan.patient_display_name.as_str())
        .bind(plan.status.as_str())
        .bind(plan.status_reason.as_str())
        .bind(sections.get(Section::ImportantToMe))
        .bind(sections.get(Section::ResourcesAndStrengths))
        .bind(sections.get(Section::WhatWorksNow))
        .bind(sections.get(Section::WhatINeed))
        .bind(sections.get(Section::FirstPriority))
        .bind(sections.get(Section::ThoughtsOnIllness))
        .bind(sections.get(Section::AdmissionAgreement))
        .bind(contacts)
        .bind(plan.next_review_date.map(|d| d.to_string()))
        .bind(signature.map(|s| s.revision))
        .bind(signature.map(|s| s.sign_time.0))
        .bind(signature.map(|s| s.signed_by.as_str()))
        .bind(now.0)
        .bind(wish.map(|w| w.display_name.clone()))
        .bind(wish.map(|w| {
            w.organisation
                .as_ref()
                .map_or("", OrgNumber::as_str)
                .to_owned()
        }))
        .bind(wish.map(|w| w.note.clone()))
        .bind(wish.map(|w| w.time.0))
        .bind(plan.referral.map(|r| r.to_string()))
        .bind(plan.preferred_language.as_ref().map_or("", LanguageTag::as_str).to_owned())
        .bind(plan.interpreter.as_ref().map_or("", |i| i.language.as_str()).to_owned())
        .bind(plan.id.to_string())
        .bind(expected_version)
        .run(self).await?;
        if updated != 1 {
            return Err(stale_plan());
        }
        Ok(())
    }

    /// Loads a plan and the caller's relations to it in one query; `None` when absent.
    #[tracing::instrument(skip_all)]
    pub async fn plan_access(
        &mut self,
        plan: ResourceId,
        who: &Principal,
        now: Instant,
    ) -> Result<Option<PlanAccessRow>> {
        let mut statement =
            access_select(Statement::new(""), who, now).sql("WHERE p.id = ").bind(plan.to_string());
        if self.locks_rows() {
            // The plan's row stays locked until the write transaction ends (PostgreSQL).
            statement = statement.sql(" FOR UPDATE OF p");
        }
        let row = statement.optional(self).await?;
        row.as_ref().map(access_from_row).transpose()
    }

    /// Lists the plans `filter` lets the caller see and `list` selects, with the caller's
    /// relations to each, after the page's position; one more than the page size so the caller
    /// knows whether another page follows.
    #[tracing::instrument(skip_all)]
    pub async fn list_plans(
        &mut self,
        filter: &ReadFilter,
        list: &PlanListFilter,
        who: &Principal,
        page: Page,
        now: Instant,
    ) -> Result<Vec<PlanAccessRow>> {
        let after = page.after.map(|id| id.to_string()).unwrap_or_default();
        let limit = page.limit();
        // Each branch leaves out the plans a block keeps the caller out of, before its page
        // is cut, so a page is never short of what follows.
        let page_of = |statement: Statement, id: &str| {
            let statement = blocks::keeps_out(statement.sql(" AND NOT "), who);
            let statement =
                list.conditions(statement.sql(&format!(" AND {id} > ")).bind(after.clone()));
            statement.sql(&format!(" ORDER BY {id} LIMIT ")).bind(limit)
        };
        // One branch per source of visibility, each walking its own index in id order and
        // stopping after a page: the cost follows the page, not the number of plans.
        let visible = visible_plans(filter, who, now, page_of);
        let Some(visible) = visible else {
            return Ok(Vec::new());
        };
        let statement = access_select(visible, who, now)
            .sql("WHERE p.id IN (SELECT id FROM visible) ORDER BY p.id LIMIT ")
            .bind(limit);
        let rows = statement.all(self).await?;
        rows.iter().map(access_from_row).collect()
    }
}

/// The plans `filter` lets the caller read, as a `WITH visible(id)` clause (`Visible`): one
/// branch per source of visibility (owning the plan, serving on its group within consent and
/// an unlapsed scope, a role in its organisation), each ended by `finish` (given the branch and
/// its plan id column), which must leave out the plans a block keeps the caller out of. `None`
/// when the policy lets the caller read no plan.
pub(crate) fn visible_plans(
    filter: &ReadFilter,
    who: &Principal,
    now: Instant,
    finish: impl Fn(Statement, &str) -> Statement,
) -> Option<Statement> {
    let mut visible = Visible::new();
    if filter.grants(Relation::Owner) && who.national_id.is_some() {
        visible = visible.branch(|s| {
            let owned = s.sql("SELECT p.id AS id FROM plans p WHERE p.patient_id = ");
            finish(owned.national_id(who), "p.id")
        });
    }
    // Coordinators and representatives are members: the member branch covers them all when
    // members may read; otherwise it narrows to the roles that may.
    let coordinators = filter.grants(Relation::Coordinator);
    let representatives = filter.grants(Relation::Representative);
    if filter.grants(Relation::Member) || coordinators || representatives {
        visible = visible.branch(|s| {
            let member = s.sql(
                "SELECT m.plan_id AS id FROM members m JOIN plans p ON p.id = m.plan_id WHERE ",
            );
            let member = serving(member, who, now).sql(" AND ").sql(WITHIN_CONSENT);
            let mut member = scopes::not_lapsed(member.sql(" AND "), now);
            if !filter.grants(Relation::Member) {
                member = member.sql(" AND (");
                if coordinators {
                    member = member.sql("m.role = ").bind(MemberRole::Coordinator.as_str());
                }
                if representatives {
                    let or = if coordinators { " OR (" } else { "(" };
                    member = represents(member.sql(or), now).sql(")");
                }
                member = member.sql(")");
            }
            finish(member, "m.plan_id")
        });
    }
    if !filter.org_roles.is_empty() && who.organisation.is_some() {
        visible = visible.branch(|s| {
            let held = s.sql("SELECT p.id AS id FROM plans p WHERE 1 = 1");
            finish(filter.held_in(held, "p.organisation_id", who), "p.id")
        });
    }
    visible.finish()
}

impl Session {
    /// The plans of `organisation` that are not closed and have no current coordinator, after
    /// the page's position; one more than the page.
    #[tracing::instrument(skip_all)]
    pub async fn plans_without_coordinator(
        &mut self,
        org: &OrgPass,
        who: &Principal,
        list: &PlanListFilter,
        page: Page,
    ) -> Result<Vec<Plan>> {
        let statement = Statement::new(concat!(plan_select!(), plan_from!()))
            .sql("WHERE p.organisation_id = ")
            .bind(org.organisation().as_str().to_owned())
            .sql(" AND p.status <> ")
            .bind(PlanStatus::Closed.as_str())
            // A coordinator the patient blocked coordinates no more: the plan needs another.
            .sql(" AND NOT EXISTS (SELECT 1 FROM coordinator_assignments a WHERE a.plan_id = p.id ")
            .sql("AND a.end_time IS NULL AND NOT ");
        let statement =
            blocks::keeps_out_row(statement, "p.id", "a.subject", "a.acting_organisation").sql(")");
        let statement = blocks::keeps_out(statement.sql(" AND NOT "), who);
        let statement = list.conditions(statement).page("p.", Some(page));
        statement.all(self).await?.iter().map(plan_from_row).collect()
    }
}

fn stale_plan() -> Error {
    Error::Aborted("the plan changed since it was read: read it again".into())
}

/// Checks a caller's etag against the plan's version before anything is written.
pub fn check_plan_version(plan: &Plan, expected: i64) -> Result<()> {
    if plan.version == expected { Ok(()) } else { Err(stale_plan()) }
}

fn access_from_row(row: &AnyRow) -> Result<PlanAccessRow> {
    let flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v == 1).map_err(db);
    Ok(PlanAccessRow {
        plan: plan_from_row(row)?,
        owner: flag("is_owner")?,
        member: flag("is_member")?,
        coordinator: flag("is_coordinator")?,
        representative: flag("is_representative")?,
        attorney: flag("is_attorney")?,
        blocked: flag("is_blocked")?,
        scope: scopes::unpack(row.try_get("scopes").map_err(db)?),
        grants_epoch: row.try_get("grants_epoch").map_err(db)?,
    })
}

fn plan_from_row(row: &AnyRow) -> Result<Plan> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional_text = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let optional_int = |name: &str| row.try_get::<Option<i64>, _>(name).map_err(db);
    let id = text("id")?;
    let mut sections = PatientSections::default();
    for &section in Section::ALL {
        sections.set(section, text(section.as_str())?);
    }
    let contacts: Vec<Contact> = stored("contacts", serde_json::from_str(&text("contacts")?).ok())?;
    let next_review_date = optional_text("next_review_date")?
        .map(|d| stored("review date", Date::from_stored(&d)))
        .transpose()?;
    let signature = match (
        optional_int("signed_revision")?,
        optional_int("sign_time")?,
        optional_text("signed_by")?,
    ) {
        (Some(revision), Some(sign_time), Some(by)) => Some(Signature {
            revision,
            sign_time: Instant(sign_time),
            signed_by: stored("signer", Relation::from_stored(&by))?,
        }),
        _ => None,
    };
    let consent = match optional_int("consent_give_time")? {
        Some(give_time) => {
            let recipients = text("consent_recipients")?;
            let recipients = recipients
                .split(',')
                .filter(|r| !r.is_empty())
                .map(|r| stored("recipient", OrgNumber::parse("", r).ok()))
                .collect::<Result<_, _>>()?;
            let on_behalf = optional_text("on_behalf_given_by")?
                .zip(optional_text("on_behalf_reason")?)
                .map(|(given_by, reason)| OnBehalf { given_by, reason });
            Some(Consent {
                recipients,
                on_behalf,
                give_time: Instant(give_time),
                recorded_by: text("consent_recorded_by")?,
            })
        }
        None => None,
    };
    let coordinator_wish = match optional_int("wish_time")? {
        Some(time) => {
            let organisation = optional_text("wish_organisation")?.unwrap_or_default();
            Some(CoordinatorWish {
                display_name: optional_text("wish_display_name")?.unwrap_or_default(),
                organisation: if organisation.is_empty() {
                    None
                } else {
                    Some(stored("wish organisation", OrgNumber::parse("", &organisation).ok())?)
                },
                note: optional_text("wish_note")?.unwrap_or_default(),
                time: Instant(time),
            })
        }
        None => None,
    };
    let referral = optional_text("referral_id")?
        .map(|r| stored("referral id", ResourceId::parse(&r)))
        .transpose()?;
    let language = |name: &str| -> Result<Option<LanguageTag>> {
        let tag = text(name)?;
        (!tag.is_empty()).then(|| stored("language", LanguageTag::from_stored(&tag))).transpose()
    };
    Ok(Plan {
        preferred_language: language("preferred_language")?,
        interpreter: language("interpreter_language")?.map(|language| InterpreterNeed { language }),
        id: stored("plan id", ResourceId::parse(&id))?,
        organisation: stored("organisation", OrgNumber::parse("", &text("organisation_id")?).ok())?,
        patient: stored("patient id", NationalId::parse("", &text("patient_id")?).ok())?,
        patient_display_name: text("patient_display_name")?,
        organisation_name: optional_text("organisation_name")?.unwrap_or_default(),
        kind: stored("plan kind", PlanKind::from_stored(&text("kind")?))?,
        status: stored("plan status", PlanStatus::from_stored(&text("status")?))?,
        status_reason: text("status_reason")?,
        revision: row.try_get("revision").map_err(db)?,
        version: row.try_get("version").map_err(db)?,
        content_revision: row.try_get("content_revision").map_err(db)?,
        sections,
        contacts,
        next_review_date,
        consent,
        signature,
        coordinator_wish,
        referral,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
    })
}

impl Session {
    /// The plan `pass` is for as it is now in this session, with all its goals and measures.
    #[tracing::instrument(skip_all)]
    pub async fn plan_document(
        &mut self,
        pass: &PlanPass,
    ) -> Result<crate::domain::plan::PlanDocument> {
        let plan = self.reload_plan(pass).await?;
        let (goals, measures) = self.plan_content(pass).await?;
        Ok(crate::domain::plan::PlanDocument { plan, goals, measures })
    }
}

impl Session {
    /// The newest plan of `patient` in the organisation `org` is for that is not closed, if
    /// any: where a child coordinator is appointed for a child who has a plan there.
    #[tracing::instrument(skip_all)]
    pub async fn open_plan_of(
        &mut self,
        org: &OrgPass,
        patient: &NationalId,
    ) -> Result<Option<ResourceId>> {
        let row = Statement::new("SELECT p.id FROM plans p WHERE p.organisation_id = ")
            .bind(org.organisation().as_str().to_owned())
            .sql(" AND p.patient_id = ")
            .bind(patient.expose().to_owned())
            .sql(" AND p.status <> ")
            .bind(PlanStatus::Closed.as_str())
            .sql(" ORDER BY p.create_time DESC, p.id DESC LIMIT 1")
            .optional(self)
            .await?;
        let id = row.map(|r| r.try_get::<String, _>("id").map_err(db)).transpose()?;
        id.map(|id| stored("plan id", ResourceId::parse(&id))).transpose()
    }
}
