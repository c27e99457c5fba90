//! What GitHub sends: the signature of a delivery (`X-Hub-Signature-256`) and the few fields
//! of each payload we read, as GitHub documents them
//! (<https://docs.github.com/en/webhooks/webhook-events-and-payloads>).
//!
//! Payloads are read leniently: each struct names only the fields we use, so a field GitHub
//! adds or a payload trimmed by an older GitHub Enterprise changes nothing.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Why a delivery was refused before anything was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `GITHUB_WEBHOOK_SECRET` is not set: nothing can be verified (503).
    NotConfigured,
    /// No `X-Hub-Signature-256` header, or not `sha256=` and 64 hex digits (400).
    MalformedSignature,
    /// The signature does not match the body: forged, altered, truncated, or signed with
    /// another secret (401).
    BadSignature,
    /// Signed, but without `X-GitHub-Event` or `X-GitHub-Delivery` (400).
    MissingHeader,
    /// Signed, but not the JSON its event type promises (400; logged).
    Unreadable,
}

impl Rejection {
    /// The reason, for the response and the log.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::NotConfigured => "GitHub webhooks are not configured on this server (GITHUB_WEBHOOK_SECRET).",
            Rejection::MalformedSignature => "The X-Hub-Signature-256 header is missing or not sha256=<64 hex digits>.",
            Rejection::BadSignature => "The X-Hub-Signature-256 signature does not match the body.",
            Rejection::MissingHeader => "The X-GitHub-Event and X-GitHub-Delivery headers are required.",
            Rejection::Unreadable => "The payload could not be read for its event type.",
        }
    }
}

/// The 32 bytes of a `sha256=<64 hex digits>` header value.
fn signature_bytes(header: &str) -> Option<[u8; 32]> {
    let hex = header.strip_prefix("sha256=")?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut bytes = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        bytes[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

/// Verifies `body` against the `X-Hub-Signature-256` header: HMAC-SHA256 of the raw body
/// with `secret`, compared in constant time (`hmac`'s `verify_slice`).
pub fn verify(secret: Option<&str>, body: &[u8], header: Option<&str>) -> Result<(), Rejection> {
    let secret = secret.ok_or(Rejection::NotConfigured)?;
    let expected = header.and_then(signature_bytes).ok_or(Rejection::MalformedSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Rejection::NotConfigured)?;
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Rejection::BadSignature)
}

/// The repository an event is about.
#[derive(Debug, Deserialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
}

/// What every event we handle carries beside its object.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub action: Option<String>,
    pub repository: Option<Repository>,
}

/// `pull_request`: opened, edited, reopened, closed (merged or not), synchronize (a new head).
#[derive(Debug, Deserialize)]
pub struct PullRequestEvent {
    pub pull_request: PullRequest,
    pub repository: Repository,
}

#[derive(Debug, Deserialize)]
pub struct PullRequest {
    pub id: i64,
    pub number: i32,
    pub title: String,
    pub html_url: String,
    /// `open` or `closed`.
    pub state: String,
    #[serde(default)]
    pub merged: bool,
    pub head: Head,
    pub user: Option<Account>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct Head {
    pub sha: String,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    pub login: String,
}

/// `check_run`: created, completed, rerequested, requested_action.
#[derive(Debug, Deserialize)]
pub struct CheckRunEvent {
    pub check_run: CheckRun,
    pub repository: Repository,
}

#[derive(Debug, Deserialize)]
pub struct CheckRun {
    pub id: i64,
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed` (and Actions' `waiting`, `requested`, `pending`).
    pub status: String,
    pub conclusion: Option<String>,
    pub html_url: Option<String>,
    pub details_url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl CheckRun {
    /// GitHub's time of the run's current state.
    pub fn status_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.or(self.started_at)
    }
}

/// `check_suite`: completed, requested, rerequested.
#[derive(Debug, Deserialize)]
pub struct CheckSuiteEvent {
    pub check_suite: CheckSuite,
    pub repository: Repository,
}

#[derive(Debug, Deserialize)]
pub struct CheckSuite {
    pub id: i64,
    pub head_sha: String,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub app: Option<App>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct App {
    pub name: String,
}

/// `status`: a commit status of one context.
#[derive(Debug, Deserialize)]
pub struct StatusEvent {
    pub id: i64,
    pub sha: String,
    pub context: String,
    /// `pending`, `success`, `failure` or `error`.
    pub state: String,
    pub target_url: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub repository: Repository,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn githubs_documented_example_verifies() {
        // From GitHub's "Validating webhook deliveries": secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            verify(Some("It's a Secret to Everybody"), b"Hello, World!", Some(header)),
            Ok(())
        );
        assert_eq!(sign("It's a Secret to Everybody", b"Hello, World!"), header);
    }

    #[test]
    fn forged_truncated_malformed_and_unsigned_deliveries_are_refused() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let good = sign("s3cret", body);
        assert_eq!(verify(Some("s3cret"), body, Some(&good)), Ok(()));
        assert_eq!(
            verify(
                Some("s3cret"),
                body,
                Some(&good.to_uppercase().replace("SHA256", "sha256"))
            ),
            Ok(())
        );
        assert_eq!(verify(Some("other"), body, Some(&good)), Err(Rejection::BadSignature));
        assert_eq!(
            verify(Some("s3cret"), &body[..body.len() - 2], Some(&good)),
            Err(Rejection::BadSignature)
        );
        for bad in [
            "",
            "sha256=",
            "sha1=abc",
            &good[..good.len() - 1],
            &format!("sha256={}", "g".repeat(64)),
        ] {
            assert_eq!(
                verify(Some("s3cret"), body, Some(bad)),
                Err(Rejection::MalformedSignature),
                "{bad}"
            );
        }
        assert_eq!(verify(Some("s3cret"), body, None), Err(Rejection::MalformedSignature));
        assert_eq!(verify(None, body, Some(&good)), Err(Rejection::NotConfigured));
    }
}
