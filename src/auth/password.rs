//! Password policy and argon2id hashing.
//!
//! Hashing is CPU-bound (~19 MiB and two passes per call), so it runs on the blocking pool
//! behind a semaphore sized to the machine: a burst of sign-ins queues instead of starving
//! the async workers. Verification for an unknown account runs against a dummy hash made
//! with the same parameters, so "no such user" and "wrong password" take the same time.

use std::sync::Arc;

use anyhow::Context;
use argon2::{
    password_hash::PasswordHasher as _, password_hash::PasswordVerifier as _, Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have; longer ones are refused before hashing, never truncated.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// Why a password is not acceptable, as a message for `extensions.fields`.
pub fn policy_violation(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.trim().is_empty() {
        return Some("must not be only spaces".to_owned());
    }
    None
}

/// Hashes and verifies passwords off the async workers.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    argon: Argon2<'static>,
    dummy_hash: String,
    permits: Semaphore,
}

impl Passwords {
    /// Builds the hasher and its dummy hash (one hash computed at start-up).
    pub fn new() -> anyhow::Result<Self> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = argon
            .hash_password(b"gigmarket dummy password for timing equality")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self {
            inner: Arc::new(Inner {
                argon,
                dummy_hash,
                permits: Semaphore::new(cores),
            }),
        })
    }

    /// A PHC string (argon2id, fresh random salt) for `password`.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.inner.permits.acquire().await.context("hasher closed")?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
        })
        .await
        .context("hash task")?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown account) it checks
    /// against the dummy hash and answers false, taking the same time as a real check.
    pub async fn verify(&self, password: String, stored: Option<String>) -> anyhow::Result<bool> {
        let _permit = self.inner.permits.acquire().await.context("hasher closed")?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let hash = stored.unwrap_or_else(|| inner.dummy_hash.clone());
            let matches = inner.argon.verify_password(password.as_bytes(), hash.as_str()).is_ok();
            known && matches
        })
        .await
        .context("verify task")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert!(policy_violation("short").is_some());
        assert!(policy_violation("pässwörd").is_none());
        assert!(policy_violation(&"x".repeat(MAX_PASSWORD_CHARS)).is_none());
        assert!(policy_violation(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_some());
        assert!(policy_violation("        ").is_some());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords
            .verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!passwords
            .verify("correct horse batterY".into(), Some(hash))
            .await
            .unwrap());
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_long_password_is_not_truncated() {
        let passwords = Passwords::new().unwrap();
        let long = "a".repeat(100);
        let hash = passwords.hash(long.clone()).await.unwrap();
        let mut other = long.clone();
        other.push('b');
        assert!(!passwords.verify(other, Some(hash)).await.unwrap());
    }
}
