//! The GraphiQL playground: served by the server itself under a strict CSP, and used in
//! Debian's headless Chromium with no network (`tests/browser/check.mjs`).

use std::{path::PathBuf, time::Duration};

use reqwest::header;

use crate::{
    common::TestApp,
    node::{ensure_installed, report, run},
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

async fn get_html(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn chromium_without_network_runs_queries_and_a_subscription_in_the_playground() {
    // The page's own assets are embedded in the server (playground/vendor); only the
    // browser driver needs npm.
    ensure_installed(&root().join("tests/browser")).await;
    assert!(
        std::path::Path::new(&chromium()).exists(),
        "this test needs Chromium at {} (Debian: apt-get install chromium; `bash .ci/run` installs it)",
        chromium()
    );
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let shot = std::env::temp_dir().join(format!("gigmarket-playground-{}.png", uuid::Uuid::new_v4()));
    let output = run(
        &root().join("tests/browser"),
        "node",
        &["check.mjs"],
        &[
            ("GM_URL", &app.base),
            ("GM_TOKEN", &user.token),
            ("GM_USERNAME", &user.username),
            ("GM_SCREENSHOT", &shot.to_string_lossy()),
            ("CHROMIUM", &chromium()),
        ],
        Duration::from_secs(90),
    )
    .await;
    assert!(output.status.success(), "check.mjs failed: {}", report(&output));
    // The screenshot: a PNG of the viewport, and not a blank page (which compresses to a few
    // KiB; the editor, the answer and the chrome of GraphiQL take tens).
    let png = std::fs::read(&shot).expect("screenshot written");
    let _ = std::fs::remove_file(&shot);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (1280, 800));
    assert!(png.len() > 20_000, "a {} byte screenshot looks blank", png.len());
}

#[tokio::test]
async fn the_page_and_its_assets_come_from_the_server_under_a_strict_policy() {
    let app = TestApp::spawn().await;
    let page = get_html(&app, "/graphql").await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://") && !html.contains("<script>"), "{html}");
    for (file, kind) in [
        ("graphiql.js", "text/javascript"),
        ("graphiql.css", "text/css"),
        ("react.js", "text/javascript"),
        ("react-dom.js", "text/javascript"),
        ("graphql-ws.js", "text/javascript"),
        ("boot.js", "text/javascript"),
        ("page.css", "text/css"),
    ] {
        assert!(
            html.contains(&format!("/graphql/playground/{file}")),
            "{file} is linked"
        );
        let asset = app
            .client
            .get(app.url(&format!("/graphql/playground/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{file}");
        assert!(asset.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(!asset.bytes().await.unwrap().is_empty());
    }
    for missing in ["nope.js", "..%2F..%2FCargo.toml", "graphiql.js.map"] {
        let asset = app
            .client
            .get(app.url(&format!("/graphql/playground/{missing}")))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 404, "{missing}");
    }
}

/// The builds are embedded: what the server sends is the vendored file, byte for byte, with no
/// `node_modules` anywhere; production serves no playground.
#[tokio::test]
async fn the_embedded_builds_are_served_as_vendored_and_production_has_none() {
    let app = TestApp::spawn().await;
    for (file, vendored) in [
        ("graphiql.js", "graphiql.min.js"),
        ("graphiql.css", "graphiql.min.css"),
        ("react.js", "react.production.min.js"),
        ("react-dom.js", "react-dom.production.min.js"),
        ("graphql-ws.js", "graphql-ws.min.js"),
    ] {
        let served = app
            .client
            .get(app.url(&format!("/graphql/playground/{file}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let on_disk = std::fs::read(root().join("playground/vendor").join(vendored)).unwrap();
        assert!(served[..] == on_disk[..], "{file} is {vendored} unmodified");
    }
    let page = get_html(&app, "/graphql").await;
    assert!(!page.text().await.unwrap().contains("npm ci"));

    let production = TestApp::builder().production().spawn().await;
    let page = get_html(&production, "/graphql").await;
    assert_ne!(page.status(), 200, "no playground in production");
    let asset = production
        .client
        .get(production.url("/graphql/playground/boot.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 404);
}
