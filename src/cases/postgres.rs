//! The PostgreSQL backend, for deployments that already run a database server.
//!
//! Every writing transaction first takes a transaction-scoped advisory lock
//! ([`WRITE_LOCK_KEY`]). That serialises writers (a few per second at most in this service), so
//! identity values for `case_events.id` are handed out in commit order: a feed reader asking for
//! `id > cursor` can never miss an event that committed late with a smaller id. Reads take no
//! lock. The SQL itself is shared with SQLite (`sql.rs`).
//!
//! The pool's connect options hold the password; this type prints only the redacted URL.

use std::fmt;
use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, SqlStr};

use super::store::{redact_url, scrubbed, OpenOptions};

/// The advisory lock key every writing transaction holds (`pg_advisory_xact_lock`). Arbitrary;
/// other applications sharing the database must not use it.
pub const WRITE_LOCK_KEY: i64 = 0x6772_6964_7369_6768; // "gridsigh"

/// The migrations in `migrations/postgres`, embedded: `(version, description, sql)`, as sqlx
/// names them from `<version>_<description>.sql`. Add new files here too (a test checks).
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "cases",
        include_str!("../../migrations/postgres/0001_cases.sql"),
    ),
    (
        2,
        "console",
        include_str!("../../migrations/postgres/0002_console.sql"),
    ),
    (
        3,
        "scene evidence",
        include_str!("../../migrations/postgres/0003_scene_evidence.sql"),
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

/// Cases in a PostgreSQL database. Get one with [`open`](super::store::open) or
/// [`PgStore::connect`].
pub struct PgStore {
    pool: PgPool,
    url: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and runs the migrations
    /// (concurrent openers wait on sqlx's migration lock).
    pub async fn connect(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let redacted = redact_url(url);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(|e| scrubbed(e, url, &format!("connecting to {redacted}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| scrubbed(e, url, &format!("migrating {redacted}")))?;
        Ok(Self {
            pool,
            url: redacted,
        })
    }

    /// The database URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

super::sql::impl_case_store!(PgStore, Postgres, Backend::Postgres);
super::console::impl_console_store!(PgStore, Postgres);
