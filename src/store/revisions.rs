//! The plan's history: one row per revision, with who made it, what changed, and the plan as it
//! then was.

use sqlx::Row;

use super::{Session, db, stored};
use crate::domain::Error;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::page::Page;
use crate::domain::time::Instant;

/// One revision of a plan's history, without its snapshot.
#[derive(Debug)]
pub struct RevisionRow {
    /// Its id, for paging.
    pub id: ResourceId,
    /// The history revision.
    pub revision: i64,
    /// Who made it (a stored subject).
    pub author: String,
    /// Their relations to the plan then.
    pub author_relations: String,
    /// What changed, one line each.
    pub changes: Vec<String>,
    /// When.
    pub time: Instant,
}

/// A change about to be written to a plan's history.
#[derive(Debug)]
pub struct NewRevision<'a> {
    /// The plan's organisation, the row's tenant.
    pub organisation: &'a OrgNumber,
    /// The plan.
    pub plan: ResourceId,
    /// Who made the change (a stored subject).
    pub author: &'a str,
    /// Their relations to the plan.
    pub author_relations: &'a str,
    /// What changed, one line each.
    pub changes: &'a [String],
    /// Whether the plan's content changed, which a signature no longer covers.
    pub content: bool,
}

impl Session {
    /// Gives the plan its next history revision and returns it. The update also takes the
    /// plan's row lock, so concurrent changes to one plan number their revisions in order.
    #[tracing::instrument(skip_all)]
    pub async fn next_revision(
        &mut self,
        change: &NewRevision<'_>,
        now: Instant,
    ) -> Result<i64, Error> {
        sqlx::query(
            "UPDATE plans SET revision = revision + 1, update_time = $1, content_revision = \
             CASE WHEN $2 = 1 THEN revision + 1 ELSE content_revision END WHERE id = $3",
        )
        .bind(now.0)
        .bind(i64::from(change.content))
        .bind(change.plan.to_string())
        .execute(self.conn())
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT revision FROM plans WHERE id = $1")
            .bind(change.plan.to_string())
            .fetch_one(self.conn())
            .await
            .map_err(db)
    }

    /// Writes a revision of the plan with its snapshot.
    #[tracing::instrument(skip_all)]
    pub async fn insert_revision(
        &mut self,
        change: &NewRevision<'_>,
        revision: i64,
        snapshot: Vec<u8>,
        now: Instant,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO plan_revisions (id, organisation_id, plan_id, revision, author, \
             author_relations, changes, snapshot, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ResourceId::generate().to_string())
        .bind(change.organisation.as_str())
        .bind(change.plan.to_string())
        .bind(revision)
        .bind(change.author)
        .bind(change.author_relations)
        .bind(change.changes.join("\n"))
        .bind(snapshot)
        .bind(now.0)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The plan's revisions after the page's position, oldest first; one more than the page.
    #[tracing::instrument(skip_all)]
    pub async fn list_revisions(
        &mut self,
        plan: ResourceId,
        page: Page,
    ) -> Result<Vec<RevisionRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, revision, author, author_relations, changes, create_time \
             FROM plan_revisions WHERE plan_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(plan.to_string())
        .bind(page.after.map(|id| id.to_string()).unwrap_or_default())
        .bind(i64::from(page.size) + 1)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                Ok(RevisionRow {
                    id: stored("revision id", ResourceId::parse(&text("id")?))?,
                    revision: row.try_get("revision").map_err(db)?,
                    author: text("author")?,
                    author_relations: text("author_relations")?,
                    changes: text("changes")?.lines().map(str::to_owned).collect(),
                    time: Instant(row.try_get("create_time").map_err(db)?),
                })
            })
            .collect()
    }

    /// The snapshot of one revision of the plan; `None` when there is no such revision.
    #[tracing::instrument(skip_all)]
    pub async fn revision_snapshot(
        &mut self,
        plan: ResourceId,
        revision: i64,
    ) -> Result<Option<Vec<u8>>, Error> {
        sqlx::query_scalar(
            "SELECT snapshot FROM plan_revisions WHERE plan_id = $1 AND revision = $2",
        )
        .bind(plan.to_string())
        .bind(revision)
        .fetch_optional(self.conn())
        .await
        .map_err(db)
    }
}
