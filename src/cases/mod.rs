//! Cases: what a person confirms before it goes to the city's case system.
//!
//! - [`model`]: the case, its events and evidence, and the workflow as a transition table.
//! - [`categories`]: internal categories → the city's event codes, from TOML.
//! - [`store`]: the [`CaseStore`] trait and [`open`], which picks SQLite (default, a file) or
//!   PostgreSQL (a URL) and runs the migrations embedded from `migrations/sqlite` and
//!   `migrations/postgres`.
//! - [`spool`]: candidates on their way into the store, on disk until the store has them.
//!
//! Depends on `crate::domain` only; no other stage imports the databases.

pub mod categories;
pub mod console;
pub mod evidence;
pub mod model;
pub mod postgres;
pub mod spool;
mod sql;
pub mod sqlite;
pub mod store;

#[cfg(test)]
mod story_tests;

pub use categories::{Category, CategoryError, CategoryTable};
pub use console::{ConsoleStore, SecretKind, Stats, StatsQuery, UserRecord};
pub use model::{
    check_transition, from_unix_millis, unix_millis, Case, CaseEvent, CaseId, CaseState,
    Escalation, EventKind, Evidence, EvidenceKind, NewCandidate, NewEvidence, TransitionError,
    TRANSITIONS,
};
pub use postgres::PgStore;
pub use spool::Spool;
pub use sqlite::SqliteStore;
pub use store::{
    open, open_with, redact_url, sqlite_file, Backend, CaseFilter, CaseStore, Cursor,
    ExternalUpdate, OpenOptions, Page, StoreError, StoreFuture,
};
