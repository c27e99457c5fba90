//! The GraphiQL playground, served entirely by this server so it works offline and under a
//! strict Content-Security-Policy (no CDN, no inline script).
//!
//! The browser builds are the ones published on npm, fetched by the documented build step
//! `npm ci --prefix playground` (versions pinned by `playground/package-lock.json`) and read
//! from `PLAYGROUND_DIR` (default: the repository's `playground/node_modules`). Nothing of
//! them is copied into the source tree; our own bootstrap script is `playground.js` beside
//! this file. Without the assets the page says how to install them. Off in production unless
//! `GRAPHIQL=true`.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use axum::{
    extract::{self, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use crate::state::AppState;

/// Our bootstrap: GraphiQL wired to `/graphql` and `/graphql/ws`.
const BOOT_JS: &str = include_str!("playground.js");

/// Served name → (path under `PLAYGROUND_DIR`, content type).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "react.js",
        "react/umd/react.production.min.js",
        "text/javascript; charset=utf-8",
    ),
    (
        "react-dom.js",
        "react-dom/umd/react-dom.production.min.js",
        "text/javascript; charset=utf-8",
    ),
    (
        "graphiql.js",
        "graphiql/graphiql.min.js",
        "text/javascript; charset=utf-8",
    ),
    ("graphiql.css", "graphiql/graphiql.min.css", "text/css; charset=utf-8"),
    (
        "graphql-ws.js",
        "graphql-ws/umd/graphql-ws.min.js",
        "text/javascript; charset=utf-8",
    ),
];

/// Scripts and styles from this origin only; the WebSocket and fetches to this host. GraphiQL
/// sets element styles from script, and its editor injects `<style>` elements: styles may be
/// inline, scripts may not.
fn csp(host: Option<&str>) -> String {
    let sockets = host.map_or_else(String::new, |h| format!(" ws://{h} wss://{h}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

fn installed(dir: &Path) -> bool {
    ASSETS.iter().all(|(_, path, _)| dir.join(path).is_file())
}

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>gigmarket GraphiQL</title>
<link rel="stylesheet" href="/graphql/playground/graphiql.css">
<link rel="stylesheet" href="/graphql/playground/page.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphql/playground/react.js"></script>
<script src="/graphql/playground/react-dom.js"></script>
<script src="/graphql/playground/graphql-ws.js"></script>
<script src="/graphql/playground/graphiql.js"></script>
<script src="/graphql/playground/boot.js"></script>
</body>
</html>
"#;

const PAGE_CSS: &str = "html, body { height: 100%; margin: 0; } #graphiql { height: 100vh; }\n";

const MISSING: &str = r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>gigmarket GraphiQL: assets not installed</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.5">
<h1>The playground's assets are not installed</h1>
<p>GraphiQL is served by this server itself (no CDN), from the browser builds published on
npm. Install them once, from the repository root, then reload this page:</p>
<pre>npm ci --prefix playground</pre>
<p>(Or point <code>PLAYGROUND_DIR</code> at a folder holding them.) The API works meanwhile:
<code>POST /graphql</code>.</p>
</body>
</html>
"#;

fn with_csp(mut response: Response, host: Option<&str>) -> Response {
    if let Ok(value) = HeaderValue::from_str(&csp(host)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The playground page for a browser's `GET /graphql`.
pub fn page(app: &AppState, host: Option<&str>) -> Response {
    let body = if installed(&app.config.playground_dir) {
        PAGE
    } else {
        MISSING
    };
    with_csp(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        host,
    )
}

/// Files read once and kept by path (a few hundred KiB in all); a missing file is looked for
/// again.
fn cache() -> &'static Mutex<HashMap<PathBuf, Bytes>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Bytes>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// `GET /graphql/playground/{file}`: the bootstrap, the page's CSS and the npm builds.
pub async fn asset(State(app): State<AppState>, extract::Path(file): extract::Path<String>) -> Response {
    if !app.config.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (bytes, content_type) = match file.as_str() {
        "boot.js" => (Bytes::from_static(BOOT_JS.as_bytes()), "text/javascript; charset=utf-8"),
        "page.css" => (Bytes::from_static(PAGE_CSS.as_bytes()), "text/css; charset=utf-8"),
        _ => {
            let Some(&(_, path, content_type)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let path = app.config.playground_dir.join(path);
            let cached = cache()
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&path)
                .cloned();
            let bytes = match cached {
                Some(bytes) => bytes,
                None => match tokio::fs::read(&path).await {
                    Ok(read) => {
                        let bytes = Bytes::from(read);
                        cache()
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .insert(path, bytes.clone());
                        bytes
                    }
                    Err(_) => return StatusCode::NOT_FOUND.into_response(),
                },
            };
            (bytes, content_type)
        }
    };
    with_csp(
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_or_foreign_script() {
        let policy = csp(Some("127.0.0.1:8080"));
        assert!(policy.contains("script-src 'self';"));
        assert!(policy.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"));
        assert!(!policy.contains("http"));
        assert!(!PAGE.contains("<script>"), "no inline script in the page");
        assert!(
            !PAGE.contains("//cdn") && !PAGE.contains("https://"),
            "nothing from elsewhere"
        );
    }
}
