//! The web console: static pages and scripts (`assets/`, plain HTML, CSS and ES modules, no
//! build step) compiled into the binary and served at `/` and `/ui/…`. The pages talk to the
//! HTTP API only; this module has no database access.
//!
//! All text the console shows comes from `assets/i18n/zh-CN.json` (the default) and
//! `assets/i18n/en.json`; a test checks both have the same keys.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Every asset: path under `/ui/`, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "queue.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/queue.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/map.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin.js"),
    ),
    (
        "stats.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/stats.js"),
    ),
    (
        "i18n/zh-CN.json",
        "application/json; charset=utf-8",
        include_str!("assets/i18n/zh-CN.json"),
    ),
    (
        "i18n/en.json",
        "application/json; charset=utf-8",
        include_str!("assets/i18n/en.json"),
    ),
];

fn asset(path: &str) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `/` and `/ui/{*path}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>| async move { asset(&path) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(json: &str) -> std::collections::BTreeSet<String> {
        let value: serde_json::Value = serde_json::from_str(json).expect("message file is JSON");
        value
            .as_object()
            .expect("message file is an object")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn message_files_have_the_same_keys() {
        let zh = keys(include_str!("assets/i18n/zh-CN.json"));
        let en = keys(include_str!("assets/i18n/en.json"));
        assert!(zh.len() > 100, "{} keys", zh.len());
        let missing_en: Vec<_> = zh.difference(&en).collect();
        let missing_zh: Vec<_> = en.difference(&zh).collect();
        assert!(
            missing_en.is_empty() && missing_zh.is_empty(),
            "en lacks {missing_en:?}; zh-CN lacks {missing_zh:?}"
        );
    }

    #[test]
    fn every_asset_the_page_loads_is_served() {
        let html = include_str!("assets/index.html");
        for (name, _, _) in ASSETS {
            assert_eq!(asset(name).status(), StatusCode::OK, "{name}");
        }
        for reference in html.split("/ui/").skip(1) {
            let name: String = reference
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | '?' | ')'))
                .collect();
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == name),
                "index.html loads /ui/{name}, which is not served"
            );
        }
    }
}
