//! Access tokens: HS256 JWTs that live 30 minutes.
//!
//! jsonwebtoken's defaults are loosened for convenience (no `nbf` check, 60 s leeway, issuer
//! and audience unchecked), so every check is set explicitly here.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "gigmarket";
pub const AUDIENCE: &str = "gigmarket-api";
/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(30);
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// The claims of an access token (seed 001's set plus the registered ones we check).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: Uuid,
    pub email: String,
    pub role: String,
    pub is_admin: bool,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// The session (refresh-token family) the token was issued to: refused at once when the
    /// family is revoked (`auth::revoked`). Absent from tokens issued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Who a token is issued to.
pub struct Subject<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub is_admin: bool,
    /// The session (refresh-token family) the token belongs to.
    pub session: Option<Uuid>,
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Your session has expired. Refresh it or sign in again.")]
    Expired,
    #[error("The access token is invalid.")]
    Invalid,
    #[error("This session was signed out. Sign in again.")]
    Revoked,
}

/// Signs and checks access tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A signed token for `subject` and the moment it expires.
    pub fn issue(&self, subject: &Subject<'_>, now: DateTime<Utc>) -> anyhow::Result<(String, DateTime<Utc>)> {
        let expires_at = now + ACCESS_TOKEN_TTL;
        let claims = Claims {
            sub: subject.user_id,
            email: subject.email.to_owned(),
            role: if subject.is_admin { "admin" } else { "user" }.to_owned(),
            is_admin: subject.is_admin,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::now_v7(),
            sid: subject.session,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef-test")
    }

    fn subject() -> Subject<'static> {
        Subject {
            user_id: Uuid::nil(),
            email: "a@example.com",
            is_admin: false,
            session: Some(Uuid::nil()),
        }
    }

    #[test]
    fn round_trip_carries_the_claims() {
        let (token, exp) = keys().issue(&subject(), Utc::now()).unwrap();
        let claims = keys().verify(&token).unwrap();
        assert_eq!(claims.email, "a@example.com");
        assert_eq!(claims.role, "user");
        assert_eq!(claims.exp, exp.timestamp());
        assert_eq!(claims.sid, Some(Uuid::nil()));
        assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISSUER, AUDIENCE));
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused() {
        let (old, _) = keys().issue(&subject(), Utc::now() - Duration::hours(1)).unwrap();
        assert_eq!(keys().verify(&old), Err(TokenError::Expired));
        let (future, _) = keys().issue(&subject(), Utc::now() + Duration::minutes(10)).unwrap();
        assert_eq!(keys().verify(&future), Err(TokenError::Invalid));
    }

    #[test]
    fn other_secret_alg_none_and_tampering_are_refused() {
        let (token, _) = keys().issue(&subject(), Utc::now()).unwrap();
        assert_eq!(
            TokenKeys::new(b"another-secret-another-secret-xx").verify(&token),
            Err(TokenError::Invalid)
        );

        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            keys().verify(&format!("{none_header}.{}.", parts[1])),
            Err(TokenError::Invalid)
        );

        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["is_admin"] = true.into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(
            keys().verify(&format!("{}.{forged}.{}", parts[0], parts[2])),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": Uuid::nil(), "email": "a@example.com", "role": "user", "is_admin": false,
            "iat": now, "nbf": now, "exp": now + 600, "iss": "someone-else", "aud": AUDIENCE,
            "jti": Uuid::nil(),
        });
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef-test");
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
    }
}
