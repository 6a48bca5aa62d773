//! Test support, not used by the hub: a fresh, empty database for each test hub or store test.
//!
//! With [`TEST_DATABASE_URL`] naming a PostgreSQL server (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`), each [`TestDatabase`] is a new database
//! `gl_test_<uuid>` created through that URL and dropped with the value. Without it, tests use
//! SQLite in their data directory, exactly as a hub does by default. The calls block on a
//! helper thread, so they work from plain `#[test]`s and from inside a tokio runtime alike.

use super::{Store, StoreError};
use sqlx::Connection;
use std::path::Path;
use std::sync::Arc;

/// The environment variable that switches the tests to PostgreSQL.
pub const TEST_DATABASE_URL: &str = "GLOBALLINK_TEST_DATABASE_URL";

/// The hub's own variable for the database; children spawned by tests get it.
const HUB_DATABASE_URL: &str = "GLOBALLINK_DATABASE_URL";

/// One test's database: a PostgreSQL database of its own, or SQLite in the data directory.
#[derive(Debug)]
pub struct TestDatabase {
    postgres: Option<Scratch>,
}

/// A database created for one test on the server behind `admin`.
#[derive(Debug)]
struct Scratch {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new, empty database on the engine the environment selects.
    pub fn fresh() -> Result<TestDatabase, StoreError> {
        let admin = match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.is_empty() => url,
            _ => return Ok(TestDatabase { postgres: None }),
        };
        let name = format!("gl_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&admin, &name).ok_or(StoreError::UnsupportedUrl)?;
        run_admin(&admin, format!("CREATE DATABASE {name}"))?;
        Ok(TestDatabase {
            postgres: Some(Scratch { admin, name, url }),
        })
    }

    /// Whether this database is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The `database_url` for a hub whose data directory is `data_dir`.
    pub fn url(&self, data_dir: &Path) -> String {
        match &self.postgres {
            Some(scratch) => scratch.url.clone(),
            None => crate::config::default_database_url(data_dir),
        }
    }

    /// The environment a `globallink` child process needs to use this database (nothing for
    /// SQLite, whose file follows `GLOBALLINK_DATA_DIR`).
    pub fn hub_env(&self) -> Option<(&'static str, &str)> {
        self.postgres
            .as_ref()
            .map(|scratch| (HUB_DATABASE_URL, scratch.url.as_str()))
    }

    /// Open (and migrate) the store for a hub whose data directory is `data_dir`.
    pub async fn open(&self, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        super::open(&self.url(data_dir)).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(scratch) = &self.postgres {
            // FORCE ends the connections a test hub may still hold. Best effort: a database
            // left behind only costs space on a test server.
            let _ = run_admin(
                &scratch.admin,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", scratch.name),
            );
        }
    }
}

/// `url` with its database (the path) replaced by `name`; None if `url` has no host part.
fn with_database(url: &str, name: &str) -> Option<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://")? + 3;
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// Run one statement on the server at `url`, on a thread of its own with its own runtime
/// (CREATE and DROP DATABASE cannot run inside a transaction, so this is a plain query).
fn run_admin(url: &str, sql: String) -> Result<(), StoreError> {
    let url = url.to_owned();
    let worker = std::thread::spawn(move || -> Result<(), StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::raw_sql(&sql).execute(&mut conn).await?;
            conn.close().await?;
            Ok(())
        })
    });
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_only() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/postgres", "gl_test_1").as_deref(),
            Some("postgres://u:p@127.0.0.1:5432/gl_test_1")
        );
        assert_eq!(
            with_database("postgresql://db.example/x?sslmode=require", "t").as_deref(),
            Some("postgresql://db.example/t?sslmode=require")
        );
        assert_eq!(
            with_database("postgres://localhost:5433", "t").as_deref(),
            Some("postgres://localhost:5433/t")
        );
        assert_eq!(with_database("not a url", "t"), None);
    }
}
