//! Typed configuration read from the environment (and `.env` when present), validated once
//! at start-up. Every variable has a working local default except secrets in production.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use rand::RngCore;

/// Which rules apply: development is forgiving and loud, production is strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Limits a client can otherwise push on.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted GraphQL request body (JSON or GET query), in bytes.
    pub body_max_bytes: usize,
    /// Largest accepted uploaded file, in bytes.
    pub upload_max_bytes: usize,
    /// Most files in one multipart request.
    pub upload_max_files: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_recursive_depth: usize,
    pub max_directives: usize,
    /// Largest `first` a connection accepts.
    pub max_page_size: usize,
}

/// WebSocket limits.
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Largest message (and frame) accepted from a client.
    pub max_message_bytes: usize,
    /// Live connections one instance accepts in all; more are refused with 503.
    pub max_connections: usize,
    /// Live connections one user may hold on one instance.
    pub max_connections_per_user: usize,
    pub max_subscriptions_per_connection: usize,
    /// Time a client has to send `connection_init`.
    pub init_timeout: Duration,
    /// Interval of keep-alive pings; a peer silent for two of them is dropped.
    pub keepalive: Duration,
}

/// How long a client may take to send a request: a connection that has not sent a request's
/// headers within `header_read` is closed; a request whose body has not fully arrived within
/// `body_read` of its headers is answered 408.
#[derive(Debug, Clone)]
pub struct HttpTimeouts {
    pub header_read: Duration,
    pub body_read: Duration,
}

/// Sign-in throttling: failures allowed inside a sliding window.
#[derive(Debug, Clone)]
pub struct Throttle {
    pub window: Duration,
    pub max_failures_per_account: i64,
    pub max_failures_per_address: i64,
}

/// The payment provider (Stripe) and the scheduler's secret. Without a secret key every
/// Stripe operation answers `PROVIDER_NOT_CONFIGURED`; manual payment works either way.
#[derive(Clone, Default)]
pub struct Payments {
    /// `STRIPE_SECRET_KEY` (`sk_…` or a restricted `rk_…`).
    pub stripe_secret_key: Option<String>,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secrets (`whsec_…`), comma-separated so
    /// that an old and a new one both verify while a secret is rolled.
    pub stripe_webhook_secrets: Vec<String>,
    /// `STRIPE_API_BASE`: where the Stripe API is (a local mock in tests), always ending in
    /// `/` (the client appends `v1/…` to it as it is). `None`: Stripe itself.
    pub stripe_api_base: Option<String>,
    /// `STRIPE_PRO_PRICE_ID`: the Price of the Pro plan's subscription.
    pub stripe_pro_price_id: Option<String>,
    /// `CRON_SECRET`: the bearer of `POST /internal/cron/cleanup`. Optional: the in-process
    /// scheduler runs every job anyway; without it the route refuses every call (401). In
    /// production it must be long and random when set.
    pub cron_secret: Option<String>,
    /// `ESCROW_DISPUTE_WINDOW_HOURS`: how long after approval a party may still dispute
    /// before escrow is released automatically.
    pub escrow_dispute_window: Duration,
    /// `TIMESHEET_REVIEW_WINDOW_HOURS` (72 unless set): how long the client of an hourly order
    /// has to approve or dispute a submitted week before it is approved on its own.
    pub timesheet_review_window: Duration,
}

impl std::fmt::Debug for Payments {
    // Whether each secret is set, never its value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("stripe_secret_key", &self.stripe_secret_key.is_some())
            .field("stripe_webhook_secrets", &self.stripe_webhook_secrets.len())
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_pro_price_id", &self.stripe_pro_price_id)
            .field("cron_secret", &self.cron_secret.is_some())
            .field("escrow_dispute_window", &self.escrow_dispute_window)
            .field("timesheet_review_window", &self.timesheet_review_window)
            .finish()
    }
}

impl Payments {
    fn from_vars(vars: &dyn Vars, production: bool) -> anyhow::Result<Self> {
        let stripe_secret_key = vars.get("STRIPE_SECRET_KEY").map(|k| k.trim().to_owned());
        let stripe_webhook_secrets: Vec<String> = vars
            .get("STRIPE_WEBHOOK_SECRET")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if production && stripe_secret_key.is_some() && stripe_webhook_secrets.is_empty() {
            bail!(
                "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: in production every Stripe \
                 webhook would be refused, so payments would never be confirmed (set the endpoint's whsec_… secret)"
            );
        }
        let stripe_api_base = match vars.get("STRIPE_API_BASE") {
            None => None,
            Some(raw) => {
                let url =
                    url::Url::parse(raw.trim()).with_context(|| format!("STRIPE_API_BASE={raw:?} is not a URL"))?;
                if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
                    bail!("STRIPE_API_BASE={raw:?} must be an http(s) URL without a query");
                }
                let mut base = url.to_string();
                if !base.ends_with('/') {
                    base.push('/');
                }
                Some(base)
            }
        };
        let cron_secret = vars.get("CRON_SECRET").map(|s| s.trim().to_owned());
        if let (true, Some(secret)) = (production, &cron_secret) {
            check_production_secret("CRON_SECRET", secret.as_bytes())?;
        }
        let hours: u64 = parse_or(vars, "ESCROW_DISPUTE_WINDOW_HOURS", 24)?;
        if hours > 24 * 90 {
            bail!("ESCROW_DISPUTE_WINDOW_HOURS={hours} is more than 90 days");
        }
        let review_hours: u64 = parse_or(vars, "TIMESHEET_REVIEW_WINDOW_HOURS", 72)?;
        if !(1..=24 * 30).contains(&review_hours) {
            bail!("TIMESHEET_REVIEW_WINDOW_HOURS={review_hours} must be 1 to 720 (30 days)");
        }
        Ok(Self {
            stripe_secret_key,
            stripe_webhook_secrets,
            stripe_api_base,
            stripe_pro_price_id: vars.get("STRIPE_PRO_PRICE_ID").map(|p| p.trim().to_owned()),
            cron_secret,
            escrow_dispute_window: Duration::from_secs(hours * 3600),
            timesheet_review_window: Duration::from_secs(review_hours * 3600),
        })
    }
}

#[derive(Clone)]
pub struct Config {
    pub env: AppEnv,
    pub bind_addr: SocketAddr,
    pub database_url: String,
    pub database_pool_size: usize,
    pub redis_url: Option<String>,
    /// The longest a request waits on Redis (`REDIS_TIMEOUT_MS`); past it, what Redis was for
    /// falls back (see `events::redis`).
    pub redis_timeout: Duration,
    pub jwt_secret: Vec<u8>,
    pub cors_origins: Vec<String>,
    pub public_url: String,
    pub upload_dir: PathBuf,
    /// Where private files (verification documents) are kept: never served as they are,
    /// only through short-lived signed links.
    pub private_upload_dir: PathBuf,
    /// The fee policy: off (default), every freelancer pays their `commission_bps` (800 unless
    /// changed); on, verified freelancers pay 1000 bps and everyone else 5000 bps.
    pub verification_commission: bool,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub introspection: bool,
    pub graphiql: bool,
    pub trust_proxy_headers: bool,
    pub limits: Limits,
    pub throttle: Throttle,
    pub ws: WsLimits,
    /// Header and body read timeouts of HTTP requests.
    pub http: HttpTimeouts,
    /// How long published events are kept for subscribers resuming from a cursor.
    pub events_retention: Duration,
    /// Stripe, its webhook secrets, the escrow dispute window and the cron secret.
    pub payments: Payments,
    /// How long after an order completes its parties may review each other
    /// (`REVIEW_WINDOW_DAYS`, 14 unless set); a hidden review becomes public when it ends.
    pub review_window: Duration,
    /// Where call rooms live (`VIDEO_ROOM_BASE_URL`, `https://meet.jit.si` unless set): a
    /// call's room URL is this base, a slash, and the call's random room id.
    pub video_room_base_url: String,
    /// `GITHUB_WEBHOOK_SECRET`: the secret of the repositories' webhooks, which signs each
    /// delivery to `POST /webhooks/github`. Optional: without it the route refuses every
    /// delivery (503) and code links show no pull requests. In production it must be long and
    /// random when set.
    pub github_webhook_secret: Option<String>,
}

impl std::fmt::Debug for Config {
    // Hand-written so the JWT secret and connection passwords never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("bind_addr", &self.bind_addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("cors_origins", &self.cors_origins)
            .field("public_url", &self.public_url)
            .field("upload_dir", &self.upload_dir)
            .field("private_upload_dir", &self.private_upload_dir)
            .field("verification_commission", &self.verification_commission)
            .field("smtp", &self.smtp_url.is_some())
            .field("introspection", &self.introspection)
            .field("graphiql", &self.graphiql)
            .field("limits", &self.limits)
            .field("http", &self.http)
            .field("payments", &self.payments)
            .field("video_room_base_url", &self.video_room_base_url)
            .field("github_webhook_secret", &self.github_webhook_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced, for logs.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

/// Source of variables: the process environment in production code, a map in tests.
pub trait Vars {
    fn get(&self, key: &str) -> Option<String>;
}

/// Reads the process environment.
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<S: std::hash::BuildHasher> Vars for std::collections::HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

fn parse_or<T: std::str::FromStr>(vars: &dyn Vars, key: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match vars.get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{key}={raw:?} is not valid: {e}")),
    }
}

fn parse_bool(vars: &dyn Vars, key: &str, default: bool) -> anyhow::Result<bool> {
    match vars.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => bail!("{key}={v:?} is not a boolean (use true or false)"),
    }
}

/// The video provider calls use unless `VIDEO_ROOM_BASE_URL` says otherwise: Jitsi's public
/// server, which needs no account (rooms are open to whoever has the URL, hence random ids).
pub const DEFAULT_VIDEO_ROOM_BASE_URL: &str = "https://meet.jit.si";

/// Smallest secret (`JWT_SECRET`, `CRON_SECRET`) accepted in production, in bytes (HS256
/// wants at least its output size).
pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let _ = dotenvy::dotenv();
        Self::from_vars(&ProcessEnv)
    }

    /// Builds and validates the configuration from any variable source.
    pub fn from_vars(vars: &dyn Vars) -> anyhow::Result<Self> {
        let env = match vars.get("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => bail!("APP_ENV={other:?}: use development or production"),
        };
        let production = env == AppEnv::Production;

        let jwt_secret = match vars.get("JWT_SECRET") {
            Some(secret) => {
                let bytes = secret.into_bytes();
                if production {
                    check_production_secret("JWT_SECRET", &bytes)?;
                }
                bytes
            }
            None if production => {
                bail!("JWT_SECRET is required in production (at least {MIN_SECRET_BYTES} random bytes)")
            }
            None => {
                let mut bytes = vec![0u8; 48];
                rand::rng().fill_bytes(&mut bytes);
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this process only. \
                     Every restart signs everyone out. Set JWT_SECRET for anything but local development."
                );
                bytes
            }
        };

        let bind_addr = parse_or(vars, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let public_url = vars
            .get("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind_addr}"))
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&public_url).with_context(|| format!("PUBLIC_URL={public_url:?} is not a URL"))?;

        let database_url = vars
            .get("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@localhost:5432/gigmarket".to_owned());
        url::Url::parse(&database_url).context("DATABASE_URL is not a URL")?;

        let cors_origins = vars
            .get("CORS_ORIGINS")
            .unwrap_or_else(|| {
                if production {
                    String::new()
                } else {
                    "http://localhost:3000,http://127.0.0.1:3000".to_owned()
                }
            })
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>();
        for origin in &cors_origins {
            if origin == "*" {
                bail!("CORS_ORIGINS may not be \"*\": cookies carry credentials; list the origins");
            }
            url::Url::parse(origin).with_context(|| format!("CORS_ORIGINS entry {origin:?} is not an origin"))?;
        }

        let limits = Limits {
            body_max_bytes: parse_or(vars, "GRAPHQL_MAX_BODY_BYTES", 1024 * 1024)?,
            upload_max_bytes: parse_or(vars, "UPLOAD_MAX_BYTES", 5 * 1024 * 1024)?,
            upload_max_files: parse_or(vars, "UPLOAD_MAX_FILES", 10)?,
            max_depth: parse_or(vars, "GRAPHQL_MAX_DEPTH", 12)?,
            max_complexity: parse_or(vars, "GRAPHQL_MAX_COMPLEXITY", 1000)?,
            max_recursive_depth: 32,
            max_directives: 4,
            max_page_size: parse_or(vars, "GRAPHQL_MAX_PAGE_SIZE", 100)?,
        };
        if limits.max_complexity > 1000 {
            bail!("GRAPHQL_MAX_COMPLEXITY may not exceed 1000");
        }
        if limits.max_page_size == 0 || limits.max_depth == 0 {
            bail!("GRAPHQL_MAX_PAGE_SIZE and GRAPHQL_MAX_DEPTH must be positive");
        }

        let throttle = Throttle {
            window: Duration::from_secs(parse_or(vars, "SIGNIN_THROTTLE_WINDOW_SECS", 15 * 60)?),
            max_failures_per_account: parse_or(vars, "SIGNIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
            max_failures_per_address: parse_or(vars, "SIGNIN_MAX_FAILURES_PER_ADDRESS", 50)?,
        };

        let ws = WsLimits {
            max_message_bytes: parse_or(vars, "WS_MAX_MESSAGE_BYTES", 64 * 1024)?,
            max_connections: parse_or(vars, "WS_MAX_CONNECTIONS", 15_000)?,
            max_connections_per_user: parse_or(vars, "WS_MAX_CONNECTIONS_PER_USER", 8)?,
            max_subscriptions_per_connection: parse_or(vars, "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION", 32)?,
            init_timeout: Duration::from_millis(parse_or(vars, "WS_INIT_TIMEOUT_MS", 3000)?),
            keepalive: Duration::from_secs(parse_or(vars, "WS_KEEPALIVE_SECS", 15)?),
        };
        if ws.keepalive.is_zero() || ws.init_timeout.is_zero() {
            bail!("WS_KEEPALIVE_SECS and WS_INIT_TIMEOUT_MS must be positive");
        }

        let redis_timeout = Duration::from_millis(parse_or(vars, "REDIS_TIMEOUT_MS", 250)?);
        if redis_timeout.is_zero() || redis_timeout > Duration::from_secs(10) {
            bail!("REDIS_TIMEOUT_MS must be between 1 and 10000");
        }
        let http = HttpTimeouts {
            header_read: Duration::from_millis(parse_or(vars, "HTTP_HEADER_READ_TIMEOUT_MS", 10_000)?),
            body_read: Duration::from_millis(parse_or(vars, "HTTP_BODY_READ_TIMEOUT_MS", 30_000)?),
        };
        if http.header_read.is_zero() || http.body_read.is_zero() {
            bail!("HTTP_HEADER_READ_TIMEOUT_MS and HTTP_BODY_READ_TIMEOUT_MS must be positive");
        }

        let upload_dir = PathBuf::from(vars.get("UPLOAD_DIR").unwrap_or_else(|| "./uploads".to_owned()));
        let private_upload_dir = PathBuf::from(
            vars.get("PRIVATE_UPLOAD_DIR")
                .unwrap_or_else(|| "./private-uploads".to_owned()),
        );
        if private_upload_dir.starts_with(&upload_dir) || upload_dir.starts_with(&private_upload_dir) {
            bail!(
                "PRIVATE_UPLOAD_DIR may not be inside UPLOAD_DIR (or contain it): everything there is served publicly"
            );
        }

        let payments = Payments::from_vars(vars, production)?;
        let review_days: u64 = parse_or(vars, "REVIEW_WINDOW_DAYS", 14)?;
        if !(1..=365).contains(&review_days) {
            bail!("REVIEW_WINDOW_DAYS={review_days} must be 1 to 365");
        }

        let video_room_base_url = vars
            .get("VIDEO_ROOM_BASE_URL")
            .unwrap_or_else(|| DEFAULT_VIDEO_ROOM_BASE_URL.to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        match url::Url::parse(&video_room_base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
            _ => bail!("VIDEO_ROOM_BASE_URL={video_room_base_url:?} must be an http(s) URL without a query"),
        }

        let github_webhook_secret = vars.get("GITHUB_WEBHOOK_SECRET").map(|s| s.trim().to_owned());
        if let (true, Some(secret)) = (production, &github_webhook_secret) {
            check_production_secret("GITHUB_WEBHOOK_SECRET", secret.as_bytes())?;
        }

        Ok(Self {
            payments,
            github_webhook_secret,
            review_window: Duration::from_secs(review_days * 24 * 3600),
            video_room_base_url,
            events_retention: Duration::from_secs(3600 * parse_or(vars, "EVENTS_RETENTION_HOURS", 168u64)?),
            ws,
            http,
            env,

            bind_addr,
            database_url,
            database_pool_size: parse_or(vars, "DATABASE_POOL_SIZE", 16)?,
            redis_url: vars.get("REDIS_URL"),
            redis_timeout,
            jwt_secret,
            cors_origins,
            public_url,
            upload_dir,
            private_upload_dir,
            verification_commission: parse_bool(vars, "VERIFICATION_COMMISSION", false)?,
            smtp_url: vars.get("SMTP_URL"),
            mail_from: vars
                .get("MAIL_FROM")
                .unwrap_or_else(|| "gigmarket <no-reply@gigmarket.local>".to_owned()),
            introspection: parse_bool(vars, "GRAPHQL_INTROSPECTION", !production)?,
            graphiql: parse_bool(vars, "GRAPHIQL", !production)?,
            trust_proxy_headers: parse_bool(vars, "TRUST_PROXY_HEADERS", false)?,
            limits,
            throttle,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }
}

/// A production secret (`name`) must be long and not an obvious placeholder.
fn check_production_secret(name: &str, secret: &[u8]) -> anyhow::Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        bail!(
            "{name} is {} bytes; production needs at least {MIN_SECRET_BYTES} random bytes \
             (for example: openssl rand -base64 48)",
            secret.len()
        );
    }
    let distinct = secret.iter().collect::<std::collections::HashSet<_>>().len();
    if distinct < 12 {
        bail!(
            "{name} does not look random (only {distinct} distinct bytes); generate one with openssl rand -base64 48"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn development_defaults_work_without_any_variable() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(config.env, AppEnv::Development);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.jwt_secret.len(), 48);
        assert!(config.introspection && config.graphiql);
        assert!(!config.verification_commission, "the verification fee policy is opt-in");
    }

    #[test]
    fn private_uploads_are_kept_apart_from_public_ones() {
        let config =
            Config::from_vars(&vars(&[("UPLOAD_DIR", "/srv/up"), ("VERIFICATION_COMMISSION", "true")])).unwrap();
        assert_ne!(config.private_upload_dir, config.upload_dir);
        assert!(!config.private_upload_dir.starts_with(&config.upload_dir));
        assert!(config.verification_commission);
        assert!(Config::from_vars(&vars(&[("VERIFICATION_COMMISSION", "maybe")])).is_err());
        let nested = Config::from_vars(&vars(&[
            ("UPLOAD_DIR", "/srv/up"),
            ("PRIVATE_UPLOAD_DIR", "/srv/up/private"),
        ]));
        assert!(
            nested.is_err(),
            "a private folder inside the public one would be served"
        );
    }

    #[test]
    fn production_requires_a_long_random_secret() {
        let err = Config::from_vars(&vars(&[("APP_ENV", "production")])).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET is required"));
        let err = Config::from_vars(&vars(&[("APP_ENV", "production"), ("JWT_SECRET", "short")])).unwrap_err();
        assert!(err.to_string().contains("at least 32"));
        let weak = "a".repeat(40);
        let err = Config::from_vars(&vars(&[("APP_ENV", "production"), ("JWT_SECRET", &weak)])).unwrap_err();
        assert!(err.to_string().contains("does not look random"));
        let config = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "k3J9x!Qp2Lr8Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+A"),
        ]))
        .unwrap();
        assert!(!config.introspection && !config.graphiql);
    }

    #[test]
    fn wildcard_cors_is_refused() {
        let err = Config::from_vars(&vars(&[("CORS_ORIGINS", "*")])).unwrap_err();
        assert!(err.to_string().contains("may not be"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config::from_vars(&vars(&[
            ("JWT_SECRET", "super-secret-value-that-must-not-leak-1234"),
            ("DATABASE_URL", "postgres://app:hunter2@db:5432/gm"),
            ("STRIPE_SECRET_KEY", "sk_test_leaky"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_leaky"),
            ("CRON_SECRET", "cron-leaky"),
            ("GITHUB_WEBHOOK_SECRET", "github-leaky"),
        ]))
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("super-secret") && !printed.contains("hunter2"));
        assert!(!printed.contains("leaky"), "{printed}");
    }

    #[test]
    fn stripe_is_optional_and_its_secrets_rotate() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert!(config.payments.stripe_secret_key.is_none());
        assert!(config.payments.stripe_webhook_secrets.is_empty());
        assert_eq!(config.payments.escrow_dispute_window, Duration::from_secs(24 * 3600));
        assert_eq!(config.payments.timesheet_review_window, Duration::from_secs(72 * 3600));

        let config = Config::from_vars(&vars(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", " whsec_new , whsec_old ,"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9999"),
            ("ESCROW_DISPUTE_WINDOW_HOURS", "48"),
        ]))
        .unwrap();
        assert_eq!(config.payments.stripe_webhook_secrets, ["whsec_new", "whsec_old"]);
        assert_eq!(
            config.payments.stripe_api_base.as_deref(),
            Some("http://127.0.0.1:9999/")
        );
        assert_eq!(config.payments.escrow_dispute_window, Duration::from_secs(48 * 3600));
        assert!(Config::from_vars(&vars(&[("STRIPE_API_BASE", "ftp://x")])).is_err());
        assert!(Config::from_vars(&vars(&[("ESCROW_DISPUTE_WINDOW_HOURS", "soon")])).is_err());
        let config = Config::from_vars(&vars(&[("TIMESHEET_REVIEW_WINDOW_HOURS", "24")])).unwrap();
        assert_eq!(config.payments.timesheet_review_window, Duration::from_secs(24 * 3600));
        assert!(Config::from_vars(&vars(&[("TIMESHEET_REVIEW_WINDOW_HOURS", "0")])).is_err());
    }

    #[test]
    fn the_cron_secret_is_optional_but_strong_in_production() {
        let secret = ("JWT_SECRET", "k3J9x!Qp2Lr8Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+A");
        let config = Config::from_vars(&vars(&[("APP_ENV", "production"), secret])).unwrap();
        assert!(
            config.payments.cron_secret.is_none(),
            "the in-process scheduler needs none"
        );
        let err = Config::from_vars(&vars(&[("APP_ENV", "production"), secret, ("CRON_SECRET", "cron")])).unwrap_err();
        assert!(err.to_string().contains("CRON_SECRET is 4 bytes"), "{err}");
        let config = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            secret,
            ("CRON_SECRET", " Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+Ak3J9x!Qp2Lr8 "),
        ]))
        .unwrap();
        assert_eq!(
            config.payments.cron_secret.as_deref(),
            Some("Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+Ak3J9x!Qp2Lr8")
        );
        // Development takes any.
        Config::from_vars(&vars(&[("CRON_SECRET", "cron")])).unwrap();
    }

    #[test]
    fn the_github_webhook_secret_is_optional_but_strong_in_production() {
        let secret = ("JWT_SECRET", "k3J9x!Qp2Lr8Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+A");
        let config = Config::from_vars(&vars(&[("APP_ENV", "production"), secret])).unwrap();
        assert!(
            config.github_webhook_secret.is_none(),
            "the route then refuses deliveries"
        );
        let err = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            secret,
            ("GITHUB_WEBHOOK_SECRET", "gh"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("GITHUB_WEBHOOK_SECRET is 2 bytes"), "{err}");
        let config = Config::from_vars(&vars(&[("GITHUB_WEBHOOK_SECRET", " gh ")])).unwrap();
        assert_eq!(config.github_webhook_secret.as_deref(), Some("gh"));
    }

    #[test]
    fn production_refuses_a_stripe_key_without_a_webhook_secret() {
        let secret = ("JWT_SECRET", "k3J9x!Qp2Lr8Zt6Wv1Yb4Nc7Md0Fg5Hs-_=+A");
        let err = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            secret,
            ("STRIPE_SECRET_KEY", "sk_live_1"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("STRIPE_WEBHOOK_SECRET"), "{err}");
        Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            secret,
            ("STRIPE_SECRET_KEY", "sk_live_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ]))
        .unwrap();
        // Development starts without one (the webhook route then refuses every delivery).
        Config::from_vars(&vars(&[("STRIPE_SECRET_KEY", "sk_test_1")])).unwrap();
    }
}
