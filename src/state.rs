//! What every request can reach: configuration, the database, keys and services.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{
    auth::{jwt::TokenKeys, password::Passwords},
    config::Config,
    db::Db,
    mail::{Mailer, SmtpRelay},
    storage::Storage,
};

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub tokens: TokenKeys,
    pub passwords: Passwords,
    pub mailer: Mailer,
    pub storage: Storage,
    mail_wake: Option<Arc<Notify>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Assembles the state from a validated configuration. Opens no connection yet.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_pool_size)?;
        let tokens = TokenKeys::new(&config.jwt_secret);
        let passwords = Passwords::new()?;
        let mail_wake = config.smtp_url.as_ref().map(|_| Arc::new(Notify::new()));
        let mailer = Mailer::new(
            config.mail_from.clone(),
            !config.is_production(),
            mail_wake.clone(),
        );
        let storage = Storage::local(config.upload_dir.clone(), &config.public_url);
        Ok(Self(Arc::new(Inner {
            config,
            db,
            tokens,
            passwords,
            mailer,
            storage,
            mail_wake,
        })))
    }

    /// Starts the background tasks this configuration calls for (the SMTP relay).
    pub fn spawn_background_tasks(&self) -> anyhow::Result<()> {
        if let (Some(url), Some(wake)) = (&self.config.smtp_url, &self.mail_wake) {
            SmtpRelay::new(url, &self.config.mail_from, self.db.clone(), wake.clone())?.spawn();
            tracing::info!(smtp = %crate::config::redact_url(url), "mail relay started");
        }
        Ok(())
    }
}
