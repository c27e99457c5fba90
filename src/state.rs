//! What every request can reach: configuration, the database, keys and services.
//!
//! The state only holds the pieces: it imports no domain and no API layer, and starts
//! nothing but the hub's pub/sub task. The background jobs are started where the app is
//! wired (`crate::prepare`).

use std::{sync::Arc, time::Duration};

use tokio::sync::Notify;

use crate::{
    auth::{jwt::TokenKeys, password::Passwords, revoked::RevokedSessions},
    config::{Config, Payments},
    db::Db,
    events::{presence::Presence, redis::RedisLink, Bus, Hub},
    mail::Mailer,
    storage::Storage,
    tally::Tally,
};

/// Connections of the background jobs' pool.
const JOBS_POOL_SIZE: usize = 3;
/// Connections that hold the scheduler's per-job locks: one per cadence's loop, and room
/// for `POST /internal/cron/cleanup` (opened lazily; most instances use two or three).
const LOCKS_POOL_SIZE: usize = 6;

/// Each attempt of a Stripe call gives up after this long (the caller answers
/// `PROVIDER_ERROR`; a retry reuses the call's idempotency key).
const STRIPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// The pool requests use.
    pub db: Db,
    /// A small pool of its own for background jobs (relay, flushes, clean-up), so they never
    /// wait behind requests and requests never wait behind them.
    pub jobs_db: Db,
    /// Connections that only hold the scheduler's session advisory locks, one per job run in
    /// progress, for the length of the run (never used for the work itself).
    pub locks_db: Db,
    pub tokens: TokenKeys,
    /// This instance's copy of the revoked sessions, checked on every authenticated request.
    pub revoked_sessions: RevokedSessions,
    pub passwords: Passwords,
    pub mailer: Mailer,
    pub storage: Storage,
    pub bus: Bus,
    pub presence: Presence,
    /// Gig views counted since the last flush (written by `gig::views`).
    pub gig_views: Tally,
    /// With `SMTP_URL`: wakes the mail relay when the mailer queues a mail.
    pub mail_wake: Option<Arc<Notify>>,
    /// Wakes the event relay when the bus is kicked after a commit.
    pub relay_wake: Arc<Notify>,
    /// With `STRIPE_SECRET_KEY`: the Stripe API client (one connection pool per instance).
    /// Domains reach it through `payment::provider`, never directly.
    pub stripe: Option<stripe::Client>,
    /// Without Redis: the connection holding the single-instance lock (see `db`).
    single_instance: std::sync::OnceLock<tokio::sync::Mutex<diesel_async::AsyncPgConnection>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Assembles the state from a validated configuration. Opens no database connection yet;
    /// with `REDIS_URL`, starts the hub's pub/sub task (Redis need not be up).
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_pool_size)?;
        let jobs_db = Db::connect(&config.database_url, JOBS_POOL_SIZE)?;
        let locks_db = Db::connect(&config.database_url, LOCKS_POOL_SIZE)?;
        let tokens = TokenKeys::new(&config.jwt_secret);
        let passwords = Passwords::new()?;
        let mail_wake = config.smtp_url.as_ref().map(|_| Arc::new(Notify::new()));
        let mailer = Mailer::new(config.mail_from.clone(), !config.is_production(), mail_wake.clone());
        let storage = Storage::local(
            config.upload_dir.clone(),
            config.private_upload_dir.clone(),
            &config.public_url,
            &config.jwt_secret,
        );
        let redis = match &config.redis_url {
            Some(url) => Some(RedisLink::new(url, config.redis_timeout)?),
            None => None,
        };
        let hub = match &redis {
            Some(link) => Hub::with_redis(db.clone(), link.clone()),
            None => Hub::in_process(db.clone()),
        };
        let relay_wake = Arc::new(Notify::new());
        let bus = Bus::new(hub, relay_wake.clone());
        let presence = Presence::new(redis);
        let stripe = stripe_client(&config.payments)?;
        Ok(Self(Arc::new(Inner {
            stripe,
            config,
            db,
            jobs_db,
            locks_db,
            tokens,
            revoked_sessions: RevokedSessions::default(),
            passwords,
            mailer,
            storage,
            bus,
            presence,
            gig_views: Tally::default(),
            mail_wake,
            relay_wake,
            single_instance: std::sync::OnceLock::new(),
        })))
    }

    /// Without Redis, refuses to be a second instance on the same database.
    pub async fn claim_single_instance(&self) -> anyhow::Result<()> {
        if self.config.redis_url.is_none() {
            let conn = crate::db::claim_single_instance(&self.config.database_url).await?;
            let _ = self.single_instance.set(tokio::sync::Mutex::new(conn));
        }
        Ok(())
    }
}

/// The Stripe client for `STRIPE_SECRET_KEY` (at `STRIPE_API_BASE` when set), or `None`.
fn stripe_client(payments: &Payments) -> anyhow::Result<Option<stripe::Client>> {
    let Some(key) = &payments.stripe_secret_key else {
        return Ok(None);
    };
    let mut builder = stripe::ClientBuilder::new(key.as_str())
        .timeout(STRIPE_TIMEOUT)
        .app_info("gigmarket", Some(env!("CARGO_PKG_VERSION").to_owned()), None);
    if let Some(base) = &payments.stripe_api_base {
        builder = builder.url(base.as_str());
    }
    // The error names the setting at fault, never the key.
    let client = builder
        .build()
        .map_err(|e| anyhow::anyhow!("STRIPE_SECRET_KEY / STRIPE_API_BASE: {e}"))?;
    Ok(Some(client))
}
