//! The change feed's outbox: one row per plan revision, written in the revision's transaction
//! (`insert_change`), and one per step of a complaint, written in the step's
//! (`insert_complaint_change`); read in commit order after a client's position
//! (`list_changes`), and pruned after the retention (`prune_changes`). Which transaction id orders a row and how far
//! a reader may read differ per backend (`postgres.rs`, `sqlite.rs`).

use sqlx::Row;

use super::plans::{ReadFilter, visible_plans};
use super::{Backend, Execute, Run, Session, Statement, blocks, db, postgres, sqlite, stored};
use crate::auth::PlanPass;
use crate::domain::change::{PlanChange, Position};
use crate::domain::complaint::Complaint;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

/// Whose events the feed reads.
#[derive(Clone, Copy, Debug)]
pub enum Following<'a> {
    /// One plan's.
    Plan(ResourceId),
    /// Those of every plan `ReadFilter` lets the caller read.
    Readable(&'a ReadFilter),
}

/// One row of the feed: a plan's revision (`plan`, `etags`) or a complaint's step
/// (`complaint`, its revision).
struct FeedRow<'a> {
    plan: Option<ResourceId>,
    complaint: Option<ResourceId>,
    revision: i64,
    etags: &'a str,
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
        let row = FeedRow { plan: Some(pass.id()), complaint: None, revision, etags };
        self.insert_feed_row(pass.organisation(), row, now).await
    }

    /// Writes the feed's row for the step of `complaint` that left it at its revision.
    pub async fn insert_complaint_change(
        &mut self,
        complaint: &Complaint,
        now: Instant,
    ) -> Result<()> {
        let row = FeedRow {
            plan: None,
            complaint: Some(complaint.id),
            revision: complaint.revision,
            etags: "",
        };
        self.insert_feed_row(&complaint.organisation, row, now).await
    }

    /// Writes one row of the feed in the caller's transaction, ordered by the writing
    /// transaction's id.
    async fn insert_feed_row(
        &mut self,
        organisation: &OrgNumber,
        row: FeedRow<'_>,
        now: Instant,
    ) -> Result<()> {
        let txid = match self.backend {
            Backend::Postgres => postgres::TRANSACTION_ID,
            Backend::Sqlite => sqlite::TRANSACTION_ID,
        };
        let sql = format!(
            "INSERT INTO plan_changes (txid, organisation_id, plan_id, complaint_id, revision, \
             etags, create_time) VALUES ({txid}, $1, $2, $3, $4, $5, $6)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organisation.as_str())
            .bind(row.plan.map(|p| p.to_string()).unwrap_or_default())
            .bind(row.complaint.map(|c| c.to_string()))
            .bind(row.revision)
            .bind(row.etags)
            .bind(now.0)
            .run(self)
            .await?;
        Ok(())
    }

    /// Up to `limit` events after `after`, in commit order, of what `following` names, each
    /// with its revision's lines, and the position the read is complete to: past the last
    /// event when `limit` were found, else the feed's end, so that a client who may read few of
    /// the feed's rows does not scan the others again on its next call. Only rows every reader
    /// will always see in the same order are read: the feed's end is the newest row older than
    /// every transaction still running (`FEED_HORIZON`), and the events are read up to it.
    ///
    /// `after` is the client's cursor, `None` for the oldest change kept. One retention has
    /// pruned is `FAILED_PRECONDITION` (the client reads the plans again); one past the feed's
    /// end, which no reader was handed, `INVALID_ARGUMENT`, so a forged or corrupted cursor
    /// never waits silently for changes it would skip.
    pub async fn list_changes(
        &mut self,
        following: Following<'_>,
        who: &Principal,
        after: Option<Position>,
        limit: i64,
        now: Instant,
    ) -> Result<(Vec<PlanChange>, Position)> {
        let (pruned, end) = self.feed_bounds().await?;
        let after = match after {
            Some(after) if after < pruned => {
                return Err(Error::FailedPrecondition(
                    "the cursor is older than the change feed keeps: read the plans again, \
                     then follow from an empty cursor"
                        .into(),
                ));
            }
            Some(after) => after,
            None => pruned,
        };
        if after > end {
            return Err(Error::invalid("cursor", "is not a cursor this feed handed out"));
        }
        if after == end {
            return Ok((Vec::new(), after));
        }
        let select = "SELECT c.seq, c.txid, c.plan_id, c.complaint_id, c.revision, c.etags, \
             c.create_time, r.changes FROM plan_changes c LEFT JOIN plan_revisions r \
             ON r.plan_id = c.plan_id AND r.revision = c.revision WHERE ";
        // Following one plan, its events are read whoever may read it, so that the guard, asked
        // of each, ends a follower who may not; every plan's, those of the plans the caller
        // may read now, and the steps of the complaints they filed or that concern them (the
        // guard decides on each).
        let statement = match following {
            Following::Plan(plan) => {
                Statement::new(select).sql("c.plan_id = ").bind(plan.to_string())
            }
            Following::Readable(filter) => {
                let visible = visible_plans(filter, who, now, |statement, _| {
                    blocks::keeps_out(statement.sql(" AND NOT "), who)
                });
                match visible {
                    Some(visible) => {
                        visible.sql(select).sql("(c.plan_id IN (SELECT id FROM visible)")
                    }
                    None => Statement::new(select).sql("(1 = 0"),
                }
                .sql(" OR c.complaint_id IN (SELECT id FROM complaints WHERE complainant = ")
                .subject(who)
                .sql(" OR patient_id = ")
                .national_id(who)
                .sql("))")
            }
        };
        let statement = statement
            .sql(" AND (c.txid > ")
            .bind(after.txid)
            .sql(" OR (c.txid = ")
            .bind(after.txid)
            .sql(" AND c.seq > ")
            .bind(after.seq)
            .sql(")) AND (c.txid < ")
            .bind(end.txid)
            .sql(" OR (c.txid = ")
            .bind(end.txid)
            .sql(" AND c.seq <= ")
            .bind(end.seq)
            .sql("))");
        let statement = statement.sql(" ORDER BY c.txid, c.seq LIMIT ").bind(limit);
        let changes: Vec<PlanChange> = statement
            .all(self)
            .await?
            .iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                let position = Position {
                    txid: row.try_get("txid").map_err(db)?,
                    seq: row.try_get("seq").map_err(db)?,
                };
                let revision = row.try_get("revision").map_err(db)?;
                let time = Instant(row.try_get("create_time").map_err(db)?);
                let complaint: Option<String> = row.try_get("complaint_id").map_err(db)?;
                if let Some(complaint) = complaint {
                    let complaint = stored("complaint id", ResourceId::parse(&complaint))?;
                    return Ok(PlanChange::of_complaint(position, complaint, revision, time));
                }
                let lines: Vec<String> = text("changes")?.lines().map(str::to_owned).collect();
                Ok(PlanChange::of_revision(
                    position,
                    stored("plan id", ResourceId::parse(&text("plan_id")?))?,
                    revision,
                    time,
                    &lines,
                    &text("etags")?,
                ))
            })
            .collect::<Result<_>>()?;
        let complete_to = match changes.last() {
            Some(last) if changes.len() as i64 >= limit => last.position,
            _ => end,
        };
        Ok((changes, complete_to))
    }

    /// How far retention has pruned the feed (a position before it is too old to resume from)
    /// and the feed's end: the newest row older than every transaction still running
    /// (`FEED_HORIZON`), or the pruned-to position when no row is newer. One statement, so both
    /// come from one view of the feed.
    async fn feed_bounds(&mut self) -> Result<(Position, Position)> {
        let horizon = match self.backend {
            Backend::Postgres => postgres::FEED_HORIZON,
            Backend::Sqlite => sqlite::FEED_HORIZON,
        };
        let newest = |column: &str| {
            format!(
                "(SELECT c.{column} FROM plan_changes c WHERE c.txid < {horizon} \
                 ORDER BY c.txid DESC, c.seq DESC LIMIT 1)"
            )
        };
        let row = Statement::new("")
            .sql(&format!(
                "SELECT p.txid, p.seq, {} AS end_txid, {} AS end_seq FROM plan_changes_pruned p \
                 WHERE p.id = 1",
                newest("txid"),
                newest("seq")
            ))
            .one(self)
            .await?;
        let pruned = Position {
            txid: row.try_get("txid").map_err(db)?,
            seq: row.try_get("seq").map_err(db)?,
        };
        let end_txid: Option<i64> = row.try_get("end_txid").map_err(db)?;
        let end_seq: Option<i64> = row.try_get("end_seq").map_err(db)?;
        let end = match end_txid.zip(end_seq) {
            Some((txid, seq)) => Position { txid, seq }.max(pruned),
            None => pruned,
        };
        Ok((pruned, end))
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
