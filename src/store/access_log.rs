//! The access log: every read and write of a plan and every organisation-level action, allowed
//! or denied. Written in the same session as the access, so a write and its log row commit
//! together.

use super::{Execute, Session};
use crate::domain::Result;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;

/// One access decision.
#[derive(Debug)]
pub struct AccessEntry<'a> {
    /// The organisation that holds the target.
    pub organisation: &'a OrgNumber,
    /// The plan, when the target is one or lies within one.
    pub plan: Option<ResourceId>,
    /// The complaint, when the target is one.
    pub complaint: Option<ResourceId>,
    /// Who asked.
    pub who: &'a Principal,
    /// The relations the caller held, comma-separated (empty when none).
    pub relations: String,
    /// The policy object.
    pub object: &'static str,
    /// The policy action.
    pub action: &'static str,
    /// Whether it was allowed.
    pub allowed: bool,
}

const COLUMNS: usize = 11;

impl Session {
    /// Writes access-log rows, all in one statement.
    #[tracing::instrument(skip_all)]
    pub async fn log_access(&mut self, entries: &[AccessEntry<'_>], now: Instant) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows: Vec<String> = (0..entries.len())
            .map(|i| {
                let params: Vec<String> =
                    (1..=COLUMNS).map(|c| format!("${}", i * COLUMNS + c)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO access_log (id, organisation_id, plan_id, complaint_id, subject, \
             acting_organisation, relations, object, action, allowed, time) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in entries {
            query = query
                .bind(ResourceId::generate().to_string())
                .bind(e.organisation.as_str().to_owned())
                .bind(e.plan.map(|p| p.to_string()))
                .bind(e.complaint.map(|c| c.to_string()))
                .bind(e.who.subject.as_stored().to_owned())
                .bind(e.who.acting_organisation().to_owned())
                .bind(e.relations.clone())
                .bind(e.object)
                .bind(e.action)
                .bind(i64::from(e.allowed))
                .bind(now.0);
        }
        query.run(self).await?;
        Ok(())
    }
}
