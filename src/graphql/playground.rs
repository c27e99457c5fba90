//! The GraphiQL playground, served entirely by this server so it works offline and under a
//! strict Content-Security-Policy (no CDN, no inline script).
//!
//! The browser builds are the ones published on npm (versions pinned by
//! `playground/package.json` and its lock), copied unmodified into `playground/vendor/` by
//! `playground/update-vendor.sh` with their licences and a manifest of versions and SHA-256
//! digests, and embedded in the binary at build time: `cargo run` serves a working GraphiQL
//! with no npm step and no network. Our own bootstrap script is `playground.js` beside this
//! file. Off in production unless `GRAPHIQL=true`.

use axum::{
    extract::{self, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use crate::state::AppState;

/// Our bootstrap: GraphiQL wired to `/graphql` and `/graphql/ws`.
const BOOT_JS: &str = include_str!("playground.js");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Served name → (embedded bytes, content type, name in `playground/vendor/`).
const ASSETS: &[(&str, &[u8], &str, &str)] = &[
    (
        "react.js",
        include_bytes!("../../playground/vendor/react.production.min.js"),
        JS,
        "react.production.min.js",
    ),
    (
        "react-dom.js",
        include_bytes!("../../playground/vendor/react-dom.production.min.js"),
        JS,
        "react-dom.production.min.js",
    ),
    (
        "graphiql.js",
        include_bytes!("../../playground/vendor/graphiql.min.js"),
        JS,
        "graphiql.min.js",
    ),
    (
        "graphiql.css",
        include_bytes!("../../playground/vendor/graphiql.min.css"),
        CSS,
        "graphiql.min.css",
    ),
    (
        "graphql-ws.js",
        include_bytes!("../../playground/vendor/graphql-ws.min.js"),
        JS,
        "graphql-ws.min.js",
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
pub fn page(host: Option<&str>) -> Response {
    with_csp(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            PAGE,
        )
            .into_response(),
        host,
    )
}

/// `GET /graphql/playground/{file}`: the bootstrap, the page's CSS and the npm builds.
pub async fn asset(State(app): State<AppState>, extract::Path(file): extract::Path<String>) -> Response {
    if !app.config.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (bytes, content_type): (&'static [u8], &str) = match file.as_str() {
        "boot.js" => (BOOT_JS.as_bytes(), JS),
        "page.css" => (PAGE_CSS.as_bytes(), CSS),
        _ => match ASSETS.iter().find(|(name, ..)| *name == file) {
            Some(&(_, bytes, content_type, _)) => (bytes, content_type),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
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
    use sha2::{Digest, Sha256};

    use super::*;

    /// What `playground/update-vendor.sh` wrote: every embedded build is listed, with the
    /// digest of the bytes embedded.
    #[test]
    fn the_embedded_builds_match_the_vendor_manifest() {
        let manifest = include_str!("../../playground/vendor/MANIFEST");
        let entries: Vec<Vec<&str>> = manifest
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(entries.len(), ASSETS.len());
        for (served, bytes, _, vendored) in ASSETS {
            let entry = entries
                .iter()
                .find(|e| e.get(2) == Some(vendored))
                .unwrap_or_else(|| panic!("{vendored} ({served}) is not in the manifest"));
            let digest: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(entry.get(3), Some(&digest.as_str()), "{vendored}");
        }
    }

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
