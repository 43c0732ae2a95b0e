//! Consent: every consent ever recorded, and the recipients of the one in force, which the
//! access query reads to decide whether a member's organisation may see the plan.

use super::{Session, db};
use crate::domain::Error;
use crate::domain::ids::ResourceId;
use crate::domain::plan::{NewConsent, Plan};
use crate::domain::subject::Subject;
use crate::domain::time::Instant;

impl Session {
    /// Records consent for `plan`, ending any consent in force first: its recipients lose the
    /// plan in the same transaction.
    #[tracing::instrument(skip_all)]
    pub async fn record_consent(
        &mut self,
        plan: &Plan,
        consent: &NewConsent,
        recorded_by: &str,
        subject: &Subject,
        now: Instant,
    ) -> Result<(), Error> {
        self.end_consent(plan.id, subject, "replaced by a new consent", now)
            .await?;
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
        .execute(self.conn())
        .await
        .map_err(db)?;
        for recipient in &consent.recipients {
            sqlx::query(
                "INSERT INTO consent_recipients (plan_id, recipient, organisation_id, consent_id) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(plan.id.to_string())
            .bind(recipient.as_str())
            .bind(plan.organisation.as_str())
            .bind(id.clone())
            .execute(self.conn())
            .await
            .map_err(db)?;
        }
        Ok(())
    }

    /// Withdraws the consent in force; `FAILED_PRECONDITION` when there is none.
    #[tracing::instrument(skip_all)]
    pub async fn withdraw_consent(
        &mut self,
        plan: ResourceId,
        subject: &Subject,
        reason: &str,
        now: Instant,
    ) -> Result<(), Error> {
        if self.end_consent(plan, subject, reason, now).await? {
            Ok(())
        } else {
            Err(Error::FailedPrecondition(
                "the plan has no consent in force".into(),
            ))
        }
    }

    /// Ends the consent in force, if any, and removes its recipients; whether there was one.
    async fn end_consent(
        &mut self,
        plan: ResourceId,
        subject: &Subject,
        reason: &str,
        now: Instant,
    ) -> Result<bool, Error> {
        sqlx::query("DELETE FROM consent_recipients WHERE plan_id = $1")
            .bind(plan.to_string())
            .execute(self.conn())
            .await
            .map_err(db)?;
        let ended = sqlx::query(
            "UPDATE consents SET withdraw_time = $1, withdrawn_subject = $2, withdraw_reason = $3 \
             WHERE plan_id = $4 AND withdraw_time IS NULL",
        )
        .bind(now.0)
        .bind(subject.as_stored())
        .bind(reason)
        .bind(plan.to_string())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(ended.rows_affected() > 0)
    }
}
