//! `GET /api/v1/stats`: the figures behind the city's evaluation (综合评价): cases per grid,
//! street, responsible unit, category and day; how often each camera's candidates are
//! confirmed (precision, per category); the median time to review; recurrences.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use chrono::Offset as _;
use serde::Deserialize;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{parse_time, AppState};
use crate::cases::{Stats, StatsQuery};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Cases created at or after (RFC 3339 or `YYYY-MM-DD`).
    since: Option<String>,
    /// Cases created before.
    until: Option<String>,
}

/// `GET /api/v1/stats` (any role not scoped to camera groups: the figures cover every camera).
pub async fn stats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<StatsParams>,
) -> ApiResult<Json<Stats>> {
    if !caller.is_admin() && !caller.groups.is_empty() {
        return Err(ApiError::forbidden(
            "statistics cover every camera; users scoped to camera groups cannot read them",
        ));
    }
    let since = params
        .since
        .as_deref()
        .map(|t| parse_time("since", t))
        .transpose()?;
    let until = params
        .until
        .as_deref()
        .map(|t| parse_time("until", t))
        .transpose()?;
    let utc_offset_s = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .with_timezone(&state.config.timezone)
        .offset()
        .fix()
        .local_minus_utc();
    let stats = state
        .store
        .console()
        .stats(StatsQuery {
            since,
            until,
            utc_offset_s,
        })
        .await?;
    Ok(Json(stats))
}
