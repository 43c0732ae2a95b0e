//! The organisation registry.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, db, stored};
use crate::domain::ids::OrgNumber;
use crate::domain::organisation::{OrgKind, Organisation};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

/// Rows written by one statement of an import.
const BATCH: usize = 200;

impl Session {
    /// The registry's entry for `number`, if any.
    #[tracing::instrument(skip_all)]
    pub async fn organisation(&mut self, number: &OrgNumber) -> Result<Option<Organisation>> {
        let row = sqlx::query(
            "SELECT organisation_id, name, kind, form_code FROM organisations \
             WHERE organisation_id = $1",
        )
        .bind(number.as_str())
        .optional(self)
        .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    /// The registry's entry for `number` if it is of one of `kinds`; otherwise an
    /// `INVALID_ARGUMENT` naming `field` and the kinds it must be.
    pub async fn organisation_of_kind(
        &mut self,
        field: &str,
        number: &OrgNumber,
        kinds: &[OrgKind],
    ) -> Result<Organisation> {
        match self.organisation(number).await? {
            Some(org) if kinds.contains(&org.kind) => Ok(org),
            _ => {
                let names: Vec<String> = kinds.iter().map(|k| k.wire_name()).collect();
                Err(Error::invalid(
                    field,
                    format!(
                        "must be an organisation of the registry of kind {}",
                        names.join(" or ")
                    ),
                ))
            }
        }
    }

    /// Inserts the organisations, or updates those the registry holds already.
    #[tracing::instrument(skip_all)]
    pub async fn upsert_organisations(
        &mut self,
        organisations: &[Organisation],
        now: Instant,
    ) -> Result<()> {
        for batch in organisations.chunks(BATCH) {
            let rows: Vec<String> = (0..batch.len())
                .map(|i| {
                    let n = i * 5;
                    format!("(${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5)
                })
                .collect();
            let sql = format!(
                "INSERT INTO organisations (organisation_id, name, kind, form_code, update_time) \
                 VALUES {} ON CONFLICT (organisation_id) DO UPDATE SET name = excluded.name, \
                 kind = excluded.kind, form_code = excluded.form_code, \
                 update_time = excluded.update_time",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for org in batch {
                query = query
                    .bind(org.number.as_str().to_owned())
                    .bind(org.name.clone())
                    .bind(org.kind.as_str())
                    .bind(org.form_code.clone())
                    .bind(now.0);
            }
            query.run(self).await?;
        }
        Ok(())
    }
}

fn organisation_from_row(row: &AnyRow) -> Result<Organisation> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    Ok(Organisation {
        number: stored("organisation", OrgNumber::parse("", &text("organisation_id")?).ok())?,
        name: text("name")?,
        kind: stored("organisation kind", OrgKind::from_stored(&text("kind")?))?,
        form_code: text("form_code")?,
    })
}
