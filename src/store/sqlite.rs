//! SQLite, the embedded default: one file, WAL so readers never wait for the writer, foreign
//! keys on, `synchronous=FULL` because a lost write of health data is worse than a slow one.

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::domain::{Error, Result};

/// The SQLite schema's migrations, embedded in the binary.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The pragmas of every connection.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// The one writer connection, which creates the file when missing.
pub(super) async fn open_writer(options: AnyPoolOptions, url: &str) -> Result<AnyPool> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(Error::internal(
            "an in-memory SQLite database is not served: give a file, sqlite://PATH",
        ));
    }
    let url = with_create_mode(url);
    if let Some(parent) = file_path(&url).and_then(|p| Path::new(p).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(Error::internal)?;
    }
    connect(options.max_connections(1), &url, PRAGMAS).await
}

/// The read connections: `query_only`, so a read that tried to write would fail loudly.
pub(super) async fn open_readers(
    options: AnyPoolOptions,
    url: &str,
    readers: u32,
) -> Result<AnyPool> {
    let pragmas = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;";
    connect(options.max_connections(readers), url, pragmas).await
}

async fn connect(options: AnyPoolOptions, url: &str, pragmas: &'static str) -> Result<AnyPool> {
    options
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(pragmas).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(super::db)
}

/// Creates the database file when missing, unless the URL says otherwise.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn file_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The change feed's transaction id (`changes.rs`): 0, for SQLite's one writer at a time makes
/// the row's own sequence commit order.
pub(super) const TRANSACTION_ID: &str = "0";

/// The change feed's horizon: no transaction is ever behind, so every committed row is
/// delivered.
pub(super) const FEED_HORIZON: &str = "9223372036854775807";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(with_create_mode("sqlite://a.db?x=1"), "sqlite://a.db?x=1&mode=rwc");
        assert_eq!(with_create_mode("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
        assert_eq!(file_path("sqlite://dir/a.db?mode=rwc"), Some("dir/a.db"));
        assert_eq!(file_path("sqlite::memory:"), None);
    }
}
