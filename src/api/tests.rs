//! The API through its router (no socket): every route's role check, validation errors, the
//! review workflow, camera passwords never leaving, group scoping, tokens and statistics.
//! Real SQLite store in a temporary directory; no pipeline (API-only), so camera changes are
//! saved and validated but not started here (tests/it/console.rs covers the running case).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use super::openapi::ROUTES;
use super::{router, ApiOptions, AppState};
use crate::cases::{CaseStore, NewCandidate};
use crate::config::{CameraConfig, Config, Credentials, RtspTransport, Secret, Source};
use crate::domain::{BBox, CameraId};

const SENTINEL: &str = "Camera-Pw-7f3a9c";

struct Fixture {
    app: Router,
    store: Arc<dyn CaseStore>,
    admin: String,
    operator: String,
    inspector: String,
    viewer: String,
    scoped: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("gridsight-api-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn camera(id: &str, password: Option<&str>) -> CameraConfig {
    let mut camera = CameraConfig::new(
        id,
        Source::Rtsp {
            url: format!("rtsp://127.0.0.1:9/{id}"),
            transport: RtspTransport::default(),
        },
        vec![],
    );
    camera.credentials = password.map(|p| Credentials {
        user: "viewer".to_owned(),
        password: Secret::new(p),
    });
    camera
}

fn candidate(key: &str, camera: &str) -> NewCandidate {
    let at = std::time::SystemTime::now();
    NewCandidate {
        dedupe_key: key.to_owned(),
        camera: CameraId::new(camera),
        category: "street_vending".to_owned(),
        event_code: "0501".to_owned(),
        event_name: "无照经营游商".to_owned(),
        score: 0.9,
        bbox: BBox::new(0.1, 0.2, 0.3, 0.4),
        lat: Some(31.23),
        lon: Some(121.47),
        grid_code: Some("31010100100101".to_owned()),
        community: None,
        street: Some("南京东路街道".to_owned()),
        unit: None,
        zone: None,
        arrived_at: at,
        detected_at: at,
        recurrence_of: None,
        recurrence_count: 1,
        evidence: vec![],
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = auth {
        request = request.header(header::COOKIE, cookie);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value, cookie)
}

async fn login(app: &Router, name: &str) -> String {
    let (status, body, cookie) = call(
        app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({ "username": name, "password": format!("{name}-password") })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(cookie.starts_with("gs_session="), "{cookie}");
    cookie
}

async fn fixture() -> Fixture {
    let dir = temp_dir("router");
    let mut east = camera("cam-east", Some(SENTINEL));
    east.name = "East gate".to_owned();
    let config = Config::new(
        dir.0.join("pipeline.toml"),
        dir.0.join("data"),
        vec![],
        vec![east, camera("cam-west", None)],
    );
    let store = crate::cases::open(&config.store).await.unwrap();
    for (name, role, groups) in [
        ("admin", "admin", vec![]),
        ("op", "operator", vec![]),
        ("insp", "inspector", vec![]),
        ("view", "viewer", vec![]),
        ("eastview", "viewer", vec!["east".to_owned()]),
    ] {
        super::auth::add_user(
            store.console(),
            name,
            &format!("{name}-password"),
            role,
            groups,
        )
        .await
        .unwrap();
    }
    for i in 0..3 {
        store
            .insert_candidate(candidate(&format!("e{i}"), "cam-east"))
            .await
            .unwrap();
        store
            .insert_candidate(candidate(&format!("w{i}"), "cam-west"))
            .await
            .unwrap();
    }
    let state = AppState::load(
        Arc::new(config),
        Arc::clone(&store),
        None,
        ApiOptions::default(),
    )
    .await
    .unwrap();
    let app = router(state);
    // cam-east goes into group "east" through the console, as an admin would.
    let admin = login(&app, "admin").await;
    let (status, body, _) = call(
        &app,
        Method::PUT,
        "/api/v1/cameras/cam-east",
        Some(&admin),
        Some(json!({ "name": "East gate", "uri": "rtsp://127.0.0.1:9/cam-east", "username": "viewer", "group": "east" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Fixture {
        operator: login(&app, "op").await,
        inspector: login(&app, "insp").await,
        viewer: login(&app, "view").await,
        scoped: login(&app, "eastview").await,
        admin,
        app,
        store,
        _dir: dir,
    }
}

/// A concrete URI for a documented path.
fn concrete(path: &str) -> String {
    format!(
        "/api/v1{}",
        path.replace("{id}", "1")
            .replace("{name}", "op")
            .replace("{evidence}", "1")
    )
}

fn method(name: &str) -> Method {
    name.to_uppercase().parse().unwrap()
}

#[tokio::test]
async fn every_route_exists_and_checks_roles() {
    let f = fixture().await;
    let role_cookie = |role: &str| -> &str {
        match role {
            "admin" => &f.admin,
            "operator" => &f.operator,
            "inspector" => &f.inspector,
            _ => &f.viewer,
        }
    };
    for route in ROUTES {
        let uri = concrete(route.path);
        if route.roles.is_empty() {
            continue;
        }
        // Anonymous: 401, which also proves the route exists (unknown routes say 404).
        let (status, body, _) =
            call(&f.app, method(route.method), &uri, None, Some(json!({}))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} {uri}: {body}",
            route.method
        );
        // Every role not admitted: 403 naming the role.
        for role in ["admin", "operator", "inspector", "viewer"] {
            if route.roles.contains(&role) {
                continue;
            }
            let (status, body, _) = call(
                &f.app,
                method(route.method),
                &uri,
                Some(role_cookie(role)),
                Some(json!({})),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{role} {} {uri}: {body}",
                route.method
            );
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(&format!("role {role}")), "{message}");
        }
    }
    let (status, _, _) = call(&f.app, Method::GET, "/api/v1/nope", Some(&f.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn operators_decide_candidates_and_viewers_cannot() {
    let f = fixture().await;
    let (_, page, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/cases?state=candidate",
        Some(&f.viewer),
        None,
    )
    .await;
    let ids: Vec<i64> = page["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
    let id = ids[0];
    let uri = format!("/api/v1/cases/{id}/transition");

    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.viewer),
        Some(json!({ "to": "confirmed" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.inspector),
        Some(json!({ "to": "confirmed" })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "inspectors decide field checks only: {body}"
    );
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.operator),
        Some(json!({ "to": "rejected" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reason:"),
        "{body}"
    );
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.operator),
        Some(json!({ "to": "approved" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approved"),
        "{body}"
    );

    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.operator),
        Some(json!({ "to": "confirmed", "expected_from": "candidate" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "confirmed");
    // A second operator acting on the same view of it: conflict, not a silent double move.
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &uri,
        Some(&f.admin),
        Some(json!({ "to": "rejected", "reason": "x", "expected_from": "candidate" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Field check: the operator sends it, the inspector decides.
    let field = ids[1];
    let (status, _, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{field}/transition"),
        Some(&f.operator),
        Some(json!({ "to": "field_check" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{field}/transition"),
        Some(&f.inspector),
        Some(json!({ "to": "rejected", "reason": "permitted stall" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Reclassify takes the event code from the table; notes; the timeline records who.
    let other = ids[2];
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{other}/reclassify"),
        Some(&f.operator),
        Some(json!({ "category": "sidewalk_stacking" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["event_code"], "0507");
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{other}/reclassify"),
        Some(&f.operator),
        Some(json!({ "category": "dragons" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{other}/notes"),
        Some(&f.operator),
        Some(json!({ "text": "  " })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/cases/{other}/notes"),
        Some(&f.operator),
        Some(json!({ "text": "vendor left at 10:05" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, detail, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/cases/{other}"),
        Some(&f.viewer),
        None,
    )
    .await;
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "reclassified", "note"]);
    assert_eq!(detail["events"][1]["actor"], "op");

    // Batch: each case alone; the already-decided one fails with its reason.
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/cases/batch",
        Some(&f.operator),
        Some(json!({ "ids": [id, ids[3], ids[4]], "to": "confirmed" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let oks: Vec<bool> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(oks.iter().filter(|ok| **ok).count(), 2, "{body}");

    // Statistics see the decisions.
    let (status, stats, _) =
        call(&f.app, Method::GET, "/api/v1/stats", Some(&f.viewer), None).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total"], 6);
    let reviewed: i64 = stats["by_camera_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reviewed"].as_i64().unwrap())
        .sum();
    assert_eq!(reviewed, 4, "{stats}");
    assert!(stats["median_review_s"].is_number(), "{stats}");
}

#[tokio::test]
async fn bad_requests_name_every_problem() {
    let f = fixture().await;
    let (status, body, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/cases?state=bogus&limit=0&since=yesterday",
        Some(&f.viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let problems = body["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{body}");

    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/cameras",
        Some(&f.admin),
        Some(json!({
            "id": "bad id!",
            "uri": "rtmp://127.0.0.1/live",
            "detectors": { "nosuchmodel": 2.0 },
            "zones": [{ "id": "kerb", "kind": "no_vending", "polygon": [[0.1, 0.1], [0.2, 0.2]] }],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for field in [
        "camera.id",
        "camera.uri",
        "camera.detectors.nosuchmodel",
        "camera.zones[0]",
    ] {
        assert!(message.contains(field), "{field} not named in {message}");
    }

    // Tiles: only for text detectors, and only for detectors the camera runs.
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/cameras",
        Some(&f.admin),
        Some(json!({
            "id": "tiled",
            "uri": "rtsp://127.0.0.1:9/tiled",
            "detectors": { "static": 1.0 },
            "tiles": { "static": { "scale": 2.0 }, "ghost": { "region": "no_signage" } },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for field in ["camera.detectors.static.tiles", "camera.tiles.ghost"] {
        assert!(message.contains(field), "{field} not named in {message}");
    }

    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/users",
        Some(&f.admin),
        Some(json!({ "name": "x y", "password": "short", "role": "boss" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["problems"].as_array().unwrap().len(),
        3,
        "{body}"
    );

    let (status, body, _) = call(&f.app, Method::PUT, "/api/v1/grid", Some(&f.admin), Some(json!({ "type": "FeatureCollection", "features": [{ "type": "Feature", "properties": {}, "geometry": null }] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("features[0]"),
        "{body}"
    );

    let (status, body, _) = call(&f.app, Method::POST, "/api/v1/cameras/cam-west/calibration/check", Some(&f.admin), Some(json!({ "image_width": 1280, "image_height": 720, "points": [{ "pixel": [1, 1], "lat": 31.2, "lon": 121.4 }] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("calibration:"),
        "{body}"
    );

    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({ "username": "op", "password": "wrong" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn camera_passwords_never_leave() {
    let f = fixture().await;
    let (status, list, _) =
        call(&f.app, Method::GET, "/api/v1/cameras", Some(&f.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(SENTINEL), "{text}");
    let east = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "cam-east")
        .unwrap();
    assert_eq!(east["has_password"], true, "{east}");
    assert!(east.get("password").is_none());

    // Edited without a password: the old one is kept (saved in the store, never shown).
    let records = f.store.console().cameras().await.unwrap();
    let saved = records.iter().find(|r| r.id == "cam-east").unwrap();
    assert_eq!(saved.password.as_deref(), Some(SENTINEL));
    assert!(!saved.doc.contains(SENTINEL));
    assert!(!format!("{saved:?}").contains(SENTINEL));

    // A new password is taken and not echoed.
    let (status, body, _) = call(
        &f.app,
        Method::PUT,
        "/api/v1/cameras/cam-east",
        Some(&f.admin),
        Some(
            json!({ "uri": "rtsp://127.0.0.1:9/x", "username": "u", "password": "New-Secret-123" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.to_string().contains("New-Secret-123"));
    for uri in [
        "/api/v1/cameras/cam-east",
        "/api/v1/cameras",
        "/api/v1/openapi.json",
    ] {
        let (_, body, _) = call(&f.app, Method::GET, uri, Some(&f.admin), None).await;
        assert!(!body.to_string().contains("New-Secret-123"), "{uri}");
    }
    // A client that sends only some fields loses none of the others.
    let zones = json!([{ "id": "kerb", "kind": "no_vending", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]] }]);
    let (status, body, _) = call(
        &f.app,
        Method::PUT,
        "/api/v1/cameras/cam-east/zones",
        Some(&f.admin),
        Some(zones),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = call(
        &f.app,
        Method::PUT,
        "/api/v1/cameras/cam-east",
        Some(&f.admin),
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["zones"][0]["id"], "kerb", "{body}");
    assert_eq!(body["status"], "disabled", "{body}");
    assert_eq!(body["has_password"], true, "{body}");
    // A URI with credentials in it is refused (they belong in username/password).
    let (status, body, _) = call(
        &f.app,
        Method::PUT,
        "/api/v1/cameras/cam-east",
        Some(&f.admin),
        Some(json!({ "uri": "rtsp://u:pw@127.0.0.1:9/x" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains(":pw@"), "{body}");
}

#[tokio::test]
async fn scoped_users_see_only_their_cameras() {
    let f = fixture().await;
    let (_, page, _) = call(&f.app, Method::GET, "/api/v1/cases", Some(&f.scoped), None).await;
    let cameras: Vec<&str> = page["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["camera"].as_str().unwrap())
        .collect();
    assert_eq!(cameras, ["cam-east"; 3]);
    assert_eq!(page["cases"][0]["camera_name"], "East gate");
    let (_, all, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/cases?camera=cam-west",
        Some(&f.viewer),
        None,
    )
    .await;
    let west = all["cases"][0]["id"].as_i64().unwrap();
    let (status, _, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/cases/{west}"),
        Some(&f.scoped),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, cameras, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/cameras",
        Some(&f.scoped),
        None,
    )
    .await;
    assert_eq!(cameras.as_array().unwrap().len(), 1);
    let (status, _, _) = call(&f.app, Method::GET, "/api/v1/stats", Some(&f.scoped), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tokens_and_logout() {
    let f = fixture().await;
    let (status, body, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/users/op/tokens",
        Some(&f.admin),
        Some(json!({ "label": "case system" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let request = Request::get("/api/v1/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = f.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, _, _) = call(
        &f.app,
        Method::DELETE,
        "/api/v1/session",
        Some(&f.viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&f.app, Method::GET, "/api/v1/me", Some(&f.viewer), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logged-out session is dead"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let f = fixture().await;
    let (status, doc, _) = call(&f.app, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, ROUTES.len());
    let (status, _, _) = call(&f.app, Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_needs_no_login_and_tells_store_spool_and_cameras() {
    let f = fixture().await;
    let health = || call(&f.app, Method::GET, "/api/v1/health", None, None);
    let (status, body, _) = health().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No pipeline here: the cameras' state is unknown.
    assert_eq!(
        body,
        json!({ "status": "ok", "store": true, "spooled": 0, "cameras": { "unknown": 2 } })
    );

    // A candidate waiting for the store: degraded, still 200.
    let spool = crate::cases::Spool::new(&f._dir.0.join("data"));
    spool
        .put(&candidate("spooled-1", "cam-east"), None)
        .unwrap();
    let (status, body, _) = health().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["status"], &body["spooled"]),
        (&json!("degraded"), &json!(1))
    );

    // The store gone: 503, and no error text for an anonymous caller.
    f.store.close().await.unwrap();
    let (status, body, _) = health().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        (&body["status"], &body["store"]),
        (&json!("down"), &json!(false))
    );
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
}
