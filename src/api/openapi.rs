//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, built from [`ROUTES`], the table
//! of every route with the roles it admits. A test calls each route through the router and
//! checks it exists and refuses anonymous callers, so the table cannot drift from the router.

use axum::Json;
use serde_json::{json, Value};

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// With `{param}` placeholders.
    pub path: &'static str,
    pub summary: &'static str,
    /// Roles admitted; empty = no login needed.
    pub roles: &'static [&'static str],
}

const ANY: &[&str] = &["admin", "operator", "inspector", "viewer"];
const DECIDE: &[&str] = &["admin", "operator", "inspector"];
const ADMIN: &[&str] = &["admin"];

/// Every route under `/api/v1`.
pub const ROUTES: &[Route] = &[
    Route { method: "get", path: "/openapi.json", summary: "This document.", roles: &[] },
    Route { method: "get", path: "/health", summary: "For monitoring: `status` ok / degraded (candidates wait in the spool) / down (the store does not answer, HTTP 503), `store`, `spooled`, cameras per status.", roles: &[] },
    Route { method: "post", path: "/session", summary: "Log in (username, password); sets the session cookie.", roles: &[] },
    Route { method: "delete", path: "/session", summary: "Log out.", roles: &[] },
    Route { method: "get", path: "/me", summary: "The logged-in user.", roles: ANY },
    Route { method: "get", path: "/users", summary: "List users.", roles: ADMIN },
    Route { method: "post", path: "/users", summary: "Add a user (name, password, role, groups).", roles: ADMIN },
    Route { method: "delete", path: "/users/{name}", summary: "Delete a user.", roles: ADMIN },
    Route { method: "post", path: "/users/{name}/tokens", summary: "Create an API token for a user (shown once).", roles: ADMIN },
    Route { method: "get", path: "/cases", summary: "List cases, newest first: state, category, camera, grid, street, since, until, q, limit, cursor.", roles: ANY },
    Route { method: "post", path: "/cases/batch", summary: "One decision for several cases (ids, to, reason).", roles: DECIDE },
    Route { method: "get", path: "/cases/{id}", summary: "A case with its evidence, timeline and earlier visits.", roles: ANY },
    Route { method: "post", path: "/cases/{id}/transition", summary: "Confirm, reject (reason required) or send to the field inspector.", roles: DECIDE },
    Route { method: "post", path: "/cases/{id}/reclassify", summary: "Change the category; the event code follows the table.", roles: DECIDE },
    Route { method: "post", path: "/cases/{id}/notes", summary: "Add a note.", roles: DECIDE },
    Route { method: "get", path: "/cases/{id}/evidence/{evidence}", summary: "An evidence file (frame, crop, clip).", roles: ANY },
    Route { method: "get", path: "/live", summary: "Server-sent events: `case` with the case JSON whenever one is created or changes.", roles: ANY },
    Route { method: "get", path: "/cameras", summary: "Cameras with live status (never a password).", roles: ANY },
    Route { method: "post", path: "/cameras", summary: "Add a camera; it starts at once.", roles: ADMIN },
    Route { method: "get", path: "/cameras/{id}", summary: "One camera.", roles: ANY },
    Route { method: "put", path: "/cameras/{id}", summary: "Replace a camera's settings (omit password to keep it); the stream restarts only if its source, frame settings or detector intervals change.", roles: ADMIN },
    Route { method: "delete", path: "/cameras/{id}", summary: "Stop and delete a camera.", roles: ADMIN },
    Route { method: "get", path: "/cameras/{id}/snapshot", summary: "The latest frame, JPEG.", roles: ANY },
    Route { method: "put", path: "/cameras/{id}/zones", summary: "Replace the camera's zones; applied at once.", roles: ADMIN },
    Route { method: "put", path: "/cameras/{id}/calibration", summary: "Fit, save and apply a calibration.", roles: ADMIN },
    Route { method: "post", path: "/cameras/{id}/calibration/check", summary: "Fit a calibration without saving: reprojection error and ground footprint.", roles: ADMIN },
    Route { method: "post", path: "/cameras/{id}/baseline", summary: "Capture the approved signage and a picture of the scene from the next five frames.", roles: ADMIN },
    Route { method: "get", path: "/config", summary: "Map settings: tile URL, centre, language, time zone.", roles: ANY },
    Route { method: "get", path: "/grid", summary: "The unit-grid layer, GeoJSON.", roles: ANY },
    Route { method: "put", path: "/grid", summary: "Replace the unit-grid layer (GeoJSON); 400 lists every problem.", roles: ADMIN },
    Route { method: "get", path: "/categories", summary: "The category → event-code table.", roles: ANY },
    Route { method: "put", path: "/categories", summary: "Replace the category table.", roles: ADMIN },
    Route { method: "get", path: "/stats", summary: "Counts per grid, street, unit, category, day; precision per camera and category; median review time.", roles: ANY },
];

/// The document.
pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(format!("/api/v1{}", route.path))
            .or_insert_with(|| json!({}));
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut responses = json!({
            "200": { "description": "OK" },
            "400": { "$ref": "#/components/responses/Error" },
        });
        let mut operation = json!({
            "summary": route.summary,
            "parameters": params,
        });
        if !route.roles.is_empty() {
            responses["401"] = json!({ "$ref": "#/components/responses/Error" });
            responses["403"] = json!({ "$ref": "#/components/responses/Error" });
            operation["security"] = json!([{ "session": [] }, { "token": [] }]);
            operation["x-roles"] = json!(route.roles);
        }
        operation["responses"] = responses;
        entry[route.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gridsight API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Candidate cases from city cameras, their review, the cameras and the map. \
                            Times are RFC 3339 UTC. Errors: {\"error\": {\"status\", \"message\", \"problems\"?}}.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE },
                "token": { "type": "http", "scheme": "bearer" },
            },
            "responses": {
                "Error": {
                    "description": "What is wrong, in a sentence naming the field.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "type": "object", "properties": {
                            "status": { "type": "integer" },
                            "message": { "type": "string" },
                            "problems": { "type": "array", "items": { "type": "string" } },
                        }}},
                    }}},
                },
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}
