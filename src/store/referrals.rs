//! Referrals, and the query that loads one with the caller's relation to it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, ReadFilter, Run, Session, Statement, Visible, blocks, db, stored};
use crate::auth::{OrgPass, PlanPass, ReferralPass};
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::organisation::OrgRole;
use crate::domain::page::Page;
use crate::domain::plan::OnBehalf;
use crate::domain::principal::Principal;
use crate::domain::referral::{Referral, ReferralStatus};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "r.id, r.organisation_id, r.from_organisation, r.requester, r.patient_id, \
     r.patient_display_name, r.patient_goals, r.wants_plan, r.on_behalf_given_by, \
     r.on_behalf_reason, r.status, r.plan_id, r.response, r.create_time, r.response_time";

/// Appends the condition that the caller requested referral `r`, and still acts for the
/// sending health trust and holds the referrer role there: the same rule as a membership, which
/// counts only while its reason does.
fn requested(statement: Statement, who: &Principal) -> Statement {
    statement
        .sql("(r.requester = ")
        .subject(who)
        .sql(" AND r.from_organisation = ")
        .acting(who)
        .sql(" AND EXISTS (SELECT 1 FROM role_grants g WHERE g.organisation_id = r.from_organisation AND g.subject = ")
        .subject(who)
        .sql(" AND g.role = ")
        .bind(OrgRole::Referrer.as_str())
        .sql("))")
}

/// A referral's columns and whether the caller requested it, up to and including `FROM`.
fn referral_select(statement: Statement, who: &Principal, epoch: &str) -> Statement {
    let statement = statement.sql(&format!("SELECT {COLUMNS}, CAST(CASE WHEN "));
    let statement = requested(statement, who).sql(" THEN 1 ELSE 0 END AS BIGINT) AS is_requester");
    let statement = blocks::keeps_out_of(statement.sql(", CAST(CASE WHEN "), who, "r.plan_id");
    statement.sql(&format!(
        " THEN 1 ELSE 0 END AS BIGINT) AS is_blocked, {epoch} AS grants_epoch FROM referrals r "
    ))
}

/// A referral with the caller's relation to it.
#[derive(Debug)]
pub struct ReferralAccessRow {
    /// The referral.
    pub referral: Referral,
    /// The caller sent it.
    pub requester: bool,
    /// A block the patient placed on the referral's plan keeps the caller out.
    pub blocked: bool,
    /// The role grants' epoch, to keep the policy fresh.
    pub grants_epoch: i64,
}

impl Session {
    /// Stores a sent referral; `_pass` is the proof that the caller may send it for the
    /// health trust.
    #[tracing::instrument(skip_all)]
    /// Whether a referral that requested the plan `pass` is for still awaits the
    /// municipality's answer.
    pub async fn referral_pending(&mut self, pass: &PlanPass) -> Result<bool> {
        let row =
            Statement::new("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM referrals WHERE plan_id = ")
                .bind(pass.id().to_string())
                .sql(" AND status = ")
                .bind(ReferralStatus::Sent.as_str())
                .one(self)
                .await?;
        Ok(row.try_get::<i64, _>("n").map_err(db)? > 0)
    }

    pub async fn insert_referral(&mut self, _pass: &OrgPass, r: &Referral) -> Result<()> {
        let goals = serde_json::to_string(&r.patient_goals).map_err(Error::internal)?;
        sqlx::query(
            "INSERT INTO referrals (id, organisation_id, from_organisation, requester, patient_id, \
             patient_display_name, patient_goals, wants_plan, on_behalf_given_by, on_behalf_reason, \
             status, plan_id, response, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '', $13)",
        )
        .bind(r.id.to_string())
        .bind(r.municipality.as_str())
        .bind(r.health_trust.as_str())
        .bind(r.requester.as_str())
        .bind(r.patient.expose())
        .bind(r.patient_display_name.as_str())
        .bind(goals)
        .bind(i64::from(r.wants_plan))
        .bind(r.answered_on_behalf.as_ref().map(|o| o.given_by.clone()))
        .bind(r.answered_on_behalf.as_ref().map(|o| o.reason.clone()))
        .bind(r.status.as_str())
        .bind(r.plan.to_string())
        .bind(r.create_time.0)
        .run(self).await?;
        Ok(())
    }

    /// Loads a referral and whether the caller sent it; `None` when absent.
    #[tracing::instrument(skip_all)]
    pub async fn referral_access(
        &mut self,
        id: ResourceId,
        who: &Principal,
    ) -> Result<Option<ReferralAccessRow>> {
        let epoch = "(SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1)";
        let statement = referral_select(Statement::new(""), who, epoch);
        let row = statement.sql("WHERE r.id = ").bind(id.to_string()).optional(self).await?;
        row.as_ref().map(access_from_row).transpose()
    }

    /// Lists the referrals the caller sent, or may read through `sender_roles` in the health
    /// trust or `receiver_roles` in the municipality they act for; one more than the page.
    #[tracing::instrument(skip_all)]
    pub async fn list_referrals(
        &mut self,
        who: &Principal,
        requester_reads: bool,
        sender_roles: &[OrgRole],
        receiver_roles: &[OrgRole],
        page: Page,
    ) -> Result<Vec<ReferralAccessRow>> {
        let after = page.after.map(|id| id.to_string()).unwrap_or_default();
        let limit = page.limit();
        // Each branch leaves out the referrals of plans a block keeps the caller out of.
        let page_of = |statement: Statement| {
            let statement = blocks::keeps_out_of(statement.sql(" AND NOT "), who, "r.plan_id");
            let statement = statement.sql(" AND r.id > ").bind(after.clone());
            statement.sql(" ORDER BY r.id LIMIT ").bind(limit)
        };
        let select = |s: Statement| s.sql("SELECT r.id AS id FROM referrals r WHERE ");
        let mut visible = Visible::new();
        if requester_reads {
            visible = visible.branch(|s| page_of(requested(select(s), who)));
        }
        for (column, granted) in
            [("r.from_organisation", sender_roles), ("r.organisation_id", receiver_roles)]
        {
            if !granted.is_empty() && who.organisation.is_some() {
                let roles = ReadFilter { relations: Vec::new(), org_roles: granted.to_vec() };
                visible =
                    visible.branch(|s| page_of(roles.held_in(select(s).sql("1 = 1"), column, who)));
            }
        }
        let Some(visible) = visible.finish() else {
            return Ok(Vec::new());
        };
        let statement = referral_select(visible, who, "CAST(0 AS BIGINT)")
            .sql("WHERE r.id IN (SELECT id FROM visible) ORDER BY r.id LIMIT ")
            .bind(limit);
        let rows = statement.all(self).await?;
        rows.iter().map(access_from_row).collect()
    }

    /// Records the municipality's answer, if the referral is still sent; `FAILED_PRECONDITION`
    /// naming its status otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn answer_referral(
        &mut self,
        pass: &ReferralPass,
        status: ReferralStatus,
        response: &str,
        by: &str,
        now: Instant,
    ) -> Result<()> {
        let referral = pass.referral();
        let updated = sqlx::query(
            "UPDATE referrals SET status = $1, response = $2, responded_by = $3, \
             response_time = $4 WHERE id = $5 AND status = $6",
        )
        .bind(status.as_str())
        .bind(response)
        .bind(by)
        .bind(now.0)
        .bind(referral.id.to_string())
        .bind(ReferralStatus::Sent.as_str())
        .run(self)
        .await?;
        if updated != 1 {
            return Err(Error::FailedPrecondition(if referral.status == ReferralStatus::Sent {
                "the referral was answered meanwhile: read it again".to_owned()
            } else {
                format!("the referral is {} already", referral.status.as_str())
            }));
        }
        Ok(())
    }
}

fn access_from_row(row: &AnyRow) -> Result<ReferralAccessRow> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let org = |name: &str| -> Result<OrgNumber> {
        stored("organisation", OrgNumber::parse("", &text(name)?).ok())
    };
    let referral = Referral {
        id: stored("referral id", ResourceId::parse(&text("id")?))?,
        municipality: org("organisation_id")?,
        health_trust: org("from_organisation")?,
        requester: text("requester")?,
        patient: stored("patient id", NationalId::parse("", &text("patient_id")?).ok())?,
        patient_display_name: text("patient_display_name")?,
        patient_goals: stored("goals", serde_json::from_str(&text("patient_goals")?).ok())?,
        wants_plan: row.try_get::<i64, _>("wants_plan").map_err(db)? == 1,
        answered_on_behalf: optional("on_behalf_given_by")?
            .zip(optional("on_behalf_reason")?)
            .map(|(given_by, reason)| OnBehalf { given_by, reason }),
        status: stored("referral status", ReferralStatus::from_stored(&text("status")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        response: text("response")?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        response_time: row.try_get::<Option<i64>, _>("response_time").map_err(db)?.map(Instant),
    };
    Ok(ReferralAccessRow {
        referral,
        requester: row.try_get::<i64, _>("is_requester").map_err(db)? == 1,
        blocked: row.try_get::<i64, _>("is_blocked").map_err(db)? == 1,
        grants_epoch: row.try_get("grants_epoch").map_err(db)?,
    })
}
