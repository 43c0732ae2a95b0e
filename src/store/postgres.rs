//! PostgreSQL, for production. Transactions run at the default isolation (read committed); the
//! writes that must not race are guarded by constraints, and stale etags by conditional updates.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use crate::domain::Result;

/// The PostgreSQL schema's migrations, embedded in the binary.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

pub(super) async fn open(options: AnyPoolOptions, url: &str) -> Result<AnyPool> {
    options.max_connections(16).connect(url).await.map_err(super::db)
}

/// The writing transaction's id, for the change feed's order (`changes.rs`): 64 bits, never
/// wrapping.
pub(super) const TRANSACTION_ID: &str = "pg_current_xact_id()::text::bigint";

/// The oldest transaction still running when the statement's snapshot was taken: the change
/// feed delivers only rows of older transactions, which can no longer add a row behind them.
pub(super) const FEED_HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
