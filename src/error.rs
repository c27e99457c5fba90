//! The error model shared by every layer.
//!
//! Rules:
//! - Model functions return `diesel::result::Error`; they never decide what a client sees.
//! - Services return their domain's `thiserror` enum (or `AppError` directly when the domain
//!   has nothing of its own to say) and own the mapping into `AppError`, once, in a `From`.
//! - GraphQL resolvers return `async_graphql::Result`; `AppError` converts into an error with
//!   `extensions.code` set to one of the codes below and, for validation, `extensions.fields`.
//! - `AppError::Internal` carries the cause for the log only: the client gets
//!   `INTERNAL_ERROR` and a fixed message. Causes are logged where the conversion happens,
//!   with the request's span (request id, operation) around them.
//! - Anything that reaches the response without a code (parser, validator, limits, a stray
//!   error) is classified by `graphql::errors::classify` before it leaves the server.

use std::collections::BTreeMap;

use async_graphql::ErrorExtensions;

/// The public error codes (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unauthorized,
    Forbidden,
    NotFound,
    ValidationError,
    LimitExceeded,
    Conflict,
    RateLimited,
    /// A payment-provider (Stripe) operation on a server without provider keys.
    ProviderNotConfigured,
    /// The payment provider refused the request, failed or did not answer in time; safe to
    /// retry (provider calls carry idempotency keys).
    ProviderError,
    InternalError,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::ValidationError => "VALIDATION_ERROR",
            Code::LimitExceeded => "LIMIT_EXCEEDED",
            Code::Conflict => "CONFLICT",
            Code::RateLimited => "RATE_LIMITED",
            Code::ProviderNotConfigured => "PROVIDER_NOT_CONFIGURED",
            Code::ProviderError => "PROVIDER_ERROR",
            Code::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// Field-level validation messages, keyed by the input field's GraphQL name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`; the first message for a field wins.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was recorded, else a validation error naming every field.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }
}

/// An error on its way to a client.
///
/// Deliberately not `Display`: async-graphql converts anything displayable into an error
/// without a code, and `?` would pick that conversion silently. Without `Display`, `?` in a
/// resolver can only go through the `From` below, which sets the code.
#[derive(Debug)]
pub enum AppError {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Validation(FieldErrors),
    LimitExceeded(String),
    Conflict(String),
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The payment provider is not configured on this server (the message says what is missing).
    ProviderNotConfigured(String),
    /// The payment provider failed; the cause is logged, the message says what to do.
    Provider {
        message: String,
        cause: anyhow::Error,
    },
    /// The cause is logged, never sent.
    Internal(anyhow::Error),
}

impl AppError {
    pub fn unauthorized() -> Self {
        AppError::Unauthorized("You must be signed in to do this.".into())
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found."))
    }

    /// A validation error for a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.add(field, message);
        AppError::Validation(fields)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(cause.into())
    }

    pub fn code(&self) -> Code {
        match self {
            AppError::Unauthorized(_) => Code::Unauthorized,
            AppError::Forbidden(_) => Code::Forbidden,
            AppError::NotFound(_) => Code::NotFound,
            AppError::Validation(_) => Code::ValidationError,
            AppError::LimitExceeded(_) => Code::LimitExceeded,
            AppError::Conflict(_) => Code::Conflict,
            AppError::RateLimited { .. } => Code::RateLimited,
            AppError::ProviderNotConfigured(_) => Code::ProviderNotConfigured,
            AppError::Provider { .. } => Code::ProviderError,
            AppError::Internal(_) => Code::InternalError,
        }
    }

    /// The human message sent to clients.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Validation(fields) => {
                let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
                format!("Invalid input: {}.", names.join(", "))
            }
            AppError::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            AppError::Unauthorized(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::LimitExceeded(m)
            | AppError::Conflict(m)
            | AppError::RateLimited { message: m, .. }
            | AppError::ProviderNotConfigured(m)
            | AppError::Provider { message: m, .. } => m.clone(),
        }
    }

    /// What a log line says about this error: the cause of an internal or provider error
    /// (never sent to clients), the public message of any other.
    pub fn log_text(&self) -> String {
        match self {
            AppError::Internal(cause) | AppError::Provider { cause, .. } => format!("{cause:#}"),
            other => other.public_message(),
        }
    }
}

/// The only message an internal error ever carries.
pub const INTERNAL_MESSAGE: &str = "Something went wrong on our side. It has been logged.";

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if is_nul_in_text(&e) {
            // A backstop: `graphql::nul` refuses U+0000 in every input before it runs, so
            // only a value that entered some other way gets here. The field is not known.
            return AppError::field("input", "must not contain the NUL character (U+0000)");
        }
        AppError::Internal(e.into())
    }
}

/// PostgreSQL's refusal of U+0000 in a text value (SQLSTATE 22021,
/// `character_not_in_repertoire`): `invalid byte sequence for encoding "UTF8": 0x00`.
/// diesel does not expose the SQLSTATE, so the message is matched.
fn is_nul_in_text(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("invalid byte sequence for encoding") && info.message().contains("0x00"))
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::Internal(anyhow::anyhow!("database pool: {e}"))
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (field, message)) in self.0.iter().enumerate() {
            write!(f, "{}{field} {message}", if i > 0 { "; " } else { "" })?;
        }
        Ok(())
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        match &e {
            AppError::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "internal error"),
            AppError::Provider { cause, .. } => {
                tracing::warn!(error = format!("{cause:#}"), "payment provider error")
            }
            _ => {}
        }
        let message = e.public_message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", e.code().as_str());
            match &e {
                AppError::Validation(fields) => {
                    let mut map = async_graphql::indexmap::IndexMap::new();
                    for (field, msg) in fields.iter() {
                        map.insert(
                            async_graphql::Name::new(field),
                            async_graphql::Value::String(msg.clone()),
                        );
                    }
                    ext.set("fields", async_graphql::Value::Object(map));
                }
                AppError::RateLimited { retry_after_secs, .. } => {
                    ext.set("retryAfterSeconds", *retry_after_secs);
                }
                _ => {}
            }
        })
    }
}

/// The result type of services.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_each_field() {
        let mut fields = FieldErrors::new();
        fields.add("email", "must be an email address");
        fields.add("password", "must be at least 8 characters");
        fields.add("email", "ignored second message");
        let err: async_graphql::Error = AppError::Validation(fields).into();
        let ext = err.extensions.unwrap();
        assert_eq!(ext.get("code"), Some(&async_graphql::Value::from("VALIDATION_ERROR")));
        let async_graphql::Value::Object(map) = ext.get("fields").unwrap() else {
            panic!("fields is not an object")
        };
        assert_eq!(map.len(), 2);
        assert_eq!(map["email"], async_graphql::Value::from("must be an email address"));
    }

    #[test]
    fn internal_errors_carry_no_detail() {
        let err: async_graphql::Error = AppError::internal(anyhow::anyhow!("relation \"users\" does not exist")).into();
        assert_eq!(err.message, INTERNAL_MESSAGE);
        assert_eq!(
            err.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("INTERNAL_ERROR"))
        );
    }
}
