//! Consent: every consent ever recorded, and the recipients of the one in force, which the
//! access query reads to decide whether a member's organisation may see the plan.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, db, stored};
use crate::auth::PlanPass;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::page::Page;
use crate::domain::plan::{Consent, ConsentDecision, ConsentRecord, NewConsent, OnBehalf};
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

impl Session {
    /// Records consent for `plan`, ending any consent in force first: its recipients lose the
    /// plan in the same transaction.
    #[tracing::instrument(skip_all)]
    pub async fn record_consent(
        &mut self,
        pass: &PlanPass,
        consent: &NewConsent,
        recorded_by: &str,
        subject: &Subject,
        now: Instant,
    ) -> Result<()> {
        let plan = pass.plan();
        self.end_consent(plan.id, subject, recorded_by, "replaced by a new consent", now).await?;
        let id = ResourceId::generate().to_string();
        let recipients: Vec<&str> = consent.recipients.iter().map(|r| r.as_str()).collect();
        sqlx::query(
            "INSERT INTO consents (id, organisation_id, plan_id, recipients, on_behalf_given_by, \
             on_behalf_reason, recorded_by, recorded_subject, give_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.clone())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(recipients.join(","))
        .bind(consent.on_behalf.as_ref().map(|o| o.given_by.clone()))
        .bind(consent.on_behalf.as_ref().map(|o| o.reason.clone()))
        .bind(recorded_by)
        .bind(subject.as_stored())
        .bind(now.0)
        .run(self)
        .await?;
        for recipient in &consent.recipients {
            sqlx::query(
                "INSERT INTO consent_recipients (plan_id, recipient, organisation_id, consent_id) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(plan.id.to_string())
            .bind(recipient.as_str())
            .bind(plan.organisation.as_str())
            .bind(id.clone())
            .run(self)
            .await?;
        }
        Ok(())
    }

    /// Withdraws the consent in force, as `subject` holding `relation`; `FAILED_PRECONDITION`
    /// when there is none.
    #[tracing::instrument(skip_all)]
    pub async fn withdraw_consent(
        &mut self,
        pass: &PlanPass,
        subject: &Subject,
        relation: &str,
        reason: &str,
        now: Instant,
    ) -> Result<()> {
        let plan = pass.id();
        if self.end_consent(plan, subject, relation, reason, now).await? {
            Ok(())
        } else {
            Err(Error::FailedPrecondition("the plan has no consent in force".into()))
        }
    }

    /// Ends the consent in force, if any, and removes its recipients; whether there was one.
    async fn end_consent(
        &mut self,
        plan: ResourceId,
        subject: &Subject,
        relation: &str,
        reason: &str,
        now: Instant,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM consent_recipients WHERE plan_id = $1")
            .bind(plan.to_string())
            .run(self)
            .await?;
        let ended = sqlx::query(
            "UPDATE consents SET withdraw_time = $1, withdrawn_subject = $2, withdraw_reason = $3, \
             withdrawn_by = $4 WHERE plan_id = $5 AND withdraw_time IS NULL",
        )
        .bind(now.0)
        .bind(subject.as_stored())
        .bind(reason)
        .bind(relation)
        .bind(plan.to_string())
        .run(self)
        .await?;
        Ok(ended > 0)
    }
}

impl Session {
    /// The latest decision on `plan`'s consent, if any was ever made.
    #[tracing::instrument(skip_all)]
    pub async fn latest_consent_decision(
        &mut self,
        pass: &PlanPass,
    ) -> Result<Option<ConsentDecision>> {
        let plan = pass.id();
        let row = sqlx::query(
            "SELECT recorded_by, withdrawn_by, withdraw_time FROM consents WHERE plan_id = $1 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(plan.to_string())
        .optional(self)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let withdrawn = row.try_get::<Option<i64>, _>("withdraw_time").map_err(db)?.is_some();
        let by: String = if withdrawn {
            row.try_get::<Option<String>, _>("withdrawn_by").map_err(db)?.unwrap_or_default()
        } else {
            row.try_get("recorded_by").map_err(db)?
        };
        Ok(Some(ConsentDecision { by, withdrawn }))
    }

    /// The consents of `plan`, newest first, before the page's position; one more than the
    /// page size.
    #[tracing::instrument(skip_all)]
    pub async fn list_consents(
        &mut self,
        pass: &PlanPass,
        page: Page,
    ) -> Result<Vec<ConsentRecord>> {
        let plan = pass.id();
        let rows = sqlx::query(
            "SELECT id, recipients, on_behalf_given_by, on_behalf_reason, recorded_by, \
             recorded_subject, give_time, withdraw_time, withdrawn_by, withdrawn_subject, \
             withdraw_reason FROM consents WHERE plan_id = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(plan.to_string())
        .bind(page.after.map(|id| id.to_string()).unwrap_or_default())
        .bind(page.limit())
        .all(self)
        .await?;
        rows.iter().map(consent_from_row).collect()
    }
}

fn consent_from_row(row: &AnyRow) -> Result<ConsentRecord> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let recipients = text("recipients")?
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| stored("recipient", OrgNumber::parse("", r).ok()))
        .collect::<Result<_, _>>()?;
    let on_behalf = optional("on_behalf_given_by")?
        .zip(optional("on_behalf_reason")?)
        .map(|(given_by, reason)| OnBehalf { given_by, reason });
    Ok(ConsentRecord {
        id: stored("consent id", ResourceId::parse(&text("id")?))?,
        consent: Consent {
            recipients,
            on_behalf,
            give_time: Instant(row.try_get("give_time").map_err(db)?),
            recorded_by: text("recorded_by")?,
        },
        recorder: Subject::from_stored(text("recorded_subject")?),
        withdraw_time: row.try_get::<Option<i64>, _>("withdraw_time").map_err(db)?.map(Instant),
        withdrawn_by: optional("withdrawn_by")?.unwrap_or_default(),
        withdrawer: optional("withdrawn_subject")?.map(Subject::from_stored),
        withdraw_reason: optional("withdraw_reason")?.unwrap_or_default(),
    })
}
