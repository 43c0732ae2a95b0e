//! The access log: every read and write of a plan and every organisation-level action, allowed
//! or denied. The patient must be able to see who read their plan, and a read whose row is lost
//! must not have happened, so no call answers before its rows are durable:
//!
//! One call logs one row per target it reached (a plan, a complaint, an organisation): the
//! decisions a call meets on the way to its target (it reads the plan, then changes a measure)
//! merge into the row of the decision that settled it, so the patient reads one event per
//! call, refused if any of its decisions was (`LogRow::merge`). Rows are staged in the session
//! as they are decided:
//!
//! - a write's rows go into its own transaction as it ends, and commit with the change or not
//!   at all;
//! - a read's rows are handed, when the read is done, to the
//!   `LogWriter`, which commits the rows of concurrent reads together (group commit: one
//!   transaction and one fsync for many reads) and answers each read once its rows are durable.
//!   A read whose batch fails answers UNAVAILABLE, whatever it read.

use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Backend, Execute, Session, db};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

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
    /// The organisation roles the caller held where they acted, comma-separated (empty when
    /// none).
    pub roles: String,
    /// The policy object.
    pub object: &'static str,
    /// The policy action.
    pub action: &'static str,
    /// Whether it was allowed.
    pub allowed: bool,
}

tokio::task_local! {
    /// The operation the current call's access-log rows name: the RPC being served.
    static OPERATION: std::sync::Arc<str>;
}

/// Runs `call` with its access-log rows naming `operation`, the RPC being served (its gRPC
/// path without the leading slash, `samvirke.v1.PlanService/ExportPlan`), so the patient's
/// view of the log can say "exported the plan" where the policy only knows "read". Rows
/// logged outside any call (the command line) name none.
pub async fn logged_as<F: std::future::Future>(
    operation: std::sync::Arc<str>,
    call: F,
) -> F::Output {
    OPERATION.scope(operation, call).await
}

/// The operation the current call's rows name (`logged_as`): for work a call hands to a task
/// of its own, which must run `logged_as` it too.
pub fn current_operation() -> std::sync::Arc<str> {
    OPERATION.try_with(|op| op.clone()).unwrap_or_else(|_| "".into())
}

/// One row of the access log, as it is written.
#[derive(Clone, Debug)]
pub(super) struct LogRow {
    id: String,
    operation: std::sync::Arc<str>,
    organisation: String,
    plan: Option<String>,
    complaint: Option<String>,
    subject: String,
    acting_organisation: String,
    relations: String,
    roles: String,
    object: &'static str,
    action: &'static str,
    allowed: bool,
    time: i64,
}

impl LogRow {
    /// The row of a decision whose request failed afterwards and changed or read nothing:
    /// whatever the policy said, the call did not get what it asked, so the patient reads that
    /// it tried and was refused. Its new id keeps it apart from a row that rolled back.
    pub(super) fn of_failed(mut self) -> Self {
        self.id = ResourceId::generate().to_string();
        self.allowed = false;
        self
    }

    /// Whether `other` is a decision of the same caller about the same target as this row.
    fn same_target(&self, other: &LogRow) -> bool {
        (&self.organisation, &self.plan, &self.complaint, &self.subject)
            == (&other.organisation, &other.plan, &other.complaint, &other.subject)
    }

    /// Merges a later decision of the same call about the same target into this row, which
    /// then holds the decision that settled the call: the first refusal if there was one,
    /// else the last decision to act rather than read (reading the plan is the way in to
    /// changing a measure, not an access of its own). The row keeps its id and time.
    fn merge(&mut self, later: LogRow) {
        let settles = match (self.allowed, later.allowed) {
            (false, _) => false,
            (true, false) => true,
            (true, true) => !is_read(later.action) || is_read(self.action),
        };
        if settles {
            self.relations = later.relations;
            self.roles = later.roles;
            self.object = later.object;
            self.action = later.action;
            self.allowed = later.allowed;
        }
    }

    fn of(e: &AccessEntry<'_>, now: Instant) -> Self {
        LogRow {
            id: ResourceId::generate().to_string(),
            operation: current_operation(),
            organisation: e.organisation.as_str().to_owned(),
            plan: e.plan.map(|p| p.to_string()),
            complaint: e.complaint.map(|c| c.to_string()),
            subject: e.who.subject.as_stored().to_owned(),
            acting_organisation: e.who.acting_organisation().to_owned(),
            relations: e.relations.clone(),
            roles: e.roles.clone(),
            object: e.object,
            action: e.action,
            allowed: e.allowed,
            time: now.0,
        }
    }
}

const COLUMNS: usize = 13;

/// The most rows one INSERT carries: 13 parameters a row stays far below both databases'
/// limits on parameters (32,766 on SQLite, 65,535 on PostgreSQL).
const ROWS_PER_INSERT: usize = 500;

/// One INSERT of up to `ROWS_PER_INSERT` rows.
fn insert<'q>(rows: &[&'q LogRow]) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let params: Vec<String> =
                (1..=COLUMNS).map(|c| format!("${}", i * COLUMNS + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO access_log (id, organisation_id, plan_id, complaint_id, subject, \
         acting_organisation, relations, object, action, allowed, time, operation, roles) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in rows {
        query = query
            .bind(r.id.as_str())
            .bind(r.organisation.as_str())
            .bind(r.plan.as_deref())
            .bind(r.complaint.as_deref())
            .bind(r.subject.as_str())
            .bind(r.acting_organisation.as_str())
            .bind(r.relations.as_str())
            .bind(r.object)
            .bind(r.action)
            .bind(i64::from(r.allowed))
            .bind(r.time)
            .bind(&*r.operation)
            .bind(r.roles.as_str());
    }
    query
}

impl Session {
    /// Writes log rows on this session's connection: in a write's transaction, or, for a read's
    /// staged rows, each INSERT committing on its own.
    pub(super) async fn insert_log_rows(&mut self, rows: &[LogRow]) -> Result<()> {
        let rows: Vec<&LogRow> = rows.iter().collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            insert(chunk).run(self).await?;
        }
        Ok(())
    }

    /// Logs access decisions, staged in the session, each merged into the row of an earlier
    /// decision about the same target (`LogRow::merge`): a write inserts them in its
    /// transaction as it ends; a read hands them to the `LogWriter`, which `Store::read_with`
    /// waits on before the read answers.
    pub fn log_access(&mut self, entries: &[AccessEntry<'_>], now: Instant) {
        for row in entries.iter().map(|e| LogRow::of(e, now)) {
            // A call reaches few targets, except a list, whose rows are each of another plan:
            // looking back one row finds the earlier decision of any call that is not a list.
            match self.staged.last_mut() {
                Some(last) if last.same_target(&row) => last.merge(row),
                _ => self.staged.push(row),
            }
        }
    }
}

/// Whether `action` only reads.
fn is_read(action: &str) -> bool {
    matches!(action, "read" | "read_identity")
}

/// How the log writer gathers the rows of concurrent reads into one commit.
#[derive(Clone, Copy, Debug)]
pub struct GroupCommit {
    /// The most rows one batch commits.
    pub max_rows: usize,
    /// How long a batch waits for more rows once its first has come; zero means it takes what
    /// came while the batch before it committed, and waits for nothing more.
    pub max_wait: Duration,
    /// How many reads may wait for the writer at once before the next waits to hand its rows
    /// over.
    pub queue: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit { max_rows: 2_000, max_wait: Duration::ZERO, queue: 4_096 }
    }
}

/// What the writer is asked.
enum Message {
    /// Commit these rows and say whether they are durable.
    Rows(Vec<LogRow>, oneshot::Sender<bool>),
    /// Commit what came before, then stop.
    Close,
}

/// The access log's group-commit writer for reads: a task that commits the rows handed to it in
/// batches, on the store's writer connections.
#[derive(Clone)]
pub(super) struct LogWriter {
    sender: mpsc::Sender<Message>,
    /// Reads in flight, handed over or not yet: one means a read is alone.
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// A read's place among the reads in flight, given back when dropped.
pub(super) struct InFlight(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// Whether this read is the only one in flight.
    pub(super) fn alone(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) == 1
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl LogWriter {
    /// Starts the writer on `pool`; the handle ends once `close` has been called and the last
    /// batch is durable.
    pub(super) fn start(
        pool: AnyPool,
        backend: Backend,
        config: GroupCommit,
    ) -> (LogWriter, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(pool, backend, config, receiver));
        (LogWriter { sender, reads: Default::default() }, task)
    }

    /// Hands a read's rows to the writer and waits until they are durable; UNAVAILABLE if their
    /// batch failed or the writer has stopped.
    pub(super) async fn append(&self, rows: Vec<LogRow>) -> Result<()> {
        let unavailable = || Error::Unavailable("the access log cannot be written: retry".into());
        let (done, durable) = oneshot::channel();
        self.sender.send(Message::Rows(rows, done)).await.map_err(|_| unavailable())?;
        match durable.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    /// Counts a read in flight until the returned place is dropped: a read alone writes its
    /// rows itself, on the connection it already holds, rather than wait for a batch of one.
    pub(super) fn read_begins(&self) -> InFlight {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(self.reads.clone())
    }

    /// Asks the writer to stop after committing every row handed to it before.
    pub(super) async fn close(&self) {
        let _ = self.sender.send(Message::Close).await;
    }
}

/// The writer's loop: a batch is the first message waiting and whatever else came while the
/// batch before it committed, up to `max_rows` (and, if `max_wait` is set, what comes within
/// it).
async fn run(
    pool: AnyPool,
    backend: Backend,
    config: GroupCommit,
    mut receiver: mpsc::Receiver<Message>,
) {
    let mut closing = false;
    while !closing {
        let Some(first) = receiver.recv().await else { break };
        let mut batch: Vec<(Vec<LogRow>, oneshot::Sender<bool>)> = Vec::new();
        let mut rows = 0;
        let deadline = tokio::time::Instant::now() + config.max_wait;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Rows(r, done)) => {
                    rows += r.len();
                    batch.push((r, done));
                }
                Some(Message::Close) => {
                    closing = true;
                    break;
                }
                None => {}
            }
            if rows >= config.max_rows {
                break;
            }
            next = match receiver.try_recv() {
                Ok(message) => Some(message),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) if config.max_wait.is_zero() => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, receiver.recv()).await {
                        Ok(Some(message)) => Some(message),
                        _ => break,
                    }
                }
            };
        }
        if batch.is_empty() {
            continue;
        }
        let durable = match commit(&pool, backend, &batch).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, reads = batch.len(), "access log batch failed");
                false
            }
        };
        tracing::debug!(target: "samvirke::statements", reads = batch.len(), rows, "log batch");
        for (_, done) in batch {
            // A read that gave up waiting (its call was cancelled) needs no answer.
            let _ = done.send(durable);
        }
    }
}

/// Commits one batch: in one statement, which commits on its own, when it fits in one INSERT
/// (one round trip instead of three), else in one transaction.
async fn commit(
    pool: &AnyPool,
    backend: Backend,
    batch: &[(Vec<LogRow>, oneshot::Sender<bool>)],
) -> Result<()> {
    let rows: Vec<&LogRow> = batch.iter().flat_map(|(rows, _)| rows).collect();
    if rows.len() <= ROWS_PER_INSERT {
        insert(&rows).execute(pool).await.map_err(db)?;
        return Ok(());
    }
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
    .map_err(db)?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        insert(chunk).execute(&mut *tx).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}
