//! What every request can reach: configuration, the database, keys and services.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{
    auth::{jwt::TokenKeys, password::Passwords},
    config::Config,
    db::Db,
    events::{presence::Presence, relay::Relay, Bus, Hub},
    gig::views::ViewCounter,
    mail::{Mailer, SmtpRelay},
    storage::Storage,
};

/// Connections of the background jobs' pool.
const JOBS_POOL_SIZE: usize = 3;

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
    pub tokens: TokenKeys,
    pub passwords: Passwords,
    pub mailer: Mailer,
    pub storage: Storage,
    pub bus: Bus,
    pub presence: Presence,
    pub gig_views: ViewCounter,
    mail_wake: Option<Arc<Notify>>,
    relay_wake: Arc<Notify>,
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
        let hub = match &config.redis_url {
            Some(url) => Hub::with_redis(db.clone(), url)?,
            None => Hub::in_process(db.clone()),
        };
        let relay_wake = Arc::new(Notify::new());
        let bus = Bus::new(hub, relay_wake.clone());
        let presence = Presence::new(config.redis_url.as_deref())?;
        Ok(Self(Arc::new(Inner {
            config,
            db,
            jobs_db,
            tokens,
            passwords,
            mailer,
            storage,
            bus,
            presence,
            gig_views: ViewCounter::default(),
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

    /// Starts the background tasks: the event relay, and the SMTP relay when configured.
    pub fn spawn_background_tasks(&self) -> anyhow::Result<()> {
        Relay::new(
            self.jobs_db.clone(),
            self.bus.hub.clone(),
            self.relay_wake.clone(),
            self.config.events_retention,
        )
        .spawn();
        self.gig_views.spawn_flusher(self.jobs_db.clone());
        crate::maintenance::spawn(self.clone());
        if let (Some(url), Some(wake)) = (&self.config.smtp_url, &self.mail_wake) {
            SmtpRelay::new(url, &self.config.mail_from, self.jobs_db.clone(), wake.clone())?.spawn();
            tracing::info!(smtp = %crate::config::redact_url(url), "mail relay started");
        }
        Ok(())
    }
}
