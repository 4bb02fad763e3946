//! Warden's storage: one interface over SQLite and PostgreSQL (OPS-1).
//!
//! Both engines run the same SQL through sqlx's `Any` driver (ids are TEXT, times integer
//! milliseconds, booleans integers) so that there is one code path and one conformance suite
//! (`tests/conformance.rs`), garage-style. Where the engines must differ — column types in the
//! migrations, `FOR UPDATE SKIP LOCKED` when claiming jobs, locking the audit chain head, the
//! isolation level of a read snapshot — the [`Engine`] says which text to use.
//!
//! Every write happens inside a [`WriteTx`]. A use case puts its state change, its audit event
//! ([`audit`]) and its timers ([`jobs`]) in the same transaction, so either all of them are
//! stored or none is. On SQLite, write transactions are serialised in-process and begin with
//! `BEGIN IMMEDIATE`, so a read-then-write never fails half-way with a stale snapshot.
//!
//! Tenant isolation lives here, not only in handlers: every read that a tenant can reach takes a
//! [`Scope`] and adds the account condition to its SQL.

pub mod accounts;
pub mod assessments;
pub mod audit;
pub mod claims;
pub mod ddos;
pub mod enforcement;
pub mod jobs;
pub mod lifecycle;
pub mod mail;
pub mod metrics;
pub mod outbound;
pub mod reports;
pub mod resources;
pub mod scan;
pub mod testing;
pub mod tokens;
pub mod unblock;
pub mod users;
pub mod vulnerabilities;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use warden_domain::code::Code;
pub use warden_domain::identity::Scope;

/// A storage failure. Database errors are kept for the log; the API shows only the variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A unique value is already taken (an identifier owned by another resource, a dedup key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A migration failed; the message names it.
    #[error("migration {0} failed: {1}")]
    Migration(String, String),
    /// The database URL names no supported engine.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...): {0}")]
    UnsupportedUrl(String),
    /// Stored data could not be decoded (a corrupted row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A stored code is not one this version knows (a row written by a newer version, or
    /// corrupted): never read as a default.
    #[error(
        "column {column} holds {value:?}, which is not a known {what} (expected one of {expected})"
    )]
    UnknownCode {
        /// `table.column`.
        column: String,
        /// The stored value (cut to 64 characters).
        value: String,
        /// What the column holds ("case state").
        what: &'static str,
        /// The codes this version knows.
        expected: String,
    },
    /// [`Store::open_existing`]: there is no database there, or it lacks Warden's schema; the
    /// message names the file or database and how to create it.
    #[error("{0}")]
    NotInitialised(String),
}

impl StoreError {
    /// Whether this is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] with `msg`.
pub(crate) fn conflict_on_unique<T>(
    res: std::result::Result<T, sqlx::Error>,
    msg: impl FnOnce() -> String,
) -> Result<T> {
    match res {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(msg()))
        }
        other => other.map_err(Into::into),
    }
}

/// Result alias for storage calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite: one node.
    Sqlite,
    /// PostgreSQL: several nodes may share it.
    Postgres,
}

/// Pool and engine settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite `synchronous` pragma: `normal` (survives a process crash) or `full` (also a power
    /// loss).
    pub sqlite_synchronous: String,
}

impl StoreOptions {
    /// Options for `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 8,
            sqlite_synchronous: "normal".into(),
        }
    }
}

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction: commit it, or drop it to roll back.
#[derive(Debug)]
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    engine: Engine,
    chain: Option<audit::ChainHead>,
    /// [`WriteTx::prefer_indexes`] was set.
    prefers_indexes: bool,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits everything written in this transaction.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// On PostgreSQL, steers the planner to the indexes for key lookups, for the rest of the
    /// transaction (`SET LOCAL enable_seqscan = off`, once). Intake looks cases up by
    /// correlation key in an index; on a table that grew fast since its last ANALYZE the
    /// planner believes it is tiny and scans it instead (measured: 20 ms per lookup of 100 keys
    /// over 55,000 cases, against 0.2 ms by index). The transactions that ask for it go on with
    /// inserts and key lookups only, so it is not turned back: a round trip fewer each.
    pub(crate) async fn prefer_indexes(&mut self) -> Result<()> {
        if self.engine == Engine::Postgres && !self.prefers_indexes {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(self.conn())
                .await?;
            self.prefers_indexes = true;
        }
        Ok(())
    }
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Migrations, in pairs per engine; append only.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "lifecycle",
        sqlite: include_str!("../migrations/sqlite/0002_lifecycle.sql"),
        postgres: include_str!("../migrations/postgres/0002_lifecycle.sql"),
    },
    Migration {
        version: 3,
        name: "scan",
        sqlite: include_str!("../migrations/sqlite/0003_scan.sql"),
        postgres: include_str!("../migrations/postgres/0003_scan.sql"),
    },
    Migration {
        version: 4,
        name: "enforcement",
        sqlite: include_str!("../migrations/sqlite/0004_enforcement.sql"),
        postgres: include_str!("../migrations/postgres/0004_enforcement.sql"),
    },
    Migration {
        version: 5,
        name: "deliveries",
        sqlite: include_str!("../migrations/sqlite/0005_deliveries.sql"),
        postgres: include_str!("../migrations/postgres/0005_deliveries.sql"),
    },
    Migration {
        version: 6,
        name: "account_id_case",
        sqlite: include_str!("../migrations/sqlite/0006_account_id_case.sql"),
        postgres: include_str!("../migrations/postgres/0006_account_id_case.sql"),
    },
    Migration {
        version: 7,
        name: "console",
        sqlite: include_str!("../migrations/sqlite/0007_console.sql"),
        postgres: include_str!("../migrations/postgres/0007_console.sql"),
    },
    Migration {
        version: 8,
        name: "claims_notes",
        sqlite: include_str!("../migrations/sqlite/0008_claims_notes.sql"),
        postgres: include_str!("../migrations/postgres/0008_claims_notes.sql"),
    },
    Migration {
        version: 9,
        name: "console_indexes",
        sqlite: include_str!("../migrations/sqlite/0009_console_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0009_console_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "outbound",
        sqlite: include_str!("../migrations/sqlite/0010_outbound.sql"),
        postgres: include_str!("../migrations/postgres/0010_outbound.sql"),
    },
    Migration {
        version: 11,
        name: "ddos",
        sqlite: include_str!("../migrations/sqlite/0011_ddos.sql"),
        postgres: include_str!("../migrations/postgres/0011_ddos.sql"),
    },
    Migration {
        version: 12,
        name: "traffic_sources",
        sqlite: include_str!("../migrations/sqlite/0012_traffic_sources.sql"),
        postgres: include_str!("../migrations/postgres/0012_traffic_sources.sql"),
    },
    Migration {
        version: 13,
        name: "assessments",
        sqlite: include_str!("../migrations/sqlite/0013_assessments.sql"),
        postgres: include_str!("../migrations/postgres/0013_assessments.sql"),
    },
    Migration {
        version: 14,
        name: "vulnerability_reports",
        sqlite: include_str!("../migrations/sqlite/0014_vulnerability_reports.sql"),
        postgres: include_str!("../migrations/postgres/0014_vulnerability_reports.sql"),
    },
    Migration {
        version: 15,
        name: "mail_intake",
        sqlite: include_str!("../migrations/sqlite/0015_mail_intake.sql"),
        postgres: include_str!("../migrations/postgres/0015_mail_intake.sql"),
    },
];

/// The file of an `sqlite:` URL (`None` for other engines and in-memory databases).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Creates a missing SQLite file readable by its owner only (0600), before SQLite creates it
/// 0644; SQLite gives the `-wal` and `-shm` files the database file's mode. Best effort: when
/// this fails, opening the database reports why.
fn create_private_file(path: &std::path::Path) {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let _ = o.open(path);
}

impl Store {
    /// Connects to `opts.url` (creating an SQLite file if needed) without migrating.
    pub async fn connect(opts: &StoreOptions) -> Result<Store> {
        Store::connect_mode(opts, "rwc").await
    }

    /// Connects to an existing database whose migrations are all applied, and creates nothing:
    /// a missing SQLite file, or a database without (all of) Warden's schema, is
    /// [`StoreError::NotInitialised`]. For commands that read or maintain a database: `warden
    /// audit verify` must not vouch for an empty database it has just created.
    pub async fn open_existing(opts: &StoreOptions) -> Result<Store> {
        if let Some(path) = sqlite_path(&opts.url)
            && !path.is_file()
        {
            return Err(StoreError::NotInitialised(format!(
                "there is no Warden database at {}; `warden migrate` or `warden serve` creates it, or point --database-url (database.url) at an existing one",
                path.display()
            )));
        }
        let store = Store::connect_mode(opts, "rw").await?;
        let missing = match store.applied_migrations().await {
            Ok(applied) => MIGRATIONS
                .iter()
                .filter(|m| !applied.contains(&m.version))
                .count(),
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        if missing > 0 {
            store.close().await;
            return Err(StoreError::NotInitialised(format!(
                "no up-to-date Warden schema there ({missing} of {} migrations not applied); `warden migrate` applies them",
                MIGRATIONS.len()
            )));
        }
        Ok(store)
    }

    /// After a bulk load: on PostgreSQL, `VACUUM ANALYZE` — what autovacuum does by itself
    /// within a minute or two of a large insert (planner statistics, and the visibility map
    /// that lets counts read an index alone); on SQLite nothing, since Warden never runs
    /// `ANALYZE` there and measurements should see what a deployment sees. For benchmarks, so
    /// that they measure the steady state rather than the first minute after their fill.
    pub async fn settle_after_bulk_load(&self) -> Result<()> {
        if self.engine == Engine::Postgres {
            sqlx::query("VACUUM ANALYZE").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Whether Warden's schema is there (at least one migration applied). `warden demo` fills
    /// only a database that holds none, so that made-up cases never mix with real ones.
    pub async fn has_schema(&self) -> Result<bool> {
        Ok(!self.applied_migrations().await?.is_empty())
    }

    /// Versions in `schema_migrations`; none when the table does not exist.
    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let exists = match self.engine {
            Engine::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            }
            Engine::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            }
        };
        let r = sqlx::query(exists).fetch_one(&self.pool).await?;
        if i(&r, "n")? == 0 {
            return Ok(Vec::new());
        }
        sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| i(r, "version"))
            .collect()
    }

    /// Connects; an SQLite URL without a `mode=` gets `sqlite_mode` (`rwc` creates the file).
    async fn connect_mode(opts: &StoreOptions, sqlite_mode: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let url = opts.url.as_str();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let mut url = url.to_string();
        if engine == Engine::Sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode="
            } else {
                "?mode="
            });
            url.push_str(sqlite_mode);
        }
        if url.contains("mode=rwc")
            && let Some(path) = sqlite_path(&url)
        {
            create_private_file(&path);
        }
        let sync = match opts.sqlite_synchronous.as_str() {
            "full" => "FULL",
            _ => "NORMAL",
        };
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        let pragmas = match sync {
                            "FULL" => "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                            _ => "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                        };
                        conn.execute(pragmas).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Store {
            pool,
            engine,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Connects and runs pending migrations.
    pub async fn open(opts: &StoreOptions) -> Result<Store> {
        let store = Store::connect(opts).await?;
        if store.migrate().await? == 0 {
            return Ok(store);
        }
        // Regression: a pooled SQLite connection that read the schema before a migration could
        // prepare `SELECT * FROM accounts` with the old column count; SQLite re-prepares it on
        // the next step with the new one, and sqlx (which kept the old column list) panicked in
        // its worker ("index out of bounds: the len is 6 but the index is 6"). Connections
        // opened after the migrations see only the final schema.
        store.close().await;
        Store::connect(opts).await
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for reads.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs every migration not yet applied, each in its own transaction; returns how many ran.
    pub async fn migrate(&self) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        let mut applied = 0;
        for m in MIGRATIONS {
            let mut tx = self.begin_write().await?;
            if self.engine == Engine::Postgres {
                // Two nodes starting together must not both migrate.
                sqlx::query("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                    .execute(tx.conn())
                    .await?;
            }
            let done: Option<AnyRow> =
                sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(tx.conn())
                    .await?;
            if done.is_some() {
                continue;
            }
            let sql = match self.engine {
                Engine::Sqlite => m.sqlite,
                Engine::Postgres => m.postgres,
            };
            tx.conn().execute(sql).await.map_err(|e| {
                StoreError::Migration(format!("{:04}_{}", m.version, m.name), e.to_string())
            })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
            )
            .bind(m.version)
            .bind(m.name)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            applied += 1;
            tracing::info!(version = m.version, name = m.name, "migration applied");
        }
        Ok(applied)
    }

    /// Begins a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let (tx, guard) = match self.engine {
            Engine::Sqlite => {
                let guard = self.write_lock.clone().lock_owned().await;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(guard))
            }
            Engine::Postgres => (self.pool.begin().await?, None),
        };
        Ok(WriteTx {
            tx,
            engine: self.engine,
            chain: None,
            prefers_indexes: false,
            _guard: guard,
        })
    }

    /// A read transaction: one consistent snapshot of several reads. SQLite (WAL) holds the
    /// snapshot of the first read until the end; PostgreSQL needs `REPEATABLE READ` for that —
    /// under its default `READ COMMITTED` every statement sees the latest commits.
    pub async fn begin_read(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin().await?,
            Engine::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A URL with any password replaced by `***`, for messages and `warden config`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = url.get(s + 3..at).unwrap_or_default();
            match creds.split_once(':') {
                Some((user, _)) => format!(
                    "{}{user}:***{}",
                    url.get(..s + 3).unwrap_or_default(),
                    url.get(at..).unwrap_or_default()
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A new id with a type prefix, sortable by creation: `case_0192f3a4b5c6_0003a1b2c3d4`.
///
/// The time part comes from the caller's clock; within one process ids are strictly increasing
/// even when the clock stands still (tests, or many ids in one millisecond), because a sequence
/// number follows the time. The random tail keeps ids of different nodes apart.
pub fn new_id(prefix: &str, now_ms: i64) -> String {
    static LAST: std::sync::Mutex<(i64, u32)> = std::sync::Mutex::new((0, 0));
    let (ms, seq) = match LAST.lock() {
        Ok(mut last) => {
            let now = now_ms.max(0);
            *last = if now > last.0 {
                (now, 0)
            } else if last.1 >= 0xffff {
                (last.0 + 1, 0) // 65,536 ids in one millisecond: borrow the next one
            } else {
                (last.0, last.1 + 1)
            };
            *last
        }
        Err(_) => (now_ms.max(0), 0),
    };
    let mut r = [0u8; 4];
    // getrandom reads the OS; failing that, time and sequence still give a unique id here.
    if getrandom::getrandom(&mut r).is_err() {
        r = [0; 4];
    }
    format!("{prefix}_{ms:012x}_{seq:04x}{}", hex::encode(r))
}

/// Reads a TEXT column.
pub(crate) fn s(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(Into::into)
}

/// Reads a nullable TEXT column.
pub(crate) fn os(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(Into::into)
}

/// Decodes a code from its stored text, or fails naming the column and the value.
pub fn decode<T: Code>(table: &str, column: &str, value: &str) -> Result<T> {
    T::from_code(value).ok_or_else(|| StoreError::UnknownCode {
        column: format!("{table}.{column}"),
        value: value.chars().take(64).collect(),
        what: T::WHAT,
        expected: T::expected(),
    })
}

/// Reads a TEXT column holding a code of `T` (of table `table`, for the error).
pub(crate) fn c<T: Code>(row: &AnyRow, table: &str, col: &str) -> Result<T> {
    decode(table, col, &s(row, col)?)
}

/// Reads a nullable TEXT column holding a code of `T`.
pub(crate) fn oc<T: Code>(row: &AnyRow, table: &str, col: &str) -> Result<Option<T>> {
    os(row, col)?.map(|v| decode(table, col, &v)).transpose()
}

/// Reads an integer column.
pub(crate) fn i(row: &AnyRow, col: &str) -> Result<i64> {
    row.try_get::<i64, _>(col).map_err(Into::into)
}

/// Reads a nullable integer column.
pub(crate) fn oi(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    row.try_get::<Option<i64>, _>(col).map_err(Into::into)
}

/// Reads a nullable BLOB/BYTEA column.
pub(crate) fn ob(row: &AnyRow, col: &str) -> Result<Option<Vec<u8>>> {
    row.try_get::<Option<Vec<u8>>, _>(col).map_err(Into::into)
}

/// `($1, $2, ...), ($n+1, ...)` for a multi-row INSERT of `rows` rows of `cols` columns.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// Keys per `IN (...)` lookup. PostgreSQL plans a long IN list as a sequential scan (measured:
/// 500 keys over 55,000 cases took 15 ms, 100 keys 0.2 ms via the index).
pub(crate) const KEYS_PER_QUERY: usize = 100;

impl Engine {
    /// Rows per multi-row statement. Small on purpose: with sqlx 0.9 the cost per row grows with
    /// the number of parameters in a statement (measured with `warden bench intake`: on SQLite,
    /// 500 rows per statement was ~3x slower per row than 50, and 20 was fastest; PostgreSQL pays a
    /// network round trip per statement and does best around 50).
    pub(crate) fn rows_per_statement(self) -> usize {
        match self {
            Engine::Sqlite => 20,
            Engine::Postgres => 50,
        }
    }
}

/// ` AND {column} = ${n}` and the account to bind for a scope limited to one account (an
/// impossible account for [`Scope::Nobody`]); nothing for every account. Not
/// `($n = '' OR column = $n)`: SQLite plans a statement before it sees the values, so a
/// condition that may be vacuous hides its column from the planner, which then walks the whole
/// table (see `reports::case_conditions`).
pub(crate) fn scope_condition(scope: &Scope, column: &str, n: usize) -> (String, Option<String>) {
    match scope.sql_param() {
        "" => (String::new(), None),
        account => (format!(" AND {column} = ${n}"), Some(account.to_string())),
    }
}

/// A value bound by [`Conditions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    /// A TEXT value.
    Text(String),
    /// An integer (times in ms).
    Int(i64),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(v.to_string())
    }
}

/// The optional conditions of a list or a count: ` AND ...` for each filter that is set, with
/// its bind, numbered on from the statement's own placeholders. A filter that is not set adds
/// nothing — never `($n = '' OR column = $n)`, whose column SQLite's planner cannot use (see
/// [`scope_condition`] and `reports::case_conditions`); PostgreSQL's generic plans fare no
/// better.
#[derive(Debug)]
pub(crate) struct Conditions {
    sql: String,
    binds: Vec<Bind>,
    first: usize,
}

impl Conditions {
    /// No conditions yet; the first bind will be `$first`.
    pub(crate) fn from(first: usize) -> Conditions {
        Conditions {
            sql: String::new(),
            binds: Vec::new(),
            first,
        }
    }

    fn next(&self) -> usize {
        self.first + self.binds.len()
    }

    /// `column` is the scope's account, when the scope is limited to one ([`scope_condition`]).
    pub(crate) fn scope(mut self, scope: &Scope, column: &str) -> Conditions {
        let (sql, bind) = scope_condition(scope, column, self.next());
        self.sql.push_str(&sql);
        self.binds.extend(bind.map(Bind::Text));
        self
    }

    /// `column = value`, when there is a value (blank is none).
    pub(crate) fn eq(mut self, column: &str, value: Option<&str>) -> Conditions {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.sql
                .push_str(&format!(" AND {column} = ${}", self.next()));
            self.binds.push(Bind::Text(v.to_string()));
        }
        self
    }

    /// `column op value` (`op` one of `<`, `<=`, `>`, `>=`), when there is a value.
    pub(crate) fn cmp(
        mut self,
        column: &str,
        op: &'static str,
        value: Option<impl Into<Bind>>,
    ) -> Conditions {
        if let Some(v) = value {
            self.sql
                .push_str(&format!(" AND {column} {op} ${}", self.next()));
            self.binds.push(v.into());
        }
        self
    }

    /// A condition without binds (` AND ...`), when `on`.
    pub(crate) fn when(mut self, on: bool, sql: &'static str) -> Conditions {
        if on {
            self.sql.push_str(sql);
        }
        self
    }

    /// The conditions, each starting with ` AND `; empty when no filter is set.
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Binds the values to `q`, whose own placeholders come before `$first`.
    pub(crate) fn bind<'q>(
        self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for b in self.binds {
            q = match b {
                Bind::Text(v) => q.bind(v),
                Bind::Int(v) => q.bind(v),
            };
        }
        q
    }
}

/// Clamps a page size.
pub(crate) fn page(limit: i64) -> i64 {
    limit.clamp(1, 500)
}
