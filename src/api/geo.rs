//! The map's data and settings: the unit-grid layer, the category → event-code table, and the
//! map configuration (an optional tile server). Changes are validated, saved in the store and
//! handed to the running pipeline, so new cases use them at once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::cases::categories::Category;
use crate::cases::{CaseStore, CategoryTable};
use crate::config::Config;
use crate::geo::GridLayer;

/// Settings key of the grid layer saved from the console (GeoJSON text).
const GRID_KEY: &str = "grid_geojson";
/// Settings key of the category table saved from the console (JSON rows).
const CATEGORIES_KEY: &str = "categories_json";

/// The category table: the console's saved one, else the config's file, else CJ/T 214.
pub async fn load_categories(
    config: &Config,
    store: &dyn CaseStore,
) -> anyhow::Result<CategoryTable> {
    if let Some(json) = store.console().setting(CATEGORIES_KEY).await? {
        let rows: Vec<Category> = serde_json::from_str(&json)?;
        return Ok(CategoryTable::from_categories(rows)?);
    }
    Ok(match &config.categories {
        Some(path) => CategoryTable::load(path)?,
        None => CategoryTable::cjt214(),
    })
}

/// The grid layer and its GeoJSON: the console's saved one, else the config's file.
pub async fn load_grid(
    config: &Config,
    store: &dyn CaseStore,
) -> anyhow::Result<Option<(GridLayer, String)>> {
    let text = match store.console().setting(GRID_KEY).await? {
        Some(text) => text,
        None => match &config.grid {
            Some(path) => std::fs::read_to_string(path)?,
            None => return Ok(None),
        },
    };
    let layer = GridLayer::from_geojson(&text).map_err(|e| anyhow::anyhow!("grid layer: {e}"))?;
    Ok(Some((layer, text)))
}

#[derive(Debug, Serialize)]
pub struct MapConfig {
    tile_url: Option<String>,
    /// The grid layer's centre, `[lat, lon]`.
    center: Option<[f64; 2]>,
    lang: &'static str,
    timezone: String,
}

/// `GET /api/v1/config`: what the console needs to draw the map.
pub async fn map_config(State(state): State<Arc<AppState>>, _caller: Caller) -> Json<MapConfig> {
    let center = state
        .grid
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|(layer, _)| {
            let cells = layer.cells();
            let n = cells.len() as f64;
            (n > 0.0).then(|| {
                let (lat, lon) = cells.iter().fold((0.0, 0.0), |(a, b), c| {
                    let ring = c.polygons.first().map_or(&[][..], |p| &p.exterior[..]);
                    let k = ring.len().max(1) as f64;
                    let (rlat, rlon) = ring
                        .iter()
                        .fold((0.0, 0.0), |(x, y), p| (x + p.lat, y + p.lon));
                    (a + rlat / k, b + rlon / k)
                });
                [lat / n, lon / n]
            })
        });
    Json(MapConfig {
        tile_url: state.options.tile_url.clone(),
        center,
        lang: "zh-CN",
        timezone: state.config.timezone.name().to_owned(),
    })
}

/// `GET /api/v1/grid`: the layer as GeoJSON.
pub async fn get_grid(State(state): State<Arc<AppState>>, _caller: Caller) -> Response {
    let text = state
        .grid
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|(_, text)| text.clone())
        .unwrap_or_else(|| r#"{"type":"FeatureCollection","features":[]}"#.to_owned());
    ([(header::CONTENT_TYPE, "application/geo+json")], text).into_response()
}

/// `PUT /api/v1/grid` (admin): replaces the layer; 400 lists every problem by feature.
pub async fn put_grid(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    body: String,
) -> ApiResult<Json<serde_json::Value>> {
    let layer = GridLayer::from_geojson(&body)
        .map_err(|errors| ApiError::invalid(errors.0.iter().map(|e| e.to_string()).collect()))?;
    state.store.console().put_setting(GRID_KEY, &body).await?;
    let cells = layer.len();
    if let Some(pipeline) = &state.pipeline {
        pipeline.set_grid(Some(layer.clone()));
    }
    *state.grid.write().unwrap_or_else(|p| p.into_inner()) = Some((layer, body));
    tracing::info!(admin = %caller.name, cells, "Grid layer replaced.");
    Ok(Json(serde_json::json!({ "cells": cells })))
}

/// A row of the category table as the API shows and takes it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRow {
    /// Internal category (`street_vending`, `illegal_signage.poster`).
    category: String,
    /// The city's event code.
    code: String,
    /// The city's event name.
    name: String,
    /// Top class, for display (`05 街面秩序`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class: Option<String>,
}

fn rows_of(table: &CategoryTable) -> Vec<CategoryRow> {
    table
        .categories()
        .iter()
        .map(|c| CategoryRow {
            category: c.internal.clone(),
            code: c.code.clone(),
            name: c.name.clone(),
            class: c.class.clone(),
        })
        .collect()
}

/// `GET /api/v1/categories`.
pub async fn get_categories(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Json<Vec<CategoryRow>> {
    let table = state.categories.read().unwrap_or_else(|p| p.into_inner());
    Json(rows_of(&table))
}

/// `PUT /api/v1/categories` (admin): replaces the table.
pub async fn put_categories(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Json(rows): Json<Vec<CategoryRow>>,
) -> ApiResult<(StatusCode, Json<Vec<CategoryRow>>)> {
    let rows: Vec<Category> = rows
        .into_iter()
        .map(|r| Category {
            internal: r.category,
            code: r.code,
            name: r.name,
            class: r.class,
        })
        .collect();
    let table = CategoryTable::from_categories(rows).map_err(|e| match e {
        crate::cases::CategoryError::Invalid(problems) => ApiError::invalid(problems),
        other => ApiError::bad_request(other.to_string()),
    })?;
    let json = serde_json::to_string(table.categories()).map_err(ApiError::internal)?;
    state
        .store
        .console()
        .put_setting(CATEGORIES_KEY, &json)
        .await?;
    if let Some(pipeline) = &state.pipeline {
        pipeline.set_categories(table.clone());
    }
    let rows = rows_of(&table);
    *state.categories.write().unwrap_or_else(|p| p.into_inner()) = table;
    tracing::info!(admin = %caller.name, "Category table replaced.");
    Ok((StatusCode::OK, Json(rows)))
}
