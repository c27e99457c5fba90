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
    ensure_installed(&root().join("playground")).await;
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
    ensure_installed(&root().join("playground")).await;
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

#[tokio::test]
async fn without_its_assets_the_page_says_how_to_install_them_and_production_has_none() {
    let empty = std::env::temp_dir().join(format!("gm-no-playground-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&empty).unwrap();
    let app = TestApp::builder()
        .var("PLAYGROUND_DIR", &empty.to_string_lossy())
        .spawn()
        .await;
    let page = get_html(&app, "/graphql").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("npm ci --prefix playground"));
    let _ = std::fs::remove_dir(&empty);

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
