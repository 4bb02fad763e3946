//! Test support shared by every crate's tests: throw-away SQLite and PostgreSQL databases.
//!
//! PostgreSQL tests need a reachable server (`WARDEN_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without one they print a loud notice and skip
//! on a developer machine; under `CI=true` they fail.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

/// The administrative URL tests create their databases through.
pub fn pg_admin_url() -> String {
    std::env::var("WARDEN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database for one test; `None` (with a loud notice) when no server is
/// reachable outside CI.
#[derive(Debug)]
pub struct PgDatabase {
    /// URL of the new database.
    pub url: String,
    name: String,
    admin: String,
}

impl PgDatabase {
    /// Creates `warden_t_<random>` through [`pg_admin_url`].
    pub async fn create() -> Option<PgDatabase> {
        PgDatabase::create_on(&pg_admin_url()).await
    }

    /// Creates `warden_t_<random>` through the administrative URL `admin` (benchmarks take it
    /// from `--pg-url`).
    #[allow(clippy::panic)]
    pub async fn create_on(admin: &str) -> Option<PgDatabase> {
        sqlx::any::install_default_drivers();
        let admin = admin.to_string();
        let pool = match AnyPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true and PostgreSQL is not reachable at {admin}: {e}");
                }
                eprintln!(
                    "\n!!!!!!!!\n!!! SKIPPING PostgreSQL test: no server at {admin} ({e}).\n!!! Set WARDEN_TEST_DATABASE_URL or start PostgreSQL; CI=true makes this a failure.\n!!!!!!!!\n"
                );
                return None;
            }
        };
        let name = crate::new_id("warden_t", 0).replace("warden_t_000000000000_", "warden_t_");
        let created = pool
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await;
        pool.close().await;
        #[allow(clippy::expect_used)]
        created.expect("CREATE DATABASE");
        let url = match admin.rfind('/') {
            Some(i)
                if admin
                    .get(..i)
                    .is_some_and(|p| p.ends_with(|c: char| c != '/')) =>
            {
                format!("{}/{name}", admin.get(..i).unwrap_or_default())
            }
            _ => format!("{admin}/{name}"),
        };
        Some(PgDatabase { url, name, admin })
    }

    /// Drops the database (after the test closed its pools).
    pub async fn drop_db(self) {
        if let Ok(pool) = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin)
            .await
        {
            let _ = pool
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
            pool.close().await;
        }
    }
}
