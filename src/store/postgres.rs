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
