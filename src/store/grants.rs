//! Organisation role grants, and the epoch that tells every server node its policy is stale.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, db, is_unique_violation, stored};
use crate::auth::OrgPass;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::organisation::{OrgRole, RoleGrant};
use crate::domain::page::Page;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const GRANT_COLUMNS: &str = "id, organisation_id, subject, role, granted_by, create_time";

impl Session {
    /// The current role grants' epoch.
    #[tracing::instrument(skip_all)]
    pub async fn grants_epoch(&mut self) -> Result<i64> {
        sqlx::query_scalar("SELECT epoch FROM role_grants_epoch WHERE id = 1").one(self).await
    }

    /// Every role grant, with the epoch read before them: the grants are at least as new as the
    /// epoch says.
    #[tracing::instrument(skip_all)]
    pub async fn all_grants(&mut self) -> Result<(i64, Vec<RoleGrant>)> {
        let epoch = self.grants_epoch().await?;
        let sql = format!("SELECT {GRANT_COLUMNS} FROM role_grants");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).all(self).await?;
        let grants = rows.iter().map(grant_from_row).collect::<Result<_, _>>()?;
        Ok((epoch, grants))
    }

    /// Grants `role` in `organisation` to `subject`.
    #[tracing::instrument(skip_all)]
    pub async fn insert_grant(
        &mut self,
        organisation: &OrgNumber,
        subject: &Subject,
        role: OrgRole,
        granted_by: &Subject,
        now: Instant,
    ) -> Result<RoleGrant> {
        let grant = RoleGrant {
            id: ResourceId::generate(),
            organisation: organisation.clone(),
            subject: subject.clone(),
            role,
            granted_by: granted_by.clone(),
            create_time: now,
        };
        sqlx::query(
            "INSERT INTO role_grants (id, organisation_id, subject, role, granted_by, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(grant.id.to_string())
        .bind(organisation.as_str())
        .bind(subject.as_stored())
        .bind(role.as_str())
        .bind(granted_by.as_stored())
        .bind(now.0)
        .execute(self.conn())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::AlreadyExists("the subject already holds this role here".into())
            } else {
                db(e)
            }
        })?;
        self.bump_grants_epoch().await?;
        Ok(grant)
    }

    /// One grant of `organisation`; `NOT_FOUND` when it has no such grant.
    #[tracing::instrument(skip_all)]
    pub async fn grant(&mut self, org: &OrgPass, id: ResourceId) -> Result<RoleGrant> {
        let organisation = org.organisation();
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM role_grants WHERE id = $1 AND organisation_id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(organisation.as_str())
            .optional(self)
            .await?;
        row.as_ref().map(grant_from_row).transpose()?.ok_or(Error::NotFound("role grant"))
    }

    /// Revokes a grant of `organisation`; `NOT_FOUND` when it has no such grant.
    #[tracing::instrument(skip_all)]
    pub async fn delete_grant(&mut self, org: &OrgPass, id: ResourceId) -> Result<()> {
        let organisation = org.organisation();
        let deleted = sqlx::query("DELETE FROM role_grants WHERE id = $1 AND organisation_id = $2")
            .bind(id.to_string())
            .bind(organisation.as_str())
            .run(self)
            .await?;
        if deleted == 0 {
            return Err(Error::NotFound("role grant"));
        }
        self.bump_grants_epoch().await
    }

    /// The grants of `organisation` after the page's position; one more than the page size.
    #[tracing::instrument(skip_all)]
    pub async fn list_grants(&mut self, org: &OrgPass, page: Page) -> Result<Vec<RoleGrant>> {
        let organisation = org.organisation();
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM role_grants WHERE organisation_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organisation.as_str())
            .bind(page.after.map(|id| id.to_string()).unwrap_or_default())
            .bind(page.limit())
            .all(self)
            .await?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn bump_grants_epoch(&mut self) -> Result<()> {
        sqlx::query("UPDATE role_grants_epoch SET epoch = epoch + 1 WHERE id = 1")
            .run(self)
            .await?;
        Ok(())
    }
}

fn grant_from_row(row: &AnyRow) -> Result<RoleGrant> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    Ok(RoleGrant {
        id: stored("grant id", ResourceId::parse(&text("id")?))?,
        organisation: stored("organisation", OrgNumber::parse("", &text("organisation_id")?).ok())?,
        subject: Subject::from_stored(text("subject")?),
        role: stored("role", OrgRole::from_stored(&text("role")?))?,
        granted_by: Subject::from_stored(text("granted_by")?),
        create_time: Instant(row.try_get("create_time").map_err(db)?),
    })
}
