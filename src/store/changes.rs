//! The change feed's outbox: one row per plan revision, written in the revision's transaction
//! (`insert_change`), read in commit order after a client's position (`list_changes`), and
//! pruned after the retention (`prune_changes`). Which transaction id orders a row and how far
//! a reader may read differ per backend (`postgres.rs`, `sqlite.rs`).

use sqlx::Row;

use super::plans::{ReadFilter, visible_plans};
use super::{Backend, Execute, Run, Session, Statement, blocks, db, postgres, sqlite, stored};
use crate::auth::PlanPass;
use crate::domain::Result;
use crate::domain::change::{PlanChange, Position};
use crate::domain::ids::ResourceId;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;

/// Whose events the feed reads.
#[derive(Clone, Copy, Debug)]
pub enum Following<'a> {
    /// One plan's.
    Plan(ResourceId),
    /// Those of every plan `ReadFilter` lets the caller read.
    Readable(&'a ReadFilter),
}

impl Session {
    /// Writes the feed's row for revision `revision` of the plan `pass` is for, with the new
    /// etags of what it changed (`kind/id=etag` per line, `plan=N`).
    pub async fn insert_change(
        &mut self,
        pass: &PlanPass,
        revision: i64,
        etags: &str,
        now: Instant,
    ) -> Result<()> {
        let txid = match self.backend {
            Backend::Postgres => postgres::TRANSACTION_ID,
            Backend::Sqlite => sqlite::TRANSACTION_ID,
        };
        let sql = format!(
            "INSERT INTO plan_changes (txid, organisation_id, plan_id, revision, etags, \
             create_time) VALUES ({txid}, $1, $2, $3, $4, $5)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(pass.organisation().as_str())
            .bind(pass.id().to_string())
            .bind(revision)
            .bind(etags)
            .bind(now.0)
            .run(self)
            .await?;
        Ok(())
    }

    /// Up to `limit` events after `after`, in commit order, of what `following` names, each
    /// with its
    /// revision's lines. Only rows every reader will
    /// always see in the same order are read (`FEED_HORIZON`).
    pub async fn list_changes(
        &mut self,
        following: Following<'_>,
        who: &Principal,
        after: Position,
        limit: i64,
        now: Instant,
    ) -> Result<Vec<PlanChange>> {
        let horizon = match self.backend {
            Backend::Postgres => postgres::FEED_HORIZON,
            Backend::Sqlite => sqlite::FEED_HORIZON,
        };
        let select = "SELECT c.seq, c.txid, c.plan_id, c.revision, c.etags, c.create_time, \
             r.changes FROM plan_changes c JOIN plan_revisions r \
             ON r.plan_id = c.plan_id AND r.revision = c.revision WHERE ";
        // Following one plan, its events are read whoever may read it, so that the guard, asked
        // of each, ends a follower who may not; every plan's, those of the plans the caller
        // may read now.
        let mut statement = match following {
            Following::Plan(plan) => {
                Statement::new(select).sql("c.plan_id = ").bind(plan.to_string())
            }
            Following::Readable(filter) => {
                let visible = visible_plans(filter, who, now, |statement, _| {
                    blocks::keeps_out(statement.sql(" AND NOT "), who)
                });
                let Some(visible) = visible else { return Ok(Vec::new()) };
                visible.sql(select).sql("c.plan_id IN (SELECT id FROM visible)")
            }
        };
        statement = statement.sql(" AND (c.txid > ");
        statement = statement
            .bind(after.txid)
            .sql(" OR (c.txid = ")
            .bind(after.txid)
            .sql(" AND c.seq > ")
            .bind(after.seq)
            .sql(&format!(")) AND c.txid < {horizon}"));
        let statement = statement.sql(" ORDER BY c.txid, c.seq LIMIT ").bind(limit);
        statement
            .all(self)
            .await?
            .iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                let position = Position {
                    txid: row.try_get("txid").map_err(db)?,
                    seq: row.try_get("seq").map_err(db)?,
                };
                let lines: Vec<String> = text("changes")?.lines().map(str::to_owned).collect();
                Ok(PlanChange::of_revision(
                    position,
                    stored("plan id", ResourceId::parse(&text("plan_id")?))?,
                    row.try_get("revision").map_err(db)?,
                    Instant(row.try_get("create_time").map_err(db)?),
                    &lines,
                    &text("etags")?,
                ))
            })
            .collect()
    }

    /// How far retention has pruned the feed: a position before it is too old to resume from.
    pub async fn changes_pruned_to(&mut self) -> Result<Position> {
        let row = Statement::new("SELECT txid, seq FROM plan_changes_pruned WHERE id = 1")
            .one(self)
            .await?;
        Ok(Position {
            txid: row.try_get("txid").map_err(db)?,
            seq: row.try_get("seq").map_err(db)?,
        })
    }

    /// Prunes the feed's rows made before `before`, up to the newest of them in feed order,
    /// and moves the pruned-to position there; returns how many rows went.
    pub async fn prune_changes(&mut self, before: Instant) -> Result<u64> {
        let newest = Statement::new("SELECT txid, seq FROM plan_changes WHERE create_time < ")
            .bind(before.0)
            .sql(" ORDER BY txid DESC, seq DESC LIMIT 1")
            .optional(self)
            .await?;
        let Some(newest) = newest else { return Ok(0) };
        let (txid, seq): (i64, i64) =
            (newest.try_get("txid").map_err(db)?, newest.try_get("seq").map_err(db)?);
        Statement::new("UPDATE plan_changes_pruned SET txid = ")
            .bind(txid)
            .sql(", seq = ")
            .bind(seq)
            .sql(" WHERE id = 1")
            .run(self)
            .await?;
        Statement::new("DELETE FROM plan_changes WHERE txid < ")
            .bind(txid)
            .sql(" OR (txid = ")
            .bind(txid)
            .sql(" AND seq <= ")
            .bind(seq)
            .sql(")")
            .run(self)
            .await
    }
}
