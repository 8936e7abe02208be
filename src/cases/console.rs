//! What the console keeps next to the cases: users with their sessions and API tokens, cameras
//! managed from the admin console, settings changed there (grid layer, category table), and
//! the review statistics.
//!
//! [`ConsoleStore`] is implemented by both backends with the same SQL (see `sql.rs` for why a
//! macro); a [`CaseStore`](super::CaseStore) hands it out through `console()`. Secrets never
//! reach this layer in the clear except camera passwords (a camera needs them to log in); user
//! passwords arrive as argon2 hashes, session and token secrets as SHA-256 digests.

use std::time::SystemTime;

use super::store::{StoreError, StoreFuture};

/// A user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// `admin`, `operator`, `inspector` or `viewer` (the database checks it).
    pub role: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Camera groups the user may see; empty = every camera.
    pub groups: Vec<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Whether a secret is a login session (expires) or an API token (does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Session,
    Token,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Session => "session",
            SecretKind::Token => "token",
        }
    }
}

/// A camera as the console saved it.
#[derive(Clone, PartialEq, Eq)]
pub struct CameraRecord {
    pub id: String,
    /// The camera as the API takes it (JSON), without its password.
    pub doc: String,
    /// The camera's password, if it has one.
    pub password: Option<String>,
    /// Deleted in the console (hides a pipeline-file camera of the same id too).
    pub deleted: bool,
}

impl std::fmt::Debug for CameraRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraRecord")
            .field("id", &self.id)
            .field("doc", &self.doc)
            .field("has_password", &self.password.is_some())
            .field("deleted", &self.deleted)
            .finish()
    }
}

/// One row of a grouped count; `key` is empty where the column is NULL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

/// Review outcome of one camera and category.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Precision {
    pub camera: String,
    pub category: String,
    /// Confirmed or rejected by a person.
    pub reviewed: i64,
    /// Confirmed (and anything after it).
    pub confirmed: i64,
    /// `confirmed / reviewed`; `None` before any review.
    pub precision: Option<f64>,
}

/// The statistics page's figures (综合评价 inputs) over cases created in a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    pub total: i64,
    pub by_grid: Vec<Count>,
    pub by_street: Vec<Count>,
    pub by_unit: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_state: Vec<Count>,
    /// `YYYY-MM-DD` in the requested UTC offset.
    pub by_day: Vec<Count>,
    pub by_camera_category: Vec<Precision>,
    /// Median seconds from a candidate being stored to a person's first decision.
    pub median_review_s: Option<f64>,
    /// Cases that repeat an earlier one at the same spot.
    pub recurrences: i64,
}

/// Which cases [`ConsoleStore::stats`] counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsQuery {
    /// `created_at >= since`.
    pub since: Option<SystemTime>,
    /// `created_at < until`.
    pub until: Option<SystemTime>,
    /// Offset of the city's time zone from UTC, seconds, for `by_day`.
    pub utc_offset_s: i32,
}

/// Users, sessions, console cameras, settings and statistics.
pub trait ConsoleStore: Send + Sync {
    /// Creates a user; `Conflict` if the name is taken.
    fn add_user(&self, user: UserRecord) -> StoreFuture<'_, ()>;
    /// Replaces a user's role, groups and (when given) password hash; `NotFound` if absent.
    fn update_user<'a>(
        &'a self,
        name: &'a str,
        role: &'a str,
        groups: &'a [String],
        password_hash: Option<&'a str>,
    ) -> StoreFuture<'a, ()>;
    fn user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>>;
    /// Every user, by name.
    fn users(&self) -> StoreFuture<'_, Vec<UserRecord>>;
    /// Deletes a user and their sessions and tokens; `NotFound` if absent.
    fn delete_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()>;

    /// Records a session or token by the SHA-256 of its secret.
    fn add_secret<'a>(
        &'a self,
        token_hash: &'a str,
        user: &'a str,
        kind: SecretKind,
        label: &'a str,
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()>;
    /// The user a secret belongs to, if it exists and has not expired at `now`.
    fn secret_user<'a>(
        &'a self,
        token_hash: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, Option<(UserRecord, SecretKind)>>;
    /// Forgets a secret (logout); no error if it is unknown.
    fn delete_secret<'a>(&'a self, token_hash: &'a str) -> StoreFuture<'a, ()>;

    /// Saves (inserts or replaces) a console camera with its password (`None`: it has none).
    fn put_camera<'a>(
        &'a self,
        id: &'a str,
        doc: &'a str,
        password: Option<&'a str>,
    ) -> StoreFuture<'a, ()>;
    /// Marks a camera deleted (a tombstone, so a pipeline-file camera stays gone too).
    fn delete_camera<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()>;
    /// Every console camera, tombstones included, by id.
    fn cameras(&self) -> StoreFuture<'_, Vec<CameraRecord>>;

    fn put_setting<'a>(&'a self, key: &'a str, value: &'a str) -> StoreFuture<'a, ()>;
    fn setting<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Counts over the cases created in the query's period.
    fn stats(&self, query: StatsQuery) -> StoreFuture<'_, Stats>;
}

/// The median of `values` (sorted in place); `None` when empty.
pub(crate) fn median_ms(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    let ms = if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    };
    Some(ms / 1000.0)
}

/// `YYYY-MM-DD` of a day number counted from 1970-01-01.
pub(crate) fn day_name(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day {day}"))
}

pub(crate) fn split_groups(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn conflict_or(err: sqlx::Error, what: String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::from(err),
    }
}

/// The `ConsoleStore` implementation over `$db` for a `$store` with a `pool` field.
macro_rules! impl_console_store {
    ($store:ty, $db:ty) => {
        mod console_impl {
            use std::time::SystemTime;

            use sqlx::Row as _;

            use super::*;
            use $crate::cases::console::{
                conflict_or, day_name, median_ms, split_groups, CameraRecord, ConsoleStore, Count,
                Precision, SecretKind, Stats, StatsQuery, UserRecord,
            };
            use $crate::cases::model::unix_millis;
            use $crate::cases::store::{StoreError, StoreFuture};

            type DbRow = <$db as sqlx::Database>::Row;

            fn user_from_row(row: &DbRow) -> Result<UserRecord, StoreError> {
                let groups: String = row.try_get("groups")?;
                Ok(UserRecord {
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                    password_hash: row.try_get("password_hash")?,
                    groups: split_groups(&groups),
                })
            }

            /// `created_at` bounds of a stats query as SQL parameters.
            fn bounds(query: &StatsQuery) -> (i64, i64) {
                (
                    query.since.map_or(i64::MIN, unix_millis),
                    query.until.map_or(i64::MAX, unix_millis),
                )
            }

            impl $store {
                async fn counts(
                    &self,
                    column: &'static str,
                    query: &StatsQuery,
                ) -> Result<Vec<Count>, StoreError> {
                    let (since, until) = bounds(query);
                    let sql = format!(
                        "SELECT COALESCE({column}, '') AS key, COUNT(*) AS n FROM cases \
                         WHERE created_at >= $1 AND created_at < $2 \
                         GROUP BY COALESCE({column}, '') ORDER BY n DESC, key"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(since)
                        .bind(until)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Count {
                                key: r.try_get("key")?,
                                count: r.try_get("n")?,
                            })
                        })
                        .collect()
                }

                async fn stats_impl(&self, query: StatsQuery) -> Result<Stats, StoreError> {
                    let (since, until) = bounds(&query);
                    let offset_ms = i64::from(query.utc_offset_s) * 1000;
                    let days = sqlx::query(
                        "SELECT (created_at + $3) / 86400000 AS day, COUNT(*) AS n FROM cases \
                         WHERE created_at >= $1 AND created_at < $2 GROUP BY day ORDER BY day",
                    )
                    .bind(since)
                    .bind(until)
                    .bind(offset_ms)
                    .fetch_all(&self.pool)
                    .await?;
                    let by_day = days
                        .iter()
                        .map(|r| {
                            Ok(Count {
                                key: day_name(r.try_get("day")?),
                                count: r.try_get("n")?,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let reviewed = sqlx::query(
                        "SELECT camera, category, \
                           SUM(CASE WHEN state NOT IN ('candidate', 'field_check', 'rejected') \
                               THEN 1 ELSE 0 END) AS confirmed, \
                           SUM(CASE WHEN state = 'rejected' THEN 1 ELSE 0 END) AS rejected \
                         FROM cases WHERE created_at >= $1 AND created_at < $2 \
                         GROUP BY camera, category ORDER BY camera, category",
                    )
                    .bind(since)
                    .bind(until)
                    .fetch_all(&self.pool)
                    .await?;
                    let by_camera_category = reviewed
                        .iter()
                        .map(|r| {
                            let confirmed: i64 = r.try_get("confirmed")?;
                            let rejected: i64 = r.try_get("rejected")?;
                            let reviewed = confirmed + rejected;
                            Ok(Precision {
                                camera: r.try_get("camera")?,
                                category: r.try_get("category")?,
                                reviewed,
                                confirmed,
                                precision: (reviewed > 0)
                                    .then(|| confirmed as f64 / reviewed as f64),
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let mut review_ms: Vec<i64> = sqlx::query(
                        "SELECT MIN(e.at) - c.created_at AS ms FROM case_events e \
                         JOIN cases c ON c.id = e.case_id \
                         WHERE e.kind = 'transition' AND e.from_state = 'candidate' \
                           AND c.created_at >= $1 AND c.created_at < $2 \
                         GROUP BY c.id, c.created_at",
                    )
                    .bind(since)
                    .bind(until)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<i64, _>("ms"))
                    .collect::<Result<_, _>>()?;
                    let totals = sqlx::query(
                        "SELECT COUNT(*) AS n, \
                           SUM(CASE WHEN recurrence_of IS NULL THEN 0 ELSE 1 END) AS r \
                         FROM cases WHERE created_at >= $1 AND created_at < $2",
                    )
                    .bind(since)
                    .bind(until)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(Stats {
                        total: totals.try_get("n")?,
                        by_grid: self.counts("grid_code", &query).await?,
                        by_street: self.counts("street", &query).await?,
                        by_unit: self.counts("unit", &query).await?,
                        by_category: self.counts("category", &query).await?,
                        by_state: self.counts("state", &query).await?,
                        by_day,
                        by_camera_category,
                        median_review_s: median_ms(&mut review_ms),
                        recurrences: totals.try_get::<Option<i64>, _>("r")?.unwrap_or(0),
                    })
                }
            }

            impl ConsoleStore for $store {
                fn add_user(&self, user: UserRecord) -> StoreFuture<'_, ()> {
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO users (name, role, password_hash, groups, created_at) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&user.name)
                        .bind(&user.role)
                        .bind(&user.password_hash)
                        .bind(user.groups.join(","))
                        .bind(unix_millis(SystemTime::now()))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_or(e, format!("user {:?} exists", user.name)))?;
                        Ok(())
                    })
                }

                fn update_user<'a>(
                    &'a self,
                    name: &'a str,
                    role: &'a str,
                    groups: &'a [String],
                    password_hash: Option<&'a str>,
                ) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        let done = sqlx::query(
                            "UPDATE users SET role = $2, groups = $3, \
                             password_hash = COALESCE($4, password_hash) WHERE name = $1",
                        )
                        .bind(name)
                        .bind(role)
                        .bind(groups.join(","))
                        .bind(password_hash)
                        .execute(&self.pool)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("user {name:?}")));
                        }
                        Ok(())
                    })
                }

                fn user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>> {
                    Box::pin(async move {
                        let row = sqlx::query(
                            "SELECT name, role, password_hash, groups FROM users WHERE name = $1",
                        )
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                        row.as_ref().map(user_from_row).transpose()
                    })
                }

                fn users(&self) -> StoreFuture<'_, Vec<UserRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(
                            "SELECT name, role, password_hash, groups FROM users ORDER BY name",
                        )
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter().map(user_from_row).collect()
                    })
                }

                fn delete_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        let mut tx = self.pool.begin().await?;
                        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                        let done = sqlx::query("DELETE FROM users WHERE name = $1")
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("user {name:?}")));
                        }
                        tx.commit().await?;
                        Ok(())
                    })
                }

                fn add_secret<'a>(
                    &'a self,
                    token_hash: &'a str,
                    user: &'a str,
                    kind: SecretKind,
                    label: &'a str,
                    expires_at: Option<SystemTime>,
                ) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO sessions \
                             (token_hash, user_name, kind, label, created_at, expires_at) \
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(token_hash)
                        .bind(user)
                        .bind(kind.as_str())
                        .bind(label)
                        .bind(unix_millis(SystemTime::now()))
                        .bind(expires_at.map(unix_millis))
                        .execute(&self.pool)
                        .await?;
                        Ok(())
                    })
                }

                fn secret_user<'a>(
                    &'a self,
                    token_hash: &'a str,
                    now: SystemTime,
                ) -> StoreFuture<'a, Option<(UserRecord, SecretKind)>> {
                    Box::pin(async move {
                        let row = sqlx::query(
                            "SELECT u.name, u.role, u.password_hash, u.groups, s.kind \
                             FROM sessions s JOIN users u ON u.name = s.user_name \
                             WHERE s.token_hash = $1 \
                               AND (s.expires_at IS NULL OR s.expires_at > $2)",
                        )
                        .bind(token_hash)
                        .bind(unix_millis(now))
                        .fetch_optional(&self.pool)
                        .await?;
                        let Some(row) = row else { return Ok(None) };
                        let kind: String = row.try_get("kind")?;
                        let kind = if kind == "token" {
                            SecretKind::Token
                        } else {
                            SecretKind::Session
                        };
                        Ok(Some((user_from_row(&row)?, kind)))
                    })
                }

                fn delete_secret<'a>(&'a self, token_hash: &'a str) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                            .bind(token_hash)
                            .execute(&self.pool)
                            .await?;
                        Ok(())
                    })
                }

                fn put_camera<'a>(
                    &'a self,
                    id: &'a str,
                    doc: &'a str,
                    password: Option<&'a str>,
                ) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO console_cameras (id, doc, password, deleted, updated_at) \
                             VALUES ($1, $2, $3, 0, $4) \
                             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, \
                             password = excluded.password, deleted = 0, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(id)
                        .bind(doc)
                        .bind(password)
                        .bind(unix_millis(SystemTime::now()))
                        .execute(&self.pool)
                        .await?;
                        Ok(())
                    })
                }

                fn delete_camera<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO console_cameras (id, doc, deleted, updated_at) \
                             VALUES ($1, '{}', 1, $2) \
                             ON CONFLICT (id) DO UPDATE SET deleted = 1, password = NULL, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(id)
                        .bind(unix_millis(SystemTime::now()))
                        .execute(&self.pool)
                        .await?;
                        Ok(())
                    })
                }

                fn cameras(&self) -> StoreFuture<'_, Vec<CameraRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(
                            "SELECT id, doc, password, deleted FROM console_cameras ORDER BY id",
                        )
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter()
                            .map(|r| {
                                Ok(CameraRecord {
                                    id: r.try_get("id")?,
                                    doc: r.try_get("doc")?,
                                    password: r.try_get("password")?,
                                    deleted: r.try_get::<i64, _>("deleted")? != 0,
                                })
                            })
                            .collect()
                    })
                }

                fn put_setting<'a>(&'a self, key: &'a str, value: &'a str) -> StoreFuture<'a, ()> {
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(key)
                        .bind(value)
                        .bind(unix_millis(SystemTime::now()))
                        .execute(&self.pool)
                        .await?;
                        Ok(())
                    })
                }

                fn setting<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
                    Box::pin(async move {
                        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
                            .bind(key)
                            .fetch_optional(&self.pool)
                            .await?;
                        Ok(row.map(|r| r.try_get("value")).transpose()?)
                    })
                }

                fn stats(&self, query: StatsQuery) -> StoreFuture<'_, Stats> {
                    Box::pin(self.stats_impl(query))
                }
            }
        }
    };
}

pub(crate) use impl_console_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_days() {
        assert_eq!(median_ms(&mut []), None);
        assert_eq!(median_ms(&mut [3000, 1000, 2000]), Some(2.0));
        assert_eq!(median_ms(&mut [4000, 1000, 2000, 3000]), Some(2.5));
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(20_000), "2024-10-04");
        assert_eq!(split_groups(" east, ,west"), vec!["east", "west"]);
    }
}
