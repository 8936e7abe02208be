//! The case store: one trait, two databases.
//!
//! [`CaseStore`] is what the rest of the service sees; [`open`] picks the backend from a URL
//! (`sqlite:///abs/path.db` or a plain path → [`SqliteStore`],
//! `postgres://…` → [`PgStore`]) and runs the migrations. The trait is
//! dyn-compatible (methods return boxed futures) so the runtime can hold an
//! `Arc<dyn CaseStore>` whichever database the config names.
//!
//! Every write is one transaction that also appends its [`CaseEvent`]; event ids increase in
//! commit order on both backends, so [`CaseStore::events_after`] is a transactional outbox
//! the delivery stage can follow with a cursor.
//!
//! A database URL never appears unredacted in `Debug` output or errors: [`redact_url`] replaces
//! its password by `***`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::model::{Case, CaseEvent, CaseId, CaseState, Evidence, NewCandidate, NewEvidence};
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::domain::CameraId;

/// Most cases one [`CaseStore::list`] call returns.
pub const MAX_PAGE: u32 = 500;
/// Most events one [`CaseStore::events_after`] call returns.
pub const MAX_EVENTS: u32 = 1000;

/// What a store call can fail with. Messages are complete sentences for logs and API errors and
/// never contain a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such case (or the dedupe key / id named is unknown).
    #[error("not found: {0}")]
    NotFound(String),
    /// Someone else changed the case first (`expected_from` did not match, or the external id
    /// belongs to another case). Re-read and decide again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The workflow does not allow this move (`case 17: cannot go from rejected to confirmed`).
    #[error("{0}")]
    InvalidTransition(String),
    /// The request itself is wrong (bad field, bad URL, limit 0, …).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed (unreachable, busy, migration failed, …).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether trying the same thing again later may succeed: the database failed (down,
    /// busy, out of connections). Every other error is about the request itself.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match err {
            sqlx::Error::RowNotFound => StoreError::NotFound("no such row".to_owned()),
            // A constraint the row breaks: the same row is refused every time.
            sqlx::Error::Database(db)
                if matches!(
                    db.kind(),
                    ErrorKind::UniqueViolation
                        | ErrorKind::ForeignKeyViolation
                        | ErrorKind::NotNullViolation
                        | ErrorKind::CheckViolation
                ) =>
            {
                StoreError::Invalid(format!("the database refused it: {db}"))
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {err}"))
    }
}

/// Which database a store writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The future every [`CaseStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Which cases [`CaseStore::list`] returns; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseFilter {
    /// Any of these states.
    pub states: Vec<CaseState>,
    /// Any of these internal categories (exact names).
    pub categories: Vec<String>,
    pub camera: Option<CameraId>,
    /// Any of these cameras (a user's camera groups); empty does not filter.
    pub cameras: Vec<CameraId>,
    pub grid_code: Option<String>,
    pub street: Option<String>,
    /// `created_at >= since`.
    pub since: Option<SystemTime>,
    /// `created_at < until`.
    pub until: Option<SystemTime>,
    /// Case-insensitive substring of event name, category, event code, camera, grid code,
    /// community, street, zone, external id or notes. Not indexed: it scans the rows the other
    /// filters leave.
    pub text: Option<String>,
}

/// Where the next page starts: after the case with this `(created_at, id)`. Pages run newest
/// first. As text (`1715900000000_42`) it can travel through an API as an opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last returned case's `created_at`, Unix milliseconds.
    pub created_at_ms: i64,
    /// The last returned case's id.
    pub id: CaseId,
}

impl Cursor {
    /// The cursor that continues after `case`.
    pub fn after(case: &Case) -> Self {
        Cursor {
            created_at_ms: super::model::unix_millis(case.created_at),
            id: case.id,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.created_at_ms, self.id)
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || StoreError::Invalid(format!("cursor {s:?} is not of the form <ms>_<id>"));
        let (ms, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Cursor {
            created_at_ms: ms.parse().map_err(|_| bad())?,
            id: CaseId(id.parse().map_err(|_| bad())?),
        })
    }
}

/// One page of [`CaseStore::list`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Newest first (`created_at` desc, then id desc).
    pub cases: Vec<Case>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// A status callback from the case system, for [`CaseStore::set_external`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalUpdate {
    /// The case system's id (Open311 `service_request_id`). A case keeps the first one it gets;
    /// a different one later is a [`StoreError::Conflict`].
    pub external_id: String,
    /// The state the case system reports, mapped to ours by the delivery stage (`submitted`,
    /// `filed`, `dispatched`, `handled`, `closed`); `None` only records id and text. Must be the
    /// current state or an allowed move from it.
    pub state: Option<CaseState>,
    /// The case system's own words (`status`, `status_notes`), kept on the event.
    pub status_text: Option<String>,
}

/// How [`open_with`] sets up the connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Pool size (SQLite: readers; writers queue on one lock anyway).
    pub max_connections: u32,
    /// How long a call waits for a pooled connection, and `open` for the first one.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the database lock before failing.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Cases, their timeline and evidence, in one database.
///
/// Every method that changes a case writes the change and its [`CaseEvent`] in one
/// transaction. Implementations: [`SqliteStore`], [`PgStore`]; get one with [`open`].
pub trait CaseStore: Send + Sync + fmt::Debug {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// The console's tables (users, sessions, console cameras, settings, statistics) in the
    /// same database.
    fn console(&self) -> &dyn super::console::ConsoleStore;

    /// Stores a candidate with its `created` event and evidence rows, in one transaction.
    /// Returns `(case, true)`, or `(existing, false)` when a case with the same `dedupe_key`
    /// exists (nothing is written then). `Invalid` for bad fields or an unknown
    /// `recurrence_of`.
    fn insert_candidate(&self, new: NewCandidate) -> StoreFuture<'_, (Case, bool)>;

    /// One case; `NotFound` if there is none.
    fn get(&self, id: CaseId) -> StoreFuture<'_, Case>;

    /// The case with this dedupe key, if any.
    fn get_by_dedupe_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Case>>;

    /// Cases matching `filter`, newest first, at most `limit` (1..=[`MAX_PAGE`]), starting
    /// after `cursor`. Keyset paging: stable while new cases arrive.
    fn list<'a>(
        &'a self,
        filter: &'a CaseFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreFuture<'a, Page>;

    /// Moves a case to `to`, recording `actor` and `reason`. `expected_from`: the state the
    /// caller saw; if the case is elsewhere now the call fails with `Conflict` (someone else
    /// acted first). Moves not in [`TRANSITIONS`](super::model::TRANSITIONS) fail with
    /// `InvalidTransition`.
    fn transition<'a>(
        &'a self,
        id: CaseId,
        to: CaseState,
        actor: &'a str,
        reason: Option<String>,
        expected_from: Option<CaseState>,
    ) -> StoreFuture<'a, (Case, CaseEvent)>;

    /// Changes category, event code and name, keeping the state. Allowed before the case goes
    /// to the case system (`candidate`, `field_check`, `confirmed`), else `InvalidTransition`.
    fn reclassify<'a>(
        &'a self,
        id: CaseId,
        category: &'a str,
        event_code: &'a str,
        event_name: &'a str,
        actor: &'a str,
        reason: Option<String>,
    ) -> StoreFuture<'a, (Case, CaseEvent)>;

    /// Appends a note (any state). `Invalid` if the text is blank.
    fn add_note<'a>(
        &'a self,
        id: CaseId,
        actor: &'a str,
        text: &'a str,
    ) -> StoreFuture<'a, (Case, CaseEvent)>;

    /// Records a case-system callback on the timeline: the external id, its status text, and,
    /// when `update.state` differs from the current state, the move (checked against the
    /// workflow). Only for cases from `confirmed` on.
    fn set_external<'a>(
        &'a self,
        id: CaseId,
        update: ExternalUpdate,
        actor: &'a str,
    ) -> StoreFuture<'a, (Case, CaseEvent)>;

    /// Attaches evidence files after creation (e.g. the video re-check frame before
    /// `verified_by_video`), with an `evidence` event.
    fn add_evidence<'a>(
        &'a self,
        id: CaseId,
        evidence: Vec<NewEvidence>,
        actor: &'a str,
    ) -> StoreFuture<'a, (Vec<Evidence>, CaseEvent)>;

    /// A case's timeline, oldest first. `NotFound` if the case does not exist.
    fn events(&self, id: CaseId) -> StoreFuture<'_, Vec<CaseEvent>>;

    /// The delivery feed: events with `id > cursor`, ascending, at most `limit`
    /// (1..=[`MAX_EVENTS`]). Start from 0; continue from the last id returned.
    fn events_after(&self, cursor: i64, limit: u32) -> StoreFuture<'_, Vec<CaseEvent>>;

    /// The newest event's id (0 when there is none): where a follower that wants only what
    /// happens from now on starts its cursor.
    fn last_event_id(&self) -> StoreFuture<'_, i64>;

    /// A case's evidence rows, in the order they were added. `NotFound` if no such case.
    fn evidence(&self, id: CaseId) -> StoreFuture<'_, Vec<Evidence>>;

    /// The earlier cases this one repeats, following `recurrence_of`: the direct predecessor
    /// first. `NotFound` if no such case.
    fn recurrences(&self, id: CaseId) -> StoreFuture<'_, Vec<Case>>;

    /// A camera's cases still waiting for a person (`candidate`, `field_check`), oldest first:
    /// what analysis reloads after a restart.
    fn open_candidates<'a>(&'a self, camera: &'a CameraId) -> StoreFuture<'a, Vec<Case>>;

    /// Closes the pool, waiting for connections to finish (SQLite: checkpoints the WAL).
    fn close(&self) -> StoreFuture<'_, ()>;
}

/// Opens the store a URL names and brings its schema up to date. See [`open_with`].
pub async fn open(url: &str) -> Result<Arc<dyn CaseStore>, StoreError> {
    open_with(url, &OpenOptions::default()).await
}

/// Opens the store a URL names with pool settings, and runs the migrations.
///
/// - `sqlite:///abs/path.db`, `sqlite:relative.db`, or a plain path: SQLite, created if
///   missing (with its directory), WAL journal, `synchronous=NORMAL`, foreign keys on, busy
///   timeout. `sqlite::memory:` is a private in-memory database (tests).
/// - `postgres://…` / `postgresql://…`: a PostgreSQL pool.
pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Arc<dyn CaseStore>, StoreError> {
    let store: Arc<dyn CaseStore> = match DatabaseUrl::parse(url)? {
        DatabaseUrl::SqliteFile(path) => Arc::new(SqliteStore::open_file(&path, options).await?),
        DatabaseUrl::SqliteMemory => Arc::new(SqliteStore::open_memory().await?),
        DatabaseUrl::Postgres => Arc::new(PgStore::connect(url, options).await?),
    };
    Ok(store)
}

/// The SQLite file a store URL names (`None` for PostgreSQL, in-memory or a malformed URL):
/// for commands that must not create an empty database by opening a mistyped path.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    match DatabaseUrl::parse(url) {
        Ok(DatabaseUrl::SqliteFile(path)) => Some(path),
        _ => None,
    }
}

#[derive(Debug, PartialEq)]
enum DatabaseUrl {
    SqliteFile(std::path::PathBuf),
    SqliteMemory,
    Postgres,
}

impl DatabaseUrl {
    fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres);
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest == ":memory:" || rest == "//:memory:" {
                return Ok(DatabaseUrl::SqliteMemory);
            }
            if rest.contains('?') {
                return Err(StoreError::Invalid(format!(
                    "database URL {}: SQLite options in the URL are not supported; the store \
                     sets its own",
                    redact_url(url)
                )));
            }
            // sqlite:///abs/path.db → /abs/path.db; sqlite://rel.db and sqlite:rel.db → rel.db
            rest.strip_prefix("//").unwrap_or(rest)
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(StoreError::Invalid(format!(
                "database URL {}: unsupported scheme {scheme:?} (use sqlite: or postgres:)",
                redact_url(url)
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(StoreError::Invalid(format!(
                "database URL {url:?} names no file"
            )));
        }
        Ok(DatabaseUrl::SqliteFile(path.into()))
    }
}

/// The URL with its password (userinfo or a `password=` query parameter) replaced by `***`.
/// Use it wherever a database URL is logged or shown.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = url[authority_start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| authority_start + i);
        let authority = &url[authority_start..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                out = format!(
                    "{}***{}",
                    &url[..authority_start + colon + 1],
                    &url[authority_start + at..]
                );
            }
        }
    }
    redact_password_param(&out)
}

fn redact_password_param(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_owned();
    };
    let (base, query) = url.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{base}{}", params.join("&"))
}

/// The password a URL carries (userinfo or `password=`), to scrub from driver messages.
pub(crate) fn url_password(url: &str) -> Option<String> {
    let redacted = redact_url(url);
    if redacted == url {
        return None;
    }
    // Walk both strings: the password is what `***` replaced.
    let start = url
        .bytes()
        .zip(redacted.bytes())
        .position(|(a, b)| a != b)?;
    let tail = &redacted[start + 3..];
    let end = url.len() - tail.len();
    (end > start).then(|| url[start..end].to_owned())
}

/// A driver error turned into [`StoreError::Database`], with the URL's password scrubbed in case
/// the driver quoted it.
pub(crate) fn scrubbed(err: impl fmt::Display, url: &str, context: &str) -> StoreError {
    let mut msg = format!("{context}: {err}");
    if let Some(password) = url_password(url).filter(|p| !p.is_empty()) {
        msg = msg.replace(&password, "***");
    }
    StoreError::Database(msg)
}

/// Checks a candidate before it is written; every problem is listed, each naming its field.
pub(crate) fn validate_candidate(new: &NewCandidate) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    if new.dedupe_key.trim().is_empty() {
        problems.push("dedupe_key is empty".to_owned());
    }
    if new.camera.as_str().trim().is_empty() {
        problems.push("camera is empty".to_owned());
    }
    for (field, value) in [
        ("category", &new.category),
        ("event_code", &new.event_code),
        ("event_name", &new.event_name),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{field} is empty"));
        }
    }
    if !(0.0..=1.0).contains(&new.score) {
        problems.push(format!("score {} is outside 0..=1", new.score));
    }
    let b = new.bbox;
    let in_unit = |v: f32| (0.0..=1.0).contains(&v);
    if !(in_unit(b.x1) && in_unit(b.y1) && in_unit(b.x2) && in_unit(b.y2))
        || b.x1 > b.x2
        || b.y1 > b.y2
    {
        problems.push(format!(
            "bbox ({}, {}, {}, {}) is not a normalised box (0..=1, x1 <= x2, y1 <= y2)",
            b.x1, b.y1, b.x2, b.y2
        ));
    }
    match (new.lat, new.lon) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                problems.push(format!("lat/lon ({lat}, {lon}) is not a WGS84 position"));
            }
        }
        (None, None) => {}
        _ => problems.push("lat and lon must be given together".to_owned()),
    }
    for (i, ev) in new.evidence.iter().enumerate() {
        if let Err(problem) = validate_evidence(ev) {
            problems.push(format!("evidence[{i}]: {problem}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "candidate {:?}: {}",
            new.dedupe_key,
            problems.join("; ")
        )))
    }
}

/// Checks one evidence row: relative path without `..`, SHA-256 hex, MIME type present.
pub(crate) fn validate_evidence(ev: &NewEvidence) -> Result<(), String> {
    let mut problems = Vec::new();
    let path = &ev.path;
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.split('/').any(|part| part.is_empty() || part == "..")
    {
        problems.push(format!(
            "path {path:?} must be relative to the data directory, '/'-separated, without '..'"
        ));
    }
    if ev.sha256.len() != 64
        || !ev
            .sha256
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        problems.push(format!(
            "sha256 {:?} is not 64 lower-case hex digits",
            ev.sha256
        ));
    }
    if i64::try_from(ev.bytes).is_err() {
        problems.push(format!("bytes {} is too large", ev.bytes));
    }
    if ev.mime.trim().is_empty() || !ev.mime.contains('/') {
        problems.push(format!("mime {:?} is not a MIME type", ev.mime));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(", "))
    }
}

/// `Invalid` unless `limit` is in `1..=max`.
pub(crate) fn check_limit(limit: u32, max: u32) -> Result<i64, StoreError> {
    if (1..=max).contains(&limit) {
        Ok(i64::from(limit))
    } else {
        Err(StoreError::Invalid(format!(
            "limit {limit} is outside 1..={max}"
        )))
    }
}

/// `Invalid` if `value` is blank; names the field.
pub(crate) fn non_blank(field: &str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        Err(StoreError::Invalid(format!("{field} is empty")))
    } else {
        Ok(())
    }
}

/// A LIKE pattern matching `text` anywhere, lower-cased, with `\` as the escape character.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://gs:s3cr%40t@db.example:5432/cases?sslmode=require"),
            "postgres://gs:***@db.example:5432/cases?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://gs@db/cases?password=hunter2&sslmode=disable"),
            "postgres://gs@db/cases?password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://u:p@ss@host/db"),
            "postgresql://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://gs@db/cases"),
            "postgres://gs@db/cases"
        );
        assert_eq!(
            redact_url("/var/lib/gridsight/cases.db"),
            "/var/lib/gridsight/cases.db"
        );
        assert_eq!(
            url_password("postgres://u:p@ss@host/db").as_deref(),
            Some("p@ss")
        );
        assert_eq!(
            url_password("postgres://u@h/db?password=x1&a=b").as_deref(),
            Some("x1")
        );
        assert_eq!(url_password("postgres://u@h/db"), None);
    }

    #[test]
    fn scrubbed_errors_do_not_quote_the_password() {
        let url = "postgres://gs:topsecret@db/cases";
        let err = scrubbed("could not log in as gs:topsecret", url, "connecting");
        assert!(!format!("{err} {err:?}").contains("topsecret"));
        assert!(err.to_string().contains("gs:***"));
    }

    #[test]
    fn urls_pick_the_backend() {
        use std::path::PathBuf;
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/gs/cases.db").unwrap(),
            DatabaseUrl::SqliteFile(PathBuf::from("/var/lib/gs/cases.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/cases.db").unwrap(),
            DatabaseUrl::SqliteFile(PathBuf::from("data/cases.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/cases.db").unwrap(),
            DatabaseUrl::SqliteFile(PathBuf::from("data/cases.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:").unwrap(),
            DatabaseUrl::SqliteMemory
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres
        );
        let err = DatabaseUrl::parse("mysql://root:pw@h/db").unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("root:***@h")),
            "{err}"
        );
        assert!(DatabaseUrl::parse("sqlite:a.db?mode=ro").is_err());
        assert_eq!(
            sqlite_file("sqlite:///var/lib/gs/cases.db"),
            Some(PathBuf::from("/var/lib/gs/cases.db"))
        );
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn cursors_round_trip_as_text() {
        let cursor = Cursor {
            created_at_ms: 1_715_900_000_123,
            id: CaseId(42),
        };
        assert_eq!(cursor.to_string(), "1715900000123_42");
        assert_eq!("1715900000123_42".parse::<Cursor>(), Ok(cursor));
        assert!("42".parse::<Cursor>().is_err());
        assert!("a_b".parse::<Cursor>().is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("游商"), "%游商%");
    }
}
