//! SQLite, the embedded default: one file, WAL so readers never wait for the writer, foreign
//! keys on, `synchronous=FULL` because a lost write of health data is worse than a slow one.

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::domain::{Error, Result};

/// The SQLite schema's migrations, embedded in the binary.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

pub(super) async fn open(options: AnyPoolOptions, url: &str) -> Result<AnyPool> {
    let url = with_create_mode(url);
    if let Some(parent) = file_path(&url).and_then(|p| Path::new(p).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(Error::internal)?;
    }
    options
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(&url)
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
