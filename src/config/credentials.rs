//! Camera credentials: the separate credentials file and the [`Secret`] that keeps passwords
//! out of logs.
//!
//! The file is TOML with one table per entry; cameras name an entry with `credentials = "…"`:
//!
//! ```toml
//! [gate-1]
//! user = "admin"
//! password = "…"
//! ```
//!
//! Errors about this file never quote its text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::raw::toml_error;
use super::{ConfigError, ConfigErrors};

/// A password. `Debug` and `Display` print `***`; [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret text, for handing to the camera and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A user and password for one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password (prints as `***`).
    pub password: Secret,
}

/// One `[entry]` table of the credentials file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// User name, non-empty. Required.
    user: String,
    /// Password. Required (may be empty).
    password: String,
}

/// The parsed credentials file: entry name → credentials. `Debug` shows no passwords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialStore {
    /// Where it was read from, when it was read from a file.
    path: Option<PathBuf>,
    entries: BTreeMap<String, Credentials>,
}

impl CredentialStore {
    /// An empty store (add entries with [`CredentialStore::insert`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, name: impl Into<String>, credentials: Credentials) {
        self.entries.insert(name.into(), credentials);
    }

    /// Reads and parses a credentials file.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "credentials_file",
                format!("cannot read credentials file {}: {e}", path.display()),
            )
        })?;
        let mut store = Self::parse(&text).map_err(|errs| {
            ConfigErrors(
                errs.0
                    .into_iter()
                    .map(|e| ConfigError::new(e.path, format!("{}: {}", path.display(), e.message)))
                    .collect(),
            )
        })?;
        store.path = Some(path.to_path_buf());
        Ok(store)
    }

    /// Parses credentials-file text. Every error's path is `credentials_file`; messages name the
    /// entry and never contain values from the file.
    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        let raw: BTreeMap<String, RawEntry> = toml::from_str(text).map_err(|e| {
            let err = toml_error(&e, text, &[]);
            // Type errors quote the offending value, which may be a password: drop it.
            let message = if err.message.starts_with("invalid type")
                || err.message.starts_with("invalid value")
            {
                let at = err
                    .message
                    .rfind(" (line")
                    .map_or("", |i| &err.message[i..]);
                format!("invalid type or value (not shown){at}")
            } else {
                err.message
            };
            let message = if err.path.is_empty() {
                message
            } else {
                format!("[{}]: {message}", err.path)
            };
            ConfigErrors::from(ConfigError::new("credentials_file", message))
        })?;
        let mut errors = Vec::new();
        let mut entries = BTreeMap::new();
        for (name, entry) in raw {
            if entry.user.trim().is_empty() {
                errors.push(ConfigError::new(
                    "credentials_file",
                    format!("[{name}]: user is empty"),
                ));
                continue;
            }
            entries.insert(
                name,
                Credentials {
                    user: entry.user,
                    password: Secret::new(entry.password),
                },
            );
        }
        if errors.is_empty() {
            Ok(Self {
                path: None,
                entries,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The entry with this name.
    pub fn get(&self, name: &str) -> Option<&Credentials> {
        self.entries.get(name)
    }

    /// Entry names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The file it was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}
