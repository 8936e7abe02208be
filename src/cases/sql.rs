//! The SQL both backends share, written once as a macro and expanded in `sqlite.rs` and
//! `postgres.rs` with the concrete sqlx types.
//!
//! Why a macro and not generics over `sqlx::Database`: the statements are the same text on both
//! databases (`$1` placeholders work on SQLite too, `RETURNING` and `ON CONFLICT` on both), but
//! writing them generically needs a higher-ranked `Encode`/`Decode`/`Executor` bound for every
//! column type; a macro keeps each expansion concrete and checked like hand-written code.
//!
//! What differs per backend stays in the backend file: opening the pool, the migrations, and
//! `begin_write` (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock), which
//! makes every writing transaction exclusive so event ids are handed out in commit order.
//!
//! Schema: `migrations/sqlite` and `migrations/postgres` (same tables and columns).

use std::time::SystemTime;

use super::model::{unix_millis, CaseState, EventKind, EvidenceKind};
use super::store::StoreError;

/// The `cases` columns every query reads, in [`impl_case_store`]'s row order.
macro_rules! case_columns {
    () => {
        "id, state, dedupe_key, camera, category, event_code, event_name, score, \
         bbox_x1, bbox_y1, bbox_x2, bbox_y2, lat, lon, grid_code, community, street, unit, zone, \
         arrived_at, detected_at, recurrence_of, recurrence_count, external_id, notes, \
         created_at, updated_at"
    };
}

/// The `case_events` columns.
macro_rules! event_columns {
    () => {
        "id, case_id, at, actor, kind, from_state, to_state, reason, data"
    };
}

/// The `evidence` columns.
macro_rules! evidence_columns {
    () => {
        "id, case_id, kind, path, sha256, bytes, mime, created_at"
    };
}

pub(crate) use {case_columns, event_columns, evidence_columns};

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    unix_millis(SystemTime::now())
}

/// A stored name that is not a known state: the row is corrupt.
pub(crate) fn parse_state(name: &str) -> Result<CaseState, StoreError> {
    name.parse()
        .map_err(|e| StoreError::Database(format!("corrupt row: {e}")))
}

pub(crate) fn parse_opt_state(name: Option<String>) -> Result<Option<CaseState>, StoreError> {
    name.as_deref().map(parse_state).transpose()
}

pub(crate) fn parse_event_kind(name: &str) -> Result<EventKind, StoreError> {
    name.parse()
        .map_err(|e| StoreError::Database(format!("corrupt row: {e}")))
}

pub(crate) fn parse_evidence_kind(name: &str) -> Result<EvidenceKind, StoreError> {
    name.parse()
        .map_err(|e| StoreError::Database(format!("corrupt row: {e}")))
}

pub(crate) fn parse_data(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("corrupt event data: {e}")))
}

pub(crate) fn non_negative<T: TryFrom<i64>>(field: &str, value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Database(format!("corrupt row: {field} = {value}")))
}

/// `Conflict` for a case that changed between reading and writing.
pub(crate) fn changed_meanwhile(id: super::model::CaseId) -> StoreError {
    StoreError::Conflict(format!(
        "case {id} changed while this request was being applied; reload it and try again"
    ))
}

/// The `CaseStore` implementation over `$db`, for a `$store` that has a `pool: sqlx::Pool<$db>`
/// field and an `async fn begin_write(&self) -> Result<sqlx::Transaction<'static, $db>,
/// StoreError>` that starts an exclusive writing transaction.
macro_rules! impl_case_store {
    ($store:ty, $db:ty, $backend:expr) => {
        use $crate::cases::model::{
            check_transition, from_unix_millis, unix_millis, Case, CaseEvent, CaseId, CaseState,
            EventKind, Evidence, NewCandidate, NewEvidence, SYSTEM_ACTOR,
        };
        use $crate::cases::sql::{
            case_columns, changed_meanwhile, event_columns, evidence_columns, non_negative,
            now_ms, parse_data, parse_event_kind, parse_evidence_kind, parse_opt_state,
            parse_state,
        };
        use $crate::cases::store::{
            check_limit, like_pattern, non_blank, validate_candidate, validate_evidence, Backend,
            CaseFilter, CaseStore, Cursor, ExternalUpdate, Page, StoreError, StoreFuture,
            MAX_EVENTS, MAX_PAGE,
        };
        use $crate::domain::{BBox, CameraId};
        use sqlx::Row as _;

        type DbRow = <$db as sqlx::Database>::Row;

        /// An event about to be written.
        struct NewEvent<'a> {
            case_id: CaseId,
            at: i64,
            actor: &'a str,
            kind: EventKind,
            from_state: Option<CaseState>,
            to_state: Option<CaseState>,
            reason: Option<String>,
            data: serde_json::Value,
        }

        fn case_from_row(row: &DbRow) -> Result<Case, StoreError> {
            let state: String = row.try_get("state")?;
            let camera: String = row.try_get("camera")?;
            Ok(Case {
                id: CaseId(row.try_get("id")?),
                state: parse_state(&state)?,
                dedupe_key: row.try_get("dedupe_key")?,
                camera: CameraId::new(&camera),
                category: row.try_get("category")?,
                event_code: row.try_get("event_code")?,
                event_name: row.try_get("event_name")?,
                score: row.try_get("score")?,
                bbox: BBox::new(
                    row.try_get("bbox_x1")?,
                    row.try_get("bbox_y1")?,
                    row.try_get("bbox_x2")?,
                    row.try_get("bbox_y2")?,
                ),
                lat: row.try_get("lat")?,
                lon: row.try_get("lon")?,
                grid_code: row.try_get("grid_code")?,
                community: row.try_get("community")?,
                street: row.try_get("street")?,
                unit: row.try_get("unit")?,
                zone: row.try_get("zone")?,
                arrived_at: from_unix_millis(row.try_get("arrived_at")?),
                detected_at: from_unix_millis(row.try_get("detected_at")?),
                recurrence_of: row.try_get::<Option<i64>, _>("recurrence_of")?.map(CaseId),
                recurrence_count: non_negative(
                    "recurrence_count",
                    row.try_get("recurrence_count")?,
                )?,
                external_id: row.try_get("external_id")?,
                notes: row.try_get("notes")?,
                created_at: from_unix_millis(row.try_get("created_at")?),
                updated_at: from_unix_millis(row.try_get("updated_at")?),
            })
        }

        fn event_from_row(row: &DbRow) -> Result<CaseEvent, StoreError> {
            let kind: String = row.try_get("kind")?;
            let data: String = row.try_get("data")?;
            Ok(CaseEvent {
                id: row.try_get("id")?,
                case_id: CaseId(row.try_get("case_id")?),
                at: from_unix_millis(row.try_get("at")?),
                actor: row.try_get("actor")?,
                kind: parse_event_kind(&kind)?,
                from_state: parse_opt_state(row.try_get("from_state")?)?,
                to_state: parse_opt_state(row.try_get("to_state")?)?,
                reason: row.try_get("reason")?,
                data: parse_data(&data)?,
            })
        }

        fn evidence_from_row(row: &DbRow) -> Result<Evidence, StoreError> {
            let kind: String = row.try_get("kind")?;
            Ok(Evidence {
                id: row.try_get("id")?,
                case_id: CaseId(row.try_get("case_id")?),
                kind: parse_evidence_kind(&kind)?,
                path: row.try_get("path")?,
                sha256: row.try_get("sha256")?,
                bytes: non_negative("bytes", row.try_get("bytes")?)?,
                mime: row.try_get("mime")?,
                created_at: from_unix_millis(row.try_get("created_at")?),
            })
        }

        async fn fetch_case<'e, E>(ex: E, id: CaseId) -> Result<Case, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query(concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE id = $1"
            ))
            .bind(id.0)
            .fetch_optional(ex)
            .await?;
            match row {
                Some(row) => case_from_row(&row),
                None => Err(StoreError::NotFound(format!("case {id}"))),
            }
        }

        async fn fetch_by_key<'e, E>(ex: E, key: &str) -> Result<Option<Case>, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query(concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE dedupe_key = $1"
            ))
            .bind(key.to_owned())
            .fetch_optional(ex)
            .await?;
            row.as_ref().map(case_from_row).transpose()
        }

        async fn insert_event<'e, E>(ex: E, ev: NewEvent<'_>) -> Result<CaseEvent, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let data = serde_json::to_string(&ev.data)
                .map_err(|e| StoreError::Invalid(format!("event data: {e}")))?;
            let row = sqlx::query(
                "INSERT INTO case_events \
                 (case_id, at, actor, kind, from_state, to_state, reason, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(ev.case_id.0)
            .bind(ev.at)
            .bind(ev.actor.to_owned())
            .bind(ev.kind.as_str())
            .bind(ev.from_state.map(CaseState::as_str))
            .bind(ev.to_state.map(CaseState::as_str))
            .bind(ev.reason.clone())
            .bind(data)
            .fetch_one(ex)
            .await?;
            Ok(CaseEvent {
                id: row.try_get(0)?,
                case_id: ev.case_id,
                at: from_unix_millis(ev.at),
                actor: ev.actor.to_owned(),
                kind: ev.kind,
                from_state: ev.from_state,
                to_state: ev.to_state,
                reason: ev.reason,
                data: ev.data,
            })
        }

        async fn insert_evidence(
            conn: &mut <$db as sqlx::Database>::Connection,
            case_id: CaseId,
            items: &[NewEvidence],
            now: i64,
        ) -> Result<Vec<Evidence>, StoreError> {
            let mut stored = Vec::with_capacity(items.len());
            for item in items {
                let bytes = i64::try_from(item.bytes)
                    .map_err(|_| StoreError::Invalid(format!("bytes {} too large", item.bytes)))?;
                let row = sqlx::query(
                    "INSERT INTO evidence (case_id, kind, path, sha256, bytes, mime, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(case_id.0)
                .bind(item.kind.as_str())
                .bind(item.path.clone())
                .bind(item.sha256.clone())
                .bind(bytes)
                .bind(item.mime.clone())
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
                stored.push(Evidence {
                    id: row.try_get(0)?,
                    case_id,
                    kind: item.kind,
                    path: item.path.clone(),
                    sha256: item.sha256.clone(),
                    bytes: item.bytes,
                    mime: item.mime.clone(),
                    created_at: from_unix_millis(now),
                });
            }
            Ok(stored)
        }

        /// `Conflict` unless the case is still in `expected_from` (the state the caller decided on).
        fn check_expected(
            case: &Case,
            expected_from: Option<CaseState>,
        ) -> Result<(), StoreError> {
            match expected_from {
                Some(expected) if expected != case.state => Err(StoreError::Conflict(format!(
                    "case {}: expected it in {expected}, but it is {} now (someone else changed \
                     it); reload it and decide again",
                    case.id, case.state
                ))),
                _ => Ok(()),
            }
        }

        impl $store {
            async fn insert_candidate_impl(
                &self,
                new: NewCandidate,
            ) -> Result<(Case, bool), StoreError> {
                validate_candidate(&new)?;
                let mut tx = self.begin_write().await?;
                if let Some(existing) = fetch_by_key(&mut *tx, &new.dedupe_key).await? {
                    tx.rollback().await?;
                    return Ok((existing, false));
                }
                if let Some(prev) = new.recurrence_of {
                    match fetch_case(&mut *tx, prev).await {
                        Ok(_) => {}
                        Err(StoreError::NotFound(_)) => {
                            return Err(StoreError::Invalid(format!(
                                "candidate {:?}: recurrence_of names case {prev}, which does \
                                 not exist",
                                new.dedupe_key
                            )));
                        }
                        Err(other) => return Err(other),
                    }
                }
                let now = now_ms();
                let row = sqlx::query(
                    "INSERT INTO cases (dedupe_key, state, camera, category, event_code, \
                     event_name, score, bbox_x1, bbox_y1, bbox_x2, bbox_y2, lat, lon, grid_code, \
                     community, street, unit, zone, arrived_at, detected_at, recurrence_of, \
                     recurrence_count, notes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17, $18, $19, $20, $21, $22, '', $23, $23) \
                     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                )
                .bind(new.dedupe_key.clone())
                .bind(CaseState::Candidate.as_str())
                .bind(new.camera.as_str().to_owned())
                .bind(new.category.clone())
                .bind(new.event_code.clone())
                .bind(new.event_name.clone())
                .bind(new.score)
                .bind(new.bbox.x1)
                .bind(new.bbox.y1)
                .bind(new.bbox.x2)
                .bind(new.bbox.y2)
                .bind(new.lat)
                .bind(new.lon)
                .bind(new.grid_code.clone())
                .bind(new.community.clone())
                .bind(new.street.clone())
                .bind(new.unit.clone())
                .bind(new.zone.clone())
                .bind(unix_millis(new.arrived_at))
                .bind(unix_millis(new.detected_at))
                .bind(new.recurrence_of.map(|c| c.0))
                .bind(i64::from(new.recurrence_count))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    // Only reachable if another writer slipped past begin_write's lock.
                    tx.rollback().await?;
                    return match fetch_by_key(&self.pool, &new.dedupe_key).await? {
                        Some(existing) => Ok((existing, false)),
                        None => Err(StoreError::Conflict(format!(
                            "candidate {:?}: another writer stored and removed this key; try \
                             again",
                            new.dedupe_key
                        ))),
                    };
                };
                let id = CaseId(row.try_get(0)?);
                let evidence = insert_evidence(&mut tx, id, &new.evidence, now).await?;
                insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor: SYSTEM_ACTOR,
                        kind: EventKind::Created,
                        from_state: None,
                        to_state: Some(CaseState::Candidate),
                        reason: None,
                        data: serde_json::json!({
                            "dedupe_key": new.dedupe_key,
                            "camera": new.camera.as_str(),
                            "category": new.category,
                            "event_code": new.event_code,
                            "score": new.score,
                            "recurrence_of": new.recurrence_of.map(|c| c.0),
                            "recurrence_count": new.recurrence_count,
                            "evidence": evidence.iter().map(|e| e.id).collect::<Vec<_>>(),
                        }),
                    },
                )
                .await?;
                let case = fetch_case(&mut *tx, id).await?;
                tx.commit().await?;
                Ok((case, true))
            }

            async fn list_impl(
                &self,
                filter: &CaseFilter,
                cursor: Option<Cursor>,
                limit: u32,
            ) -> Result<Page, StoreError> {
                let limit = check_limit(limit, MAX_PAGE)?;
                let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    case_columns!(),
                    " FROM cases WHERE 1 = 1"
                ));
                if !filter.states.is_empty() {
                    qb.push(" AND state IN (");
                    let mut list = qb.separated(", ");
                    for state in &filter.states {
                        list.push_bind(state.as_str());
                    }
                    qb.push(")");
                }
                if !filter.categories.is_empty() {
                    qb.push(" AND category IN (");
                    let mut list = qb.separated(", ");
                    for category in &filter.categories {
                        list.push_bind(category.clone());
                    }
                    qb.push(")");
                }
                if let Some(camera) = &filter.camera {
                    qb.push(" AND camera = ")
                        .push_bind(camera.as_str().to_owned());
                }
                if !filter.cameras.is_empty() {
                    qb.push(" AND camera IN (");
                    let mut list = qb.separated(", ");
                    for camera in &filter.cameras {
                        list.push_bind(camera.as_str().to_owned());
                    }
                    qb.push(")");
                }
                if let Some(grid) = &filter.grid_code {
                    qb.push(" AND grid_code = ").push_bind(grid.clone());
                }
                if let Some(street) = &filter.street {
                    qb.push(" AND street = ").push_bind(street.clone());
                }
                if let Some(since) = filter.since {
                    qb.push(" AND created_at >= ").push_bind(unix_millis(since));
                }
                if let Some(until) = filter.until {
                    qb.push(" AND created_at < ").push_bind(unix_millis(until));
                }
                if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
                    let pattern = like_pattern(text.trim());
                    qb.push(" AND (");
                    let columns = [
                        "event_name",
                        "category",
                        "event_code",
                        "camera",
                        "grid_code",
                        "community",
                        "street",
                        "zone",
                        "external_id",
                        "notes",
                    ];
                    for (i, column) in columns.iter().enumerate() {
                        if i > 0 {
                            qb.push(" OR ");
                        }
                        qb.push(format_args!("lower({column}) LIKE "))
                            .push_bind(pattern.clone())
                            .push(" ESCAPE '\\'");
                    }
                    qb.push(")");
                }
                if let Some(cursor) = cursor {
                    // `created_at <= c` bounds the index range; the rest breaks ties by id.
                    qb.push(" AND created_at <= ")
                        .push_bind(cursor.created_at_ms)
                        .push(" AND (created_at < ")
                        .push_bind(cursor.created_at_ms)
                        .push(" OR id < ")
                        .push_bind(cursor.id.0)
                        .push(")");
                }
                qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(limit + 1);
                let rows = qb.build().fetch_all(&self.pool).await?;
                let mut cases = rows
                    .iter()
                    .map(case_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                let more = cases.len() as i64 > limit;
                cases.truncate(limit as usize);
                let next = if more { cases.last().map(Cursor::after) } else { None };
                Ok(Page { cases, next })
            }

            async fn transition_impl(
                &self,
                id: CaseId,
                to: CaseState,
                actor: &str,
                reason: Option<String>,
                expected_from: Option<CaseState>,
            ) -> Result<(Case, CaseEvent), StoreError> {
                non_blank("actor", actor)?;
                let mut tx = self.begin_write().await?;
                let case = fetch_case(&mut *tx, id).await?;
                check_expected(&case, expected_from)?;
                check_transition(id, case.state, to)
                    .map_err(|e| StoreError::InvalidTransition(e.to_string()))?;
                let now = now_ms();
                let done = sqlx::query(
                    "UPDATE cases SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
                )
                .bind(to.as_str())
                .bind(now)
                .bind(id.0)
                .bind(case.state.as_str())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(changed_meanwhile(id));
                }
                let event = insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor,
                        kind: EventKind::Transition,
                        from_state: Some(case.state),
                        to_state: Some(to),
                        reason,
                        data: serde_json::json!({}),
                    },
                )
                .await?;
                let case = fetch_case(&mut *tx, id).await?;
                tx.commit().await?;
                Ok((case, event))
            }

            async fn reclassify_impl(
                &self,
                id: CaseId,
                category: &str,
                event_code: &str,
                event_name: &str,
                actor: &str,
                reason: Option<String>,
            ) -> Result<(Case, CaseEvent), StoreError> {
                non_blank("actor", actor)?;
                non_blank("category", category)?;
                non_blank("event_code", event_code)?;
                non_blank("event_name", event_name)?;
                let mut tx = self.begin_write().await?;
                let case = fetch_case(&mut *tx, id).await?;
                if !case.state.can_reclassify() {
                    return Err(StoreError::InvalidTransition(format!(
                        "case {id}: cannot reclassify a {} case (only before it goes to the \
                         case system)",
                        case.state
                    )));
                }
                let now = now_ms();
                let done = sqlx::query(
                    "UPDATE cases SET category = $1, event_code = $2, event_name = $3, \
                     updated_at = $4 WHERE id = $5 AND state = $6",
                )
                .bind(category.to_owned())
                .bind(event_code.to_owned())
                .bind(event_name.to_owned())
                .bind(now)
                .bind(id.0)
                .bind(case.state.as_str())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(changed_meanwhile(id));
                }
                let event = insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor,
                        kind: EventKind::Reclassified,
                        from_state: Some(case.state),
                        to_state: Some(case.state),
                        reason,
                        data: serde_json::json!({
                            "from": {
                                "category": case.category,
                                "event_code": case.event_code,
                                "event_name": case.event_name,
                            },
                            "to": {
                                "category": category,
                                "event_code": event_code,
                                "event_name": event_name,
                            },
                        }),
                    },
                )
                .await?;
                let case = fetch_case(&mut *tx, id).await?;
                tx.commit().await?;
                Ok((case, event))
            }

            async fn add_note_impl(
                &self,
                id: CaseId,
                actor: &str,
                text: &str,
            ) -> Result<(Case, CaseEvent), StoreError> {
                non_blank("actor", actor)?;
                non_blank("note", text)?;
                let text = text.trim();
                let mut tx = self.begin_write().await?;
                let case = fetch_case(&mut *tx, id).await?;
                let notes = if case.notes.is_empty() {
                    text.to_owned()
                } else {
                    format!("{}\n{text}", case.notes)
                };
                let now = now_ms();
                sqlx::query("UPDATE cases SET notes = $1, updated_at = $2 WHERE id = $3")
                    .bind(notes)
                    .bind(now)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                let event = insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor,
                        kind: EventKind::Note,
                        from_state: Some(case.state),
                        to_state: Some(case.state),
                        reason: None,
                        data: serde_json::json!({ "text": text }),
                    },
                )
                .await?;
                let case = fetch_case(&mut *tx, id).await?;
                tx.commit().await?;
                Ok((case, event))
            }

            async fn set_external_impl(
                &self,
                id: CaseId,
                update: ExternalUpdate,
                actor: &str,
            ) -> Result<(Case, CaseEvent), StoreError> {
                non_blank("actor", actor)?;
                non_blank("external_id", &update.external_id)?;
                let mut tx = self.begin_write().await?;
                let case = fetch_case(&mut *tx, id).await?;
                if !case.state.accepts_external() {
                    return Err(StoreError::InvalidTransition(format!(
                        "case {id} is {}; only confirmed cases go to the case system",
                        case.state
                    )));
                }
                if let Some(existing) = &case.external_id {
                    if *existing != update.external_id {
                        return Err(StoreError::Conflict(format!(
                            "case {id} already has external id {existing:?}, not {:?}",
                            update.external_id
                        )));
                    }
                }
                let other = sqlx::query("SELECT id FROM cases WHERE external_id = $1 AND id <> $2")
                    .bind(update.external_id.clone())
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(other) = other {
                    let other: i64 = other.try_get(0)?;
                    return Err(StoreError::Conflict(format!(
                        "external id {:?} already belongs to case {other}",
                        update.external_id
                    )));
                }
                let to = update.state.unwrap_or(case.state);
                if to != case.state {
                    check_transition(id, case.state, to)
                        .map_err(|e| StoreError::InvalidTransition(e.to_string()))?;
                }
                let now = now_ms();
                let done = sqlx::query(
                    "UPDATE cases SET external_id = $1, state = $2, updated_at = $3 \
                     WHERE id = $4 AND state = $5",
                )
                .bind(update.external_id.clone())
                .bind(to.as_str())
                .bind(now)
                .bind(id.0)
                .bind(case.state.as_str())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(changed_meanwhile(id));
                }
                let event = insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor,
                        kind: EventKind::ExternalStatus,
                        from_state: Some(case.state),
                        to_state: Some(to),
                        reason: update.status_text.clone(),
                        data: serde_json::json!({
                            "external_id": update.external_id,
                            "state": update.state.map(CaseState::as_str),
                        }),
                    },
                )
                .await?;
                let case = fetch_case(&mut *tx, id).await?;
                tx.commit().await?;
                Ok((case, event))
            }

            async fn add_evidence_impl(
                &self,
                id: CaseId,
                items: Vec<NewEvidence>,
                actor: &str,
            ) -> Result<(Vec<Evidence>, CaseEvent), StoreError> {
                non_blank("actor", actor)?;
                if items.is_empty() {
                    return Err(StoreError::Invalid("no evidence given".to_owned()));
                }
                for (i, item) in items.iter().enumerate() {
                    validate_evidence(item)
                        .map_err(|p| StoreError::Invalid(format!("evidence[{i}]: {p}")))?;
                }
                let mut tx = self.begin_write().await?;
                let case = fetch_case(&mut *tx, id).await?;
                let now = now_ms();
                let stored = insert_evidence(&mut tx, id, &items, now).await?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                let event = insert_event(
                    &mut *tx,
                    NewEvent {
                        case_id: id,
                        at: now,
                        actor,
                        kind: EventKind::Evidence,
                        from_state: Some(case.state),
                        to_state: Some(case.state),
                        reason: None,
                        data: serde_json::json!({
                            "evidence": stored.iter().map(|e| e.id).collect::<Vec<_>>(),
                        }),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok((stored, event))
            }

            async fn events_impl(&self, id: CaseId) -> Result<Vec<CaseEvent>, StoreError> {
                fetch_case(&self.pool, id).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM case_events WHERE case_id = $1 ORDER BY id"
                ))
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn events_after_impl(
                &self,
                cursor: i64,
                limit: u32,
            ) -> Result<Vec<CaseEvent>, StoreError> {
                let limit = check_limit(limit, MAX_EVENTS)?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM case_events WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(cursor)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn evidence_impl(&self, id: CaseId) -> Result<Vec<Evidence>, StoreError> {
                fetch_case(&self.pool, id).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    evidence_columns!(),
                    " FROM evidence WHERE case_id = $1 ORDER BY id"
                ))
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(evidence_from_row).collect()
            }

            async fn recurrences_impl(&self, id: CaseId) -> Result<Vec<Case>, StoreError> {
                fetch_case(&self.pool, id).await?;
                // recurrence_of always names an older case (checked at insert), so the chain
                // ends; the depth bound is a guard against hand-edited data.
                let rows = sqlx::query(concat!(
                    "WITH RECURSIVE chain (prev_id, depth) AS ( \
                       SELECT recurrence_of, 1 FROM cases \
                        WHERE id = $1 AND recurrence_of IS NOT NULL \
                       UNION ALL \
                       SELECT c.recurrence_of, chain.depth + 1 FROM cases c \
                         JOIN chain ON c.id = chain.prev_id \
                        WHERE c.recurrence_of IS NOT NULL AND chain.depth < 10000 \
                     ) SELECT ",
                    case_columns!(),
                    " FROM chain JOIN cases ON cases.id = chain.prev_id ORDER BY chain.depth"
                ))
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(case_from_row).collect()
            }

            async fn open_candidates_impl(
                &self,
                camera: &CameraId,
            ) -> Result<Vec<Case>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    case_columns!(),
                    " FROM cases WHERE camera = $1 AND state IN ($2, $3) \
                      ORDER BY created_at, id"
                ))
                .bind(camera.as_str().to_owned())
                .bind(CaseState::Candidate.as_str())
                .bind(CaseState::FieldCheck.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(case_from_row).collect()
            }
        }

        impl CaseStore for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            fn console(&self) -> &dyn $crate::cases::console::ConsoleStore {
                self
            }

            fn insert_candidate(&self, new: NewCandidate) -> StoreFuture<'_, (Case, bool)> {
                Box::pin(self.insert_candidate_impl(new))
            }

            fn get(&self, id: CaseId) -> StoreFuture<'_, Case> {
                Box::pin(fetch_case(&self.pool, id))
            }

            fn get_by_dedupe_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Case>> {
                Box::pin(fetch_by_key(&self.pool, key))
            }

            fn list<'a>(
                &'a self,
                filter: &'a CaseFilter,
                cursor: Option<Cursor>,
                limit: u32,
            ) -> StoreFuture<'a, Page> {
                Box::pin(self.list_impl(filter, cursor, limit))
            }

            fn transition<'a>(
                &'a self,
                id: CaseId,
                to: CaseState,
                actor: &'a str,
                reason: Option<String>,
                expected_from: Option<CaseState>,
            ) -> StoreFuture<'a, (Case, CaseEvent)> {
                Box::pin(self.transition_impl(id, to, actor, reason, expected_from))
            }

            fn reclassify<'a>(
                &'a self,
                id: CaseId,
                category: &'a str,
                event_code: &'a str,
                event_name: &'a str,
                actor: &'a str,
                reason: Option<String>,
            ) -> StoreFuture<'a, (Case, CaseEvent)> {
                Box::pin(self.reclassify_impl(id, category, event_code, event_name, actor, reason))
            }

            fn add_note<'a>(
                &'a self,
                id: CaseId,
                actor: &'a str,
                text: &'a str,
            ) -> StoreFuture<'a, (Case, CaseEvent)> {
                Box::pin(self.add_note_impl(id, actor, text))
            }

            fn set_external<'a>(
                &'a self,
                id: CaseId,
                update: ExternalUpdate,
                actor: &'a str,
            ) -> StoreFuture<'a, (Case, CaseEvent)> {
                Box::pin(self.set_external_impl(id, update, actor))
            }

            fn add_evidence<'a>(
                &'a self,
                id: CaseId,
                evidence: Vec<NewEvidence>,
                actor: &'a str,
            ) -> StoreFuture<'a, (Vec<Evidence>, CaseEvent)> {
                Box::pin(self.add_evidence_impl(id, evidence, actor))
            }

            fn events(&self, id: CaseId) -> StoreFuture<'_, Vec<CaseEvent>> {
                Box::pin(self.events_impl(id))
            }

            fn events_after(&self, cursor: i64, limit: u32) -> StoreFuture<'_, Vec<CaseEvent>> {
                Box::pin(self.events_after_impl(cursor, limit))
            }

            fn last_event_id(&self) -> StoreFuture<'_, i64> {
                Box::pin(async move {
                    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS last FROM case_events")
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(row.try_get::<i64, _>("last")?)
                })
            }

            fn evidence(&self, id: CaseId) -> StoreFuture<'_, Vec<Evidence>> {
                Box::pin(self.evidence_impl(id))
            }

            fn recurrences(&self, id: CaseId) -> StoreFuture<'_, Vec<Case>> {
                Box::pin(self.recurrences_impl(id))
            }

            fn open_candidates<'a>(&'a self, camera: &'a CameraId) -> StoreFuture<'a, Vec<Case>> {
                Box::pin(self.open_candidates_impl(camera))
            }

            fn close(&self) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    self.pool.close().await;
                    Ok(())
                })
            }
        }
    };
}

pub(crate) use impl_case_store;
