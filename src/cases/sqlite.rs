//! The SQLite backend: the default, one file in the data directory.
//!
//! Opened with WAL journaling and `synchronous=NORMAL`: a committed transaction is in the WAL
//! file before `commit` returns, so it survives the process being killed (SIGKILL, OOM, panic);
//! only a power loss or OS crash can lose the last few commits (never corrupting the file).
//! Foreign keys are on; writers wait up to the busy timeout for the lock.
//!
//! Every writing transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front: no
//! deadlock-prone read-then-upgrade, and event ids follow commit order (the outbox relies on it).
//! The SQL itself is shared with PostgreSQL (`sql.rs`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{SqlStr, Sqlite};

use super::store::OpenOptions;

/// The migrations in `migrations/sqlite`, embedded: `(version, description, sql)`, as sqlx
/// names them from `<version>_<description>.sql`. Add new files here too (a test checks).
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "cases",
        include_str!("../../migrations/sqlite/0001_cases.sql"),
    ),
    (
        2,
        "console",
        include_str!("../../migrations/sqlite/0002_console.sql"),
    ),
    (
        3,
        "scene evidence",
        include_str!("../../migrations/sqlite/0003_scene_evidence.sql"),
    ),
];

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
});

/// Cases in a SQLite file. Get one with [`open`](super::store::open) or
/// [`SqliteStore::open_file`].
pub struct SqliteStore {
    pool: SqlitePool,
    location: PathBuf,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its directory if missing) the database file at `path` and runs
    /// the migrations.
    pub async fn open_file(path: &Path, options: &OpenOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Database(format!("opening {}: {e}", path.display())))?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            location: path.to_owned(),
        })
    }

    /// A private in-memory database (one connection, gone when the store is dropped): tests.
    pub async fn open_memory() -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            location: PathBuf::from(":memory:"),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.location
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

super::sql::impl_case_store!(SqliteStore, Sqlite, Backend::Sqlite);
super::console::impl_console_store!(SqliteStore, Sqlite);
