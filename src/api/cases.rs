//! The review queue: listing, reading and deciding cases, their evidence files, and live
//! updates (server-sent events fed from the store's event outbox).
//!
//! Who may move a case: operators decide candidates (confirm, reject, send to the field);
//! inspectors decide what was sent to the field; admins both; viewers nothing. A user scoped to
//! camera groups sees only those cameras' cases (others answer 404, as if absent).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Decider, Role};
use super::error::{ApiError, ApiResult};
use super::{parse_time, rfc3339, AppState};
use crate::cases::{Case, CaseFilter, CaseId, CaseState, Cursor};
use crate::domain::CameraId;

/// Default page size of `GET /api/v1/cases`.
const DEFAULT_LIMIT: u32 = 50;
/// Most cases one batch request may touch.
const MAX_BATCH: usize = 200;

/// A case as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: i64,
    pub state: CaseState,
    pub category: String,
    pub event_code: String,
    pub event_name: String,
    pub score: f32,
    /// `[x1, y1, x2, y2]`, normalised to the frame.
    pub bbox: [f32; 4],
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub grid_code: Option<String>,
    pub community: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    pub zone: Option<String>,
    pub camera: String,
    pub camera_name: String,
    pub arrived_at: String,
    pub detected_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub recurrence_of: Option<i64>,
    pub recurrence_count: u32,
    pub escalation: &'static str,
    pub external_id: Option<String>,
    pub notes: String,
    pub next_states: Vec<CaseState>,
}

/// A changed case, for live updates.
pub type LiveCase = Arc<CaseView>;

impl CaseView {
    pub fn new(case: &Case, camera_name: String) -> Self {
        CaseView {
            id: case.id.0,
            state: case.state,
            category: case.category.clone(),
            event_code: case.event_code.clone(),
            event_name: case.event_name.clone(),
            score: case.score,
            bbox: [case.bbox.x1, case.bbox.y1, case.bbox.x2, case.bbox.y2],
            lat: case.lat,
            lon: case.lon,
            grid_code: case.grid_code.clone(),
            community: case.community.clone(),
            street: case.street.clone(),
            unit: case.unit.clone(),
            zone: case.zone.clone(),
            camera: case.camera.as_str().to_owned(),
            camera_name,
            arrived_at: rfc3339(case.arrived_at),
            detected_at: rfc3339(case.detected_at),
            created_at: rfc3339(case.created_at),
            updated_at: rfc3339(case.updated_at),
            recurrence_of: case.recurrence_of.map(|id| id.0),
            recurrence_count: case.recurrence_count,
            escalation: case.escalation().as_str(),
            external_id: case.external_id.clone(),
            notes: case.notes.clone(),
            next_states: case.state.next_states().to_vec(),
        }
    }
}

fn view(state: &AppState, case: &Case) -> CaseView {
    CaseView::new(case, state.cameras.name_of(&case.camera))
}

/// `GET /api/v1/cases` query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states.
    state: Option<String>,
    /// Comma-separated internal categories.
    category: Option<String>,
    camera: Option<String>,
    grid: Option<String>,
    street: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// Free text.
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListPage {
    cases: Vec<CaseView>,
    next: Option<String>,
}

fn comma_list(text: Option<&str>) -> Vec<&str> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

impl ListQuery {
    fn filter(&self, state: &AppState, caller: &Caller) -> ApiResult<CaseFilter> {
        let mut problems = Vec::new();
        let mut states = Vec::new();
        for name in comma_list(self.state.as_deref()) {
            match name.parse::<CaseState>() {
                Ok(s) => states.push(s),
                Err(e) => problems.push(format!("state: {e}")),
            }
        }
        let since = self.since.as_deref().map(|t| parse_time("since", t));
        let until = self.until.as_deref().map(|t| parse_time("until", t));
        for err in [&since, &until]
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_ref().err())
        {
            problems.push(err.message().to_owned());
        }
        if let Some(limit) = self.limit {
            if !(1..=crate::cases::store::MAX_PAGE).contains(&limit) {
                problems.push(format!(
                    "limit: {limit} is outside 1..={}",
                    crate::cases::store::MAX_PAGE
                ));
            }
        }
        if let Some(cursor) = &self.cursor {
            if let Err(e) = cursor.parse::<Cursor>() {
                problems.push(format!("cursor: {e}"));
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let camera = self
            .camera
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(CameraId::new);
        let cameras = if caller.is_admin() || caller.groups.is_empty() {
            Vec::new()
        } else {
            let visible = state.cameras.visible_ids(caller);
            if visible.is_empty() {
                // Sees no camera: a filter nothing matches.
                vec![CameraId::new("")]
            } else {
                visible
            }
        };
        Ok(CaseFilter {
            states,
            categories: comma_list(self.category.as_deref())
                .into_iter()
                .map(str::to_owned)
                .collect(),
            camera,
            cameras,
            grid_code: self.grid.clone().filter(|g| !g.is_empty()),
            street: self.street.clone().filter(|s| !s.is_empty()),
            since: since.transpose()?,
            until: until.transpose()?,
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
        })
    }
}

/// `GET /api/v1/cases`: newest first, keyset-paged.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<ListPage>> {
    let filter = query.filter(&state, &caller)?;
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| c.parse::<Cursor>())
        .transpose()?;
    let page = state
        .store
        .list(&filter, cursor, query.limit.unwrap_or(DEFAULT_LIMIT))
        .await?;
    Ok(Json(ListPage {
        cases: page.cases.iter().map(|c| view(&state, c)).collect(),
        next: page.next.map(|c| c.to_string()),
    }))
}

/// A case the caller may see, else 404.
async fn visible_case(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Case> {
    let case = state.store.get(CaseId(id)).await?;
    if !state.cameras.visible_to(&case.camera, caller) {
        return Err(ApiError::not_found(format!("not found: case {id}")));
    }
    Ok(case)
}

#[derive(Debug, Serialize)]
struct EvidenceView {
    id: i64,
    kind: &'static str,
    mime: String,
    url: String,
}

#[derive(Debug, Serialize)]
struct EventView {
    id: i64,
    at: String,
    actor: String,
    kind: &'static str,
    from_state: Option<CaseState>,
    to_state: Option<CaseState>,
    reason: Option<String>,
    data: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct CaseDetail {
    #[serde(flatten)]
    case: CaseView,
    evidence: Vec<EvidenceView>,
    events: Vec<EventView>,
    recurrences: Vec<CaseView>,
}

/// `GET /api/v1/cases/{id}`: the case with its evidence, timeline and earlier visits.
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<CaseDetail>> {
    let case = visible_case(&state, &caller, id).await?;
    let evidence = state.store.evidence(case.id).await?;
    let events = state.store.events(case.id).await?;
    let recurrences = state.store.recurrences(case.id).await?;
    Ok(Json(CaseDetail {
        case: view(&state, &case),
        evidence: evidence
            .into_iter()
            .map(|e| EvidenceView {
                id: e.id,
                kind: e.kind.as_str(),
                url: format!("/api/v1/cases/{}/evidence/{}", case.id, e.id),
                mime: e.mime,
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                at: rfc3339(e.at),
                actor: e.actor,
                kind: e.kind.as_str(),
                from_state: e.from_state,
                to_state: e.to_state,
                reason: e.reason,
                data: e.data,
            })
            .collect(),
        recurrences: recurrences.iter().map(|c| view(&state, c)).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    to: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expected_from: Option<String>,
}

/// Whether `role` may move a case from `from` to `to` (the workflow itself is checked by the
/// store). Only people's decisions go through here; the case system's states come from
/// delivery.
fn may_move(role: Role, from: CaseState, to: CaseState) -> bool {
    use CaseState::*;
    let decision = matches!(to, Confirmed | Rejected | FieldCheck);
    match role {
        Role::Admin => decision,
        Role::Operator => from == Candidate && decision,
        Role::Inspector => from == FieldCheck && matches!(to, Confirmed | Rejected),
        Role::Viewer => false,
    }
}

async fn apply_transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    request: &TransitionRequest,
) -> ApiResult<Case> {
    caller.require(
        &[Role::Admin, Role::Operator, Role::Inspector],
        "decide cases",
    )?;
    let to: CaseState = request
        .to
        .parse()
        .map_err(|e| ApiError::bad_request(format!("to: {e}")))?;
    let expected_from = request
        .expected_from
        .as_deref()
        .map(str::parse::<CaseState>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("expected_from: {e}")))?;
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if to == CaseState::Rejected && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason: a rejection needs a reason (false detection, permitted, duplicate, …)",
        ));
    }
    let case = visible_case(state, caller, id).await?;
    if !may_move(caller.role, case.state, to) {
        return Err(ApiError::forbidden(format!(
            "role {} may not move case {id} from {} to {to}",
            caller.role.as_str(),
            case.state
        )));
    }
    let (case, _) = state
        .store
        .transition(
            CaseId(id),
            to,
            &caller.name,
            reason,
            expected_from.or(Some(case.state)),
        )
        .await?;
    tracing::info!(case = id, user = %caller.name, to = %to, "Case moved.");
    Ok(case)
}

/// `POST /api/v1/cases/{id}/transition`.
pub async fn transition(
    State(state): State<Arc<AppState>>,
    Decider(caller): Decider,
    Path(id): Path<i64>,
    Json(request): Json<TransitionRequest>,
) -> ApiResult<Json<CaseView>> {
    let case = apply_transition(&state, &caller, id, &request).await?;
    Ok(Json(view(&state, &case)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    ids: Vec<i64>,
    to: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct BatchResult {
    id: i64,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /api/v1/cases/batch`: one decision for several cases; each succeeds or fails alone.
pub async fn batch(
    State(state): State<Arc<AppState>>,
    Decider(caller): Decider,
    Json(request): Json<BatchRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    if request.ids.is_empty() || request.ids.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "ids: give 1 to {MAX_BATCH} case ids (got {})",
            request.ids.len()
        )));
    }
    let unique: BTreeSet<i64> = request.ids.iter().copied().collect();
    let single = TransitionRequest {
        to: request.to.clone(),
        reason: request.reason.clone(),
        expected_from: None,
    };
    let mut results = Vec::with_capacity(unique.len());
    for id in unique {
        let outcome = apply_transition(&state, &caller, id, &single).await;
        results.push(match outcome {
            Ok(_) => BatchResult {
                id,
                ok: true,
                error: None,
            },
            Err(e) => BatchResult {
                id,
                ok: false,
                error: Some(e.message().to_owned()),
            },
        });
    }
    Ok(Json(serde_json::json!({ "results": results })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclassifyRequest {
    category: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/cases/{id}/reclassify`: another category, its event code from the table.
pub async fn reclassify(
    State(state): State<Arc<AppState>>,
    Decider(caller): Decider,
    Path(id): Path<i64>,
    Json(request): Json<ReclassifyRequest>,
) -> ApiResult<Json<CaseView>> {
    let (code, name) = {
        let table = state.categories.read().unwrap_or_else(|p| p.into_inner());
        let entry = table.get(request.category.trim()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "category: {:?} is not in the category table",
                request.category
            ))
        })?;
        (entry.code.clone(), entry.name.clone())
    };
    visible_case(&state, &caller, id).await?;
    let (case, _) = state
        .store
        .reclassify(
            CaseId(id),
            request.category.trim(),
            &code,
            &name,
            &caller.name,
            request.reason.filter(|r| !r.trim().is_empty()),
        )
        .await?;
    Ok(Json(view(&state, &case)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    text: String,
}

/// `POST /api/v1/cases/{id}/notes`.
pub async fn note(
    State(state): State<Arc<AppState>>,
    Decider(caller): Decider,
    Path(id): Path<i64>,
    Json(request): Json<NoteRequest>,
) -> ApiResult<Json<CaseView>> {
    if request.text.trim().is_empty() {
        return Err(ApiError::bad_request("text: the note is empty"));
    }
    visible_case(&state, &caller, id).await?;
    let (case, _) = state
        .store
        .add_note(CaseId(id), &caller.name, request.text.trim())
        .await?;
    Ok(Json(view(&state, &case)))
}

/// `GET /api/v1/cases/{id}/evidence/{evidence}`: the file.
pub async fn evidence_file(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, evidence_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let case = visible_case(&state, &caller, id).await?;
    let evidence = state.store.evidence(case.id).await?;
    let item = evidence
        .into_iter()
        .find(|e| e.id == evidence_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("not found: evidence {evidence_id} of case {id}"))
        })?;
    let path = state.data_dir.join(&item.path);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    Ok((
        [
            (header::CONTENT_TYPE, item.mime),
            // Content-addressed: a path never changes its bytes.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_owned(),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// `GET /api/v1/live`: every created or changed case the caller may see, as it happens.
pub async fn live(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.live.subscribe();
    let stream = tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(move |item| {
        let visible = match &item {
            Ok(case) => state
                .cameras
                .visible_to(&CameraId::new(&case.camera), &caller),
            Err(_) => true,
        };
        let event = match item {
            Ok(case) if visible => serde_json::to_string(&*case)
                .ok()
                .map(|json| Ok(Event::default().event("case").data(json))),
            Ok(_) => None,
            // Fell behind: tell the page to reload its list.
            Err(_) => Some(Ok(Event::default().event("resync").data("{}"))),
        };
        std::future::ready(event)
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Follows the store's event outbox from its current end and broadcasts each changed case.
/// Runs for the server's life; a database error is logged and retried.
pub async fn follow_outbox(state: Arc<AppState>) {
    let mut cursor = loop {
        match state.store.last_event_id().await {
            Ok(last) => break last,
            Err(e) => {
                tracing::warn!(error = %e, "Live updates cannot read the event outbox; retrying.");
                tokio::time::sleep(state.options.live_poll).await;
            }
        }
    };
    let mut interval = tokio::time::interval(state.options.live_poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let events = match state.store.events_after(cursor, 500).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "Live updates cannot read the event outbox; retrying.");
                continue;
            }
        };
        let Some(last) = events.last() else { continue };
        cursor = last.id;
        let changed: BTreeSet<CaseId> = events.iter().map(|e| e.case_id).collect();
        if state.live.receiver_count() == 0 {
            continue;
        }
        for id in changed {
            if let Ok(case) = state.store.get(id).await {
                let _ = state.live.send(Arc::new(view(&state, &case)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_decide_what_their_job_is() {
        use CaseState::*;
        assert!(may_move(Role::Operator, Candidate, Confirmed));
        assert!(may_move(Role::Operator, Candidate, FieldCheck));
        assert!(!may_move(Role::Operator, FieldCheck, Confirmed));
        assert!(may_move(Role::Inspector, FieldCheck, Rejected));
        assert!(!may_move(Role::Inspector, Candidate, Confirmed));
        assert!(!may_move(Role::Viewer, Candidate, Confirmed));
        assert!(!may_move(Role::Admin, Confirmed, Submitted));
    }
}
