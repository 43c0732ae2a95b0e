//! Persistence. One SQL dialect, written once in the query modules and run through sqlx's `Any`
//! driver on both backends; what differs per backend (connecting, pragmas, how a write
//! transaction begins, migrations) lives in `sqlite.rs` and `postgres.rs`. The store knows
//! nothing of gRPC.

mod access_events;
mod access_log;
mod blocks;
mod changes;
mod child_coordinators;
mod complaints;
mod consents;
mod content;
mod coordinators;
mod goals;
mod grants;
mod measures;
mod meetings;
mod members;
mod organisations;
mod plans;
mod postgres;
mod referrals;
mod revisions;
mod scopes;
mod sql;
mod sqlite;
mod transfers;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use sqlx::any::AnyPoolOptions;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};

use crate::auth::PlanPass;
use crate::domain::limits::Holding;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

pub use access_events::AccessEventRow;
pub use access_log::{AccessEntry, GroupCommit, current_operation, logged_as};
pub use changes::Following;
pub use child_coordinators::ApplicationAccessRow;
pub use complaints::{ComplaintAccessRow, ComplaintListFilter};
pub use plans::{PlanAccessRow, PlanListFilter, ReadFilter, check_plan_version};
pub use referrals::ReferralAccessRow;
pub use revisions::{ChangeKind, ItemKind, ItemVersion, NewRevision, RevisionRow};
pub(crate) use sql::{Statement, Visible};
pub use transfers::TransferAccessRow;

/// Which database the store runs on, chosen by the URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default: a file next to the server.
    Sqlite,
    /// PostgreSQL, for production.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or `None` for a scheme we do not serve.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// A database URL whose password `Debug` and `Display` hide.
#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:password@host/... → scheme://user:***@host/...
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &self.0[scheme_end + 3..at];
                match userinfo.find(':') {
                    Some(colon) => write!(
                        f,
                        "{}{}:***{}",
                        &self.0[..scheme_end + 3],
                        &userinfo[..colon],
                        &self.0[at..]
                    ),
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// How the store connects and logs.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// How the access log commits the rows of concurrent reads.
    pub group_commit: GroupCommit,
    /// Read connections on SQLite; each runs on a thread of its own in sqlx's driver, so more
    /// than the machine's cores only adds switching between threads.
    pub sqlite_readers: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { group_commit: GroupCommit::default(), sqlite_readers: 4 }
    }
}

/// The connection pools, the backend they speak to, and the access log's writer.
///
/// On SQLite, reads run on a pool of read-only connections and every write, the access log's
/// batches included, on one writer connection: SQLite lets one writer in at a time, and writers
/// queued on the pool wait their turn in order instead of sleeping on the database lock. On
/// PostgreSQL one pool serves both.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
    log: access_log::LogWriter,
    log_task: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Counts the writes this node has committed: the change feed's streams wake on it, rather
    /// than wait for their next poll, when a change is made here.
    commits: Arc<tokio::sync::watch::Sender<u64>>,
}

/// How long a pooled connection may sit idle before it is checked with a round trip when it is
/// next taken. sqlx's default checks every connection on every acquire, which costs a busy
/// server one round trip (on SQLite, one hand-over to the connection's thread) per call; sqlx
/// checks each connection again when it is given back, so only one that lay idle, as through
/// a database restart, needs it.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(1);

async fn check_if_idle(
    conn: &mut AnyConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> std::result::Result<bool, sqlx::Error> {
    if meta.idle_for >= IDLE_BEFORE_CHECK {
        conn.ping().await?;
    }
    Ok(true)
}

impl Store {
    /// Connects to the database the URL names and applies pending migrations, with the default
    /// options.
    pub async fn open(url: &DatabaseUrl) -> Result<Store> {
        Store::open_with(url, StoreOptions::default()).await
    }

    /// Connects to the database the URL names, applies pending migrations, and starts the
    /// access log's writer.
    pub async fn open_with(url: &DatabaseUrl, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&url.0).ok_or_else(|| {
            Error::internal(format!("unsupported database url {url}: use sqlite: or postgres:"))
        })?;
        let pool_options = || {
            AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(false)
                .before_acquire(|conn, meta| Box::pin(check_if_idle(conn, meta)))
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // The writer first: it creates the file and puts it in WAL mode.
                let writer = sqlite::open_writer(pool_options(), &url.0).await?;
                migrate(backend, &writer).await?;
                let readers = options.sqlite_readers.max(1);
                (sqlite::open_readers(pool_options(), &url.0, readers).await?, writer)
            }
            Backend::Postgres => {
                let pool = postgres::open(pool_options(), &url.0).await?;
                migrate(backend, &pool).await?;
                (pool.clone(), pool)
            }
        };
        let (log, task) =
            access_log::LogWriter::start(writer.clone(), backend, options.group_commit);
        let log_task = Arc::new(Mutex::new(Some(task)));
        let commits = Arc::new(tokio::sync::watch::Sender::new(0));
        Ok(Store { pool, writer, backend, log, log_task, commits })
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        migrate(self.backend, &self.writer).await
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers, for health checks.
    pub async fn ping(&self) -> bool {
        match self.pool.acquire().await {
            Ok(mut conn) => conn.ping().await.is_ok(),
            Err(_) => false,
        }
    }

    /// Runs `work` in a session for reads, then hands the access-log rows it staged to the
    /// log's writer (as refused when `work` failed) and answers only once they are durable: a
    /// read whose rows cannot be written fails UNAVAILABLE, whatever it read.
    pub async fn read_with<T>(
        &self,
        work: impl AsyncFnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let in_flight = self.log.read_begins();
        let mut session = self.read().await?;
        let result = work(&mut session).await;
        session.count();
        let mut staged = std::mem::take(&mut session.staged);
        if staged.is_empty() {
            return result;
        }
        if result.is_err() {
            // The call did not get what it asked (an item the reader's sight hides, a revision
            // the plan does not have): whatever the policy said, the patient reads that it was
            // tried and refused, as for a write that failed.
            staged = staged.into_iter().map(access_log::LogRow::of_failed).collect();
        }
        // On PostgreSQL a lone read writes its rows itself, on the connection it holds: a
        // batch of one would cost a hand-over and a second connection. SQLite's read
        // connections are read-only, and its one writer takes every row.
        if self.backend == Backend::Postgres && in_flight.alone() {
            session.insert_log_rows(&staged).await.map_err(|e| match e {
                Error::Internal(_) => {
                    tracing::warn!(error = %e, "a read's access-log row failed");
                    Error::Unavailable("the access log cannot be written: retry".into())
                }
                other => other,
            })?;
            return result;
        }
        // The connection goes back to the pool before the read waits for the log.
        drop(session);
        self.log.append(staged).await?;
        result
    }

    /// Runs `work` in one write transaction, which commits when `work` succeeds and rolls back
    /// otherwise, so a failed request changes nothing: not even what it wrote before a later
    /// access check refused it. Quickwit's metastore does the same with `run_with_tx!`, to
    /// make the code trivially correct. The decisions a failed request met are then logged on
    /// their own, through the log's writer, each as refused (`LogRow::of_failed`), so the
    /// patient still sees that it was tried.
    ///
    /// Work that collided with concurrent work (`Error::Contention`: a deadlock, a
    /// serialization failure, a busy database) is rolled back and run once more, in a fresh
    /// transaction; a second collision is the client's to retry.
    pub async fn write_with<T>(
        &self,
        work: impl AsyncFnOnce(&mut Session) -> Result<T> + Clone,
    ) -> Result<T> {
        let (result, decisions) = match self.write_once(work.clone()).await {
            (Err(Error::Contention), _) => {
                // The retry decides again, and logs what it decides.
                tracing::info!("retrying a write that collided with another");
                self.write_once(work).await
            }
            done => done,
        };
        if result.is_err() && !decisions.is_empty() {
            let failed = decisions.into_iter().map(access_log::LogRow::of_failed).collect();
            self.log.append(failed).await?;
        }
        if result.is_ok() {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }

    /// A receiver that sees each write this node commits (`commits`).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// One attempt at a write: its result, and the decisions it logged in its transaction.
    async fn write_once<T>(
        &self,
        work: impl AsyncFnOnce(&mut Session) -> Result<T>,
    ) -> (Result<T>, Vec<access_log::LogRow>) {
        let mut session = match self.write().await {
            Ok(session) => session,
            Err(e) => return (Err(e), Vec::new()),
        };
        let mut result = work(&mut session).await;
        session.count();
        let decisions = std::mem::take(&mut session.staged);
        if result.is_ok()
            && let Err(e) = session.insert_log_rows(&decisions).await
        {
            result = Err(e);
        }
        (session.finish(result).await, decisions)
    }

    /// A session for reads: each statement commits on its own.
    async fn read(&self) -> Result<Session> {
        let conn = self.pool.acquire().await.map_err(db)?;
        Ok(Session {
            conn: Conn::Read(conn),
            backend: self.backend,
            statements: 0,
            staged: Vec::new(),
        })
    }

    /// A session for a write: one transaction, begun so that it holds the write lock from the
    /// start on SQLite (a deferred one fails under concurrent writers). End it with `finish`.
    async fn write(&self) -> Result<Session> {
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
        .map_err(db)?;
        Ok(Session {
            conn: Conn::Write(tx),
            backend: self.backend,
            statements: 0,
            staged: Vec::new(),
        })
    }

    /// Stops the access log's writer once every row handed to it is durable, then closes every
    /// connection; in-flight sessions finish first.
    pub async fn close(&self) {
        self.log.close().await;
        let task = self.log_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "the access log's writer ended abnormally");
        }
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Applies the migrations of `backend` that have not run yet.
async fn migrate(backend: Backend, pool: &AnyPool) -> Result<()> {
    let migrator = match backend {
        Backend::Sqlite => &sqlite::MIGRATOR,
        Backend::Postgres => &postgres::MIGRATOR,
    };
    migrator.run(pool).await.map_err(Error::internal)
}

enum Conn {
    Read(PoolConnection<Any>),
    Write(Transaction<'static, Any>),
}

/// One unit of work against the database: either plain reads, or one write transaction whose
/// changes and access-log rows commit together or not at all.
pub struct Session {
    conn: Conn,
    backend: Backend,
    statements: u32,
    /// The access-log rows of the decisions made so far (`Session::log_access`): a read's for
    /// the log's writer, a write's for its transaction, or, should it fail and roll back, to
    /// log again as refused.
    staged: Vec<access_log::LogRow>,
}

impl Session {
    /// The connection, for one statement: each call counts one.
    fn conn(&mut self) -> &mut AnyConnection {
        self.statements += 1;
        match &mut self.conn {
            Conn::Read(c) => c,
            Conn::Write(tx) => tx,
        }
    }

    /// Whether this session writes, on PostgreSQL: its reads of a plan must take the plan's
    /// row lock at once, as SQLite's `BEGIN IMMEDIATE` takes the database's, so that what a
    /// write checks (a goal exists, a member serves) cannot change before it writes.
    fn locks_rows(&self) -> bool {
        matches!(self.conn, Conn::Write(_)) && self.backend == Backend::Postgres
    }

    /// Logs how many statements the session ran (target `samvirke::statements`, at debug
    /// level), within the request's span: what a call costs the database.
    fn count(&self) {
        tracing::debug!(
            target: "samvirke::statements",
            statements = self.statements,
            write = matches!(self.conn, Conn::Write(_)),
            "session ended"
        );
    }

    /// Ends the session with the request's result: a write commits when the request
    /// succeeded and rolls back otherwise.
    async fn finish<T>(self, result: Result<T>) -> Result<T> {
        let Conn::Write(tx) = self.conn else {
            return result;
        };
        if result.is_ok() {
            tx.commit().await.map_err(db)?;
        } else if let Err(e) = tx.rollback().await {
            tracing::warn!(error = %e, "rollback failed");
        }
        result
    }
}

impl Session {
    /// Checks that the plan `of` has room for one more of `holding`; `FAILED_PRECONDITION` when
    /// full. Writes to a plan hold its row lock, so the
    /// count cannot change before the insert that follows.
    pub(crate) async fn check_room(
        &mut self,
        holding: Holding,
        pass: &PlanPass,
        now: Instant,
    ) -> Result<()> {
        let of = pass.id();
        let sql = match holding {
            Holding::Goals => "SELECT CAST(COUNT(*) AS BIGINT) FROM goals WHERE plan_id = $1",
            Holding::Measures => "SELECT CAST(COUNT(*) AS BIGINT) FROM measures WHERE plan_id = $1",
            Holding::Evaluations => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM measure_evaluations WHERE plan_id = $1"
            }
            Holding::Adjustments => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM goal_adjustments WHERE plan_id = $1"
            }
            Holding::Members => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM members WHERE plan_id = $1 \
                 AND (end_time IS NULL OR end_time > $2)"
            }
            Holding::Meetings => "SELECT CAST(COUNT(*) AS BIGINT) FROM meetings WHERE plan_id = $1",
            Holding::Blocks => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM blocks WHERE plan_id = $1 \
                 AND lift_time IS NULL"
            }
            Holding::Scopes => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM access_scopes WHERE plan_id = $1"
            }
        };
        let mut query = sqlx::query_scalar::<_, i64>(sql).bind(of.to_string());
        if holding == Holding::Members {
            query = query.bind(now.0);
        }
        let held = query.fetch_one(self.conn()).await.map_err(db)?;
        holding.check_room(held)
    }
}

/// How a query ends, in one place: run on the session's connection, with a failure translated
/// by `db`.
pub(crate) trait Run<O> {
    /// Every row the query returns.
    async fn all(self, session: &mut Session) -> Result<Vec<O>>;
    /// The row the query returns, if any.
    async fn optional(self, session: &mut Session) -> Result<Option<O>>;
    /// The one row the query returns.
    async fn one(self, session: &mut Session) -> Result<O>;
}

/// A statement that changes rows.
pub(crate) trait Execute {
    /// Runs the statement; returns how many rows it changed.
    async fn run(self, session: &mut Session) -> Result<u64>;
}

impl<'q> Execute for sqlx::query::Query<'q, Any, AnyArguments> {
    async fn run(self, session: &mut Session) -> Result<u64> {
        Ok(self.execute(session.conn()).await.map_err(db)?.rows_affected())
    }
}

impl<'q> Run<AnyRow> for sqlx::query::Query<'q, Any, AnyArguments> {
    async fn all(self, session: &mut Session) -> Result<Vec<AnyRow>> {
        self.fetch_all(session.conn()).await.map_err(db)
    }
    async fn optional(self, session: &mut Session) -> Result<Option<AnyRow>> {
        self.fetch_optional(session.conn()).await.map_err(db)
    }
    async fn one(self, session: &mut Session) -> Result<AnyRow> {
        self.fetch_one(session.conn()).await.map_err(db)
    }
}

impl<'q, O> Run<O> for sqlx::query::QueryScalar<'q, Any, O, AnyArguments>
where
    O: Send + Unpin,
    (O,): for<'r> sqlx::FromRow<'r, AnyRow>,
{
    async fn all(self, session: &mut Session) -> Result<Vec<O>> {
        self.fetch_all(session.conn()).await.map_err(db)
    }
    async fn optional(self, session: &mut Session) -> Result<Option<O>> {
        self.fetch_optional(session.conn()).await.map_err(db)
    }
    async fn one(self, session: &mut Session) -> Result<O> {
        self.fetch_one(session.conn()).await.map_err(db)
    }
}

/// Translates a database failure into the domain's terms, in one place, by its kind
/// (`fault`): the client may retry what the database could not do now, and only what is a
/// fault of ours is INTERNAL. Callers that expect a particular constraint violation check for
/// it first.
pub(crate) fn db(e: sqlx::Error) -> Error {
    match fault(&e) {
        Fault::Unavailable => {
            tracing::warn!(error = %e, "database unavailable");
            Error::Unavailable("the database is unavailable for the moment: retry".into())
        }
        Fault::Contention => {
            tracing::info!(error = %e, "database contention");
            Error::Contention
        }
        Fault::Ours => Error::internal(e),
    }
}

/// What kind of failure a database error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The database cannot serve now: unreachable, restarting, out of resources.
    Unavailable,
    /// The work collided with concurrent work and may succeed if run again.
    Contention,
    /// Anything else: a fault of ours.
    Ours,
}

/// Classifies a database error: PostgreSQL's by SQLSTATE class (Appendix A of its manual),
/// SQLite's by primary result code (sqlite.org/rescode.html).
pub(crate) fn fault(e: &sqlx::Error) -> Fault {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Fault::Unavailable,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if code.len() == 5 {
                // PostgreSQL: a SQLSTATE, always five characters.
                match (&code[..2], &*code) {
                    (_, "40001" | "40P01") => Fault::Contention,
                    // connection exception, insufficient resources, operator intervention
                    ("08" | "53" | "57", _) => Fault::Unavailable,
                    _ => Fault::Ours,
                }
            } else {
                // SQLite: an extended result code (at most four digits), whose low byte is the
                // primary one.
                match code.parse::<u32>().map(|extended| extended & 0xff) {
                    // BUSY, LOCKED
                    Ok(5 | 6) => Fault::Contention,
                    // IOERR, FULL, CANTOPEN
                    Ok(10 | 13 | 14) => Fault::Unavailable,
                    _ => Fault::Ours,
                }
            }
        }
        _ => Fault::Ours,
    }
}

/// Whether `e` is a unique-constraint violation, on either backend.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Decodes a stored value that only valid data could have produced; failure means the
/// database holds something the code never writes.
pub(crate) fn stored<T>(what: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| Error::internal(format!("unexpected stored {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database error with only a code, as either driver reports one.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "code {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn database_failures_are_classified_by_their_codes() {
        let of = |code| fault(&sqlx::Error::Database(Box::new(Coded(code))));
        // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, connection failure,
        // too many connections, disk full; serialization failure and deadlock.
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "53300", "53100"] {
            assert_eq!(of(code), Fault::Unavailable, "{code}");
        }
        assert_eq!(of("40001"), Fault::Contention);
        assert_eq!(of("40P01"), Fault::Contention);
        // A unique violation or a syntax error is ours to explain, not the client's to retry.
        assert_eq!(of("23505"), Fault::Ours);
        assert_eq!(of("42601"), Fault::Ours);
        // SQLite: BUSY, BUSY_SNAPSHOT (517), LOCKED; IOERR_FSYNC (1034), FULL, CANTOPEN.
        for code in ["5", "517", "6"] {
            assert_eq!(of(code), Fault::Contention, "{code}");
        }
        for code in ["10", "1034", "13", "14"] {
            assert_eq!(of(code), Fault::Unavailable, "{code}");
        }
        assert_eq!(of("2067"), Fault::Ours);
        assert_eq!(fault(&sqlx::Error::PoolTimedOut), Fault::Unavailable);
        assert_eq!(fault(&sqlx::Error::RowNotFound), Fault::Ours);
    }

    /// A write that collides is run once more in a fresh transaction; a second collision is the
    /// client's, and what the first attempt wrote is gone.
    #[tokio::test]
    async fn a_colliding_write_is_retried_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = std::env::temp_dir().join(format!("samvirke-store-{}", uuid::Uuid::now_v7()));
        let url = DatabaseUrl(format!("sqlite://{}/s.db", dir.display()));
        let store = Store::open(&url).await.unwrap();
        let org = crate::domain::ids::OrgNumber::parse("o", "910000004").unwrap();
        let attempts = AtomicUsize::new(0);
        let always = store
            .write_with(async |s| {
                attempts.fetch_add(1, Ordering::SeqCst);
                let registry = crate::registry::parse_csv(
                    "organisasjonsnummer,navn,organisasjonsform.kode\n910000004,Nordby kommune,KOMM\n"
                        .as_bytes(),
                )?;
                s.upsert_organisations(&registry, Instant::now()).await?;
                Err::<(), _>(Error::Contention)
            })
            .await;
        assert!(matches!(always, Err(Error::Contention)));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        let kept = store.read_with(async |s| s.organisation(&org).await).await.unwrap();
        assert!(kept.is_none(), "a rolled-back attempt left its write behind");

        let attempts = AtomicUsize::new(0);
        let second = store
            .write_with(async |_| match attempts.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::Contention),
                n => Ok(n),
            })
            .await;
        assert_eq!(second.unwrap(), 1);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A write refused after it wrote (a later access check denied it) changes nothing, and
    /// its refusal is in the log all the same.
    #[tokio::test]
    async fn a_refused_write_leaves_only_its_refusal() {
        use crate::domain::principal::Principal;
        use crate::domain::subject::{Subject, SubjectKind};
        let dir = std::env::temp_dir().join(format!("samvirke-store-{}", uuid::Uuid::now_v7()));
        let url = DatabaseUrl(format!("sqlite://{}/s.db", dir.display()));
        let store = Store::open(&url).await.unwrap();
        let org = crate::domain::ids::OrgNumber::parse("o", "910000004").unwrap();
        let who = Principal {
            subject: Subject::external(SubjectKind::System, "x").unwrap(),
            organisation: Some(org.clone()),
            national_id: None,
            person: None,
        };
        let refused = store
            .write_with(async |s| {
                let registry = crate::registry::parse_csv(
                    "organisasjonsnummer,navn,organisasjonsform.kode\n910000004,Nordby kommune,KOMM\n"
                        .as_bytes(),
                )?;
                s.upsert_organisations(&registry, Instant::now()).await?;
                let entry = AccessEntry {
                    organisation: &org,
                    plan: None,
                    complaint: None,
                    who: &who,
                    relations: String::new(),
                    roles: String::new(),
                    object: "plan",
                    action: "update",
                    allowed: false,
                };
                s.log_access(&[entry], Instant::now());
                Err::<(), _>(Error::NotFound("plan"))
            })
            .await;
        assert!(matches!(refused, Err(Error::NotFound(_))));
        let kept = store.read_with(async |s| s.organisation(&org).await).await.unwrap();
        assert!(kept.is_none(), "a refused write left what it wrote before");
        let refusals: i64 =
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_log WHERE allowed = 0")
                .fetch_one(&store.writer)
                .await
                .unwrap();
        assert_eq!(refusals, 1);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn database_urls_hide_passwords() {
        let url = DatabaseUrl("postgres://app:s3cret@db:5432/samvirke".into());
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/samvirke");
        assert!(!format!("{url:?}").contains("s3cret"));
        let plain = DatabaseUrl("sqlite://data/samvirke.db".into());
        assert_eq!(plain.to_string(), "sqlite://data/samvirke.db");
    }
}
