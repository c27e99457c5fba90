//! `TestApp`: the real server on a random port over its own database, cloned from a template
//! that is migrated once per migration set. Dropping a `TestApp` drops its database.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use diesel::{sql_types, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use gigmarket::{config::Config, state::AppState};
use reqwest::{header::HeaderMap, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const PASSWORD: &str = "correct horse battery";

/// The server's maintenance database, for creating and dropping test databases.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn url_for(db: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A digest of every migration file: a changed migration makes a new template.
fn migrations_digest() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("migrations folder")
        .flat_map(|dir| {
            let dir = dir.expect("migration entry").path();
            std::fs::read_dir(dir)
                .expect("migration folder")
                .map(|f| f.expect("migration file").path())
        })
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).expect("readable migration"));
    }
    hasher.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = sql_types::Text)]
    value: String,
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("connect to PostgreSQL")
}

async fn run(conn: &mut AsyncPgConnection, sql: &str) {
    conn.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// How long a template of another migration set is kept: other checkouts (branches being
/// worked on beside this one) test against the same server with their own templates.
const STALE_TEMPLATE_SECS: i64 = 24 * 3600;

/// Builds the template `name` unless it exists (across processes, under an advisory lock),
/// stamping its build time in the database comment. Templates of other migration sets are
/// dropped once they are older than `STALE_TEMPLATE_SECS` (unstamped ones are left alone).
async fn ensure_template(name: &str) {
    let mut admin = admin().await;
    run(&mut admin, "SELECT pg_advisory_lock(7264002)").await;
    let exists = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<sql_types::Text, _>(name)
        .get_result::<Count>(&mut admin)
        .await
        .expect("query pg_database")
        .n
        > 0;
    if !exists {
        let building = format!("{name}_building");
        // Separate calls: several statements in one string run as one transaction.
        run(&mut admin, &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await;
        run(&mut admin, &format!("CREATE DATABASE {building}")).await;
        gigmarket::db::run_migrations(&url_for(&building))
            .await
            .expect("migrate template");
        run(&mut admin, &format!("ALTER DATABASE {building} RENAME TO {name}")).await;
        let built = chrono::Utc::now().timestamp();
        run(&mut admin, &format!("COMMENT ON DATABASE {name} IS 'built {built}'")).await;
    }
    let stale = diesel::sql_query(
        "SELECT datname AS value FROM pg_database d WHERE datname LIKE 'gm\\_template\\_%' AND datname <> $1 \
         AND substring(shobj_description(d.oid, 'pg_database') FROM '^built ([0-9]+)$')::bigint < $2",
    )
    .bind::<sql_types::Text, _>(name)
    .bind::<sql_types::BigInt, _>(chrono::Utc::now().timestamp() - STALE_TEMPLATE_SECS)
    .load::<Name>(&mut admin)
    .await
    .unwrap_or_default();
    for old in stale {
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", old.value))
            .await;
    }
    run(&mut admin, "SELECT pg_advisory_unlock(7264002)").await;
}

/// The name of the migrated template database, built once per process.
async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("gm_template_{}", migrations_digest());
            ensure_template(&name).await;
            name
        })
        .await
        .clone()
}

/// Where a [`gigmarket::progress::Progress`] in line mode writes in tests: a buffer that stays
/// readable after the progress took its writer.
#[derive(Clone, Default)]
pub struct CapturedOutput(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedOutput {
    /// A line progress writing here.
    pub fn progress(&self, prefix: &str, unit: gigmarket::progress::Unit) -> gigmarket::progress::Progress {
        gigmarket::progress::Progress::lines(prefix, unit, Box::new(self.clone()))
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("output lock").clone()).expect("UTF-8 progress")
    }
}

impl std::io::Write for CapturedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("output lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A test database, dropped when this value is, even when the test fails before its server
/// ever started.
pub struct TestDatabase(pub String);

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.0.clone();
        // Drop runs outside async context rules: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Creates a database from the template; retried because PostgreSQL refuses to copy a
/// template while another backend is briefly connected to it, and rebuilding the template
/// when a test run of another checkout (with older rules) dropped it.
async fn create_test_database() -> TestDatabase {
    let template = template().await;
    let name = format!("gm_test_{}", Uuid::new_v4().simple());
    let mut admin = admin().await;
    for attempt in 0.. {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(()) => break,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) if attempt < 50 && e.to_string().contains("does not exist") => ensure_template(&template).await,
            Err(e) => panic!("creating test database: {e}"),
        }
    }
    TestDatabase(name)
}

/// The Redis of the tests (`REDIS_URL_TEST`), for apps with several instances.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL_TEST").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Builds a `TestApp` with extra environment variables.
#[derive(Default)]
pub struct TestAppBuilder {
    vars: HashMap<String, String>,
}

impl TestAppBuilder {
    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// Production rules: no introspection, no GraphiQL, no suggestions, Secure cookies.
    pub fn production(self) -> Self {
        self.var("APP_ENV", "production")
    }

    pub async fn spawn(self) -> TestApp {
        // Server logs go to the test's captured output (shown on failure); RUST_LOG filters.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,gigmarket=info")),
            )
            .try_init();
        let database = create_test_database().await;
        let db_name = database.0.clone();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let upload_dir = std::env::temp_dir().join(format!("gm-uploads-{db_name}"));
        let private_dir = std::env::temp_dir().join(format!("gm-private-{db_name}"));
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), url_for(&db_name)),
            ("DATABASE_POOL_SIZE".into(), "4".into()),
            ("JWT_SECRET".into(), JWT_SECRET.into()),
            ("PUBLIC_URL".into(), format!("http://{addr}")),
            ("UPLOAD_DIR".into(), upload_dir.display().to_string()),
            ("PRIVATE_UPLOAD_DIR".into(), private_dir.display().to_string()),
            ("CORS_ORIGINS".into(), "http://app.example.com".into()),
        ]);
        vars.extend(self.vars);
        let (state, server) = serve(listener, &vars).await;
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            state,
            upload_dir,
            private_dir,
            server,
            vars,
            _database: database,
        }
    }
}

/// Builds the app from `vars` and serves it on `listener`.
async fn serve(
    listener: tokio::net::TcpListener,
    vars: &HashMap<String, String>,
) -> (AppState, tokio::task::JoinHandle<()>) {
    let config = Config::from_vars(vars).expect("test config");
    let state = gigmarket::prepare(config).await.expect("prepare app");
    let router = gigmarket::build_router(state.clone());
    let timeouts = state.config.http.clone();
    let server = tokio::spawn(async move {
        gigmarket::http::server::serve(listener, router, &timeouts, std::future::pending())
            .await
            .expect("server");
    });
    (state, server)
}

/// Another instance of the same app: same database and Redis, its own port and process state.
pub struct Sibling {
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The server under test.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    upload_dir: PathBuf,
    pub private_dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
    vars: HashMap<String, String>,
    /// Declared last: dropped after the server is stopped.
    _database: TestDatabase,
}

/// A user made through `signUp`.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub username: String,
    pub token: String,
    pub refresh_token: String,
}

/// An HTTP answer to a GraphQL request.
#[derive(Debug)]
pub struct Gql {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Gql {
    /// `data`, asserting there were no errors.
    pub fn data(&self) -> &Value {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {:#}", self.body);
        &self.body["data"]
    }

    pub fn errors(&self) -> &Vec<Value> {
        self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {:#}", self.body))
    }

    /// The code of the first error.
    pub fn code(&self) -> &str {
        self.errors()[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {:#}", self.body))
    }

    /// The first error's `extensions.fields`, as field names.
    pub fn fields(&self) -> Vec<String> {
        self.errors()[0]["extensions"]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("no fields in {:#}", self.body))
            .keys()
            .cloned()
            .collect()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii cookie").to_owned())
            .collect()
    }
}

static USER_SEQ: AtomicU64 = AtomicU64::new(0);

impl TestApp {
    pub async fn spawn() -> Self {
        TestAppBuilder::default().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// Starts a second instance over the same database (and Redis, when configured).
    pub async fn sibling(&self) -> Sibling {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let mut vars = self.vars.clone();
        vars.insert("PUBLIC_URL".into(), format!("http://{addr}"));
        let (_state, server) = serve(listener, &vars).await;
        Sibling {
            base: format!("http://{addr}"),
            server,
        }
    }

    /// The WebSocket URL of this instance.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql/ws", self.base.replacen("http", "ws", 1))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` and reads a JSON answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Gql {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Gql { status, headers, body }
    }

    /// POSTs a GraphQL request, with a bearer token when given.
    pub async fn gql_with(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.gql_with(None, query, variables).await
    }

    pub async fn gql_as(&self, user: &TestUser, query: &str, variables: Value) -> Gql {
        self.gql_with(Some(&user.token), query, variables).await
    }

    /// Signs up a fresh user with password `PASSWORD`.
    pub async fn with_user(&self) -> TestUser {
        let n = USER_SEQ.fetch_add(1, Ordering::Relaxed);
        let username = format!("user_{n}_{}", &Uuid::new_v4().simple().to_string()[..6]);
        let email = format!("{username}@example.com");
        let response = self
            .gql(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id } } }",
                json!({ "i": { "email": email, "password": PASSWORD, "username": username, "fullName": "Test User" } }),
            )
            .await;
        let payload = &response.data()["signUp"];
        TestUser {
            id: payload["user"]["id"].as_str().expect("id").to_owned(),
            email,
            username,
            token: payload["accessToken"].as_str().expect("token").to_owned(),
            refresh_token: payload["refreshToken"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A signed-up user made an admin.
    pub async fn with_admin(&self) -> TestUser {
        let user = self.with_user().await;
        self.sql(&format!("UPDATE users SET is_admin = true WHERE id = '{}'", user.id))
            .await;
        user
    }

    /// The actions of the audit log about `target_type` (and `target_id`), newest first, as
    /// `admin` reads them through `auditLog`.
    pub async fn audit_actions(&self, admin: &TestUser, target_type: &str, target_id: Option<&str>) -> Vec<String> {
        let log = self
            .gql_as(
                admin,
                "query($k: String, $t: ID) { auditLog(filter: { targetType: $k, targetId: $t }) { edges { node { action } } } }",
                json!({ "k": target_type, "t": target_id }),
            )
            .await;
        log.data()["auditLog"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["action"].as_str().expect("action").to_owned())
            .collect()
    }

    /// Runs SQL directly against the test database (set-up and inspection only).
    pub async fn sql(&self, sql: &str) {
        let mut conn = self.state.db.conn().await.expect("connection");
        conn.batch_execute(sql).await.expect("sql");
    }

    /// Statements the server's pool has run so far.
    pub fn statements(&self) -> u64 {
        self.state.db.statements_executed()
    }

    /// Rows of a one-text-column query.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Text {
            #[diesel(sql_type = sql_types::Text)]
            value: String,
        }
        let mut conn = self.state.db.conn().await.expect("connection");
        diesel::sql_query(sql)
            .load::<Text>(&mut conn)
            .await
            .expect("query")
            .into_iter()
            .map(|t| t.value)
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The server goes first; the database field drops after this body runs.
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.upload_dir);
        let _ = std::fs::remove_dir_all(&self.private_dir);
    }
}
