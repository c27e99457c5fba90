//! The last step before a response leaves: every error gets an `extensions.code`.
//!
//! Errors made from `AppError` already carry one. What remains comes from the parser, the
//! validator and the limits (no path: the client's document is at fault) or from a stray
//! source inside execution (a path: our fault, logged and answered as `INTERNAL_ERROR`).

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::error::{Code, INTERNAL_MESSAGE};

/// Messages of async-graphql's input coercion, raised while resolving a field: the client
/// sent a value of the wrong shape.
const INPUT_MESSAGES: &[&str] = &["Failed to parse", "Expected input type", "Invalid value for argument"];

const LIMIT_MESSAGES: &[&str] = &[
    "Query is too complex",
    "Query is nested too deep",
    "The recursion depth of the query",
    "The number of directives on the field",
];

/// Gives every error a code and strips detail from internal ones.
pub fn finalize(errors: &mut [ServerError]) {
    for error in errors {
        if let Some(Value::String(code)) = error.extensions.as_ref().and_then(|ext| ext.get("code")) {
            crate::http::metrics::record_error(code);
            continue;
        }
        let code = if LIMIT_MESSAGES.iter().any(|m| error.message.starts_with(m)) {
            Code::LimitExceeded
        } else if error.path.is_empty() || INPUT_MESSAGES.iter().any(|m| error.message.starts_with(m)) {
            Code::ValidationError
        } else {
            tracing::error!(error = %error.message, path = ?error.path, "uncoded error during execution");
            error.message = INTERNAL_MESSAGE.to_owned();
            Code::InternalError
        };
        set_code(error, code);
        crate::http::metrics::record_error(code.as_str());
    }
}

/// Sets `extensions.code`.
pub fn set_code(error: &mut ServerError, code: Code) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", Value::from(code.as_str()));
}

/// A GraphQL-shaped error body for failures before execution (transport, auth, limits).
pub fn error_body(code: Code, message: &str) -> serde_json::Value {
    crate::http::metrics::record_error(code.as_str());
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::PathSegment;

    fn code_of(e: &ServerError) -> String {
        match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(Value::String(s)) => s.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn classifies_uncoded_errors() {
        let mut errors = vec![
            ServerError::new("Query is nested too deep.", None),
            ServerError::new("Unknown field \"nope\" on type \"Query\".", None),
            {
                let mut e = ServerError::new("connection refused at src/db/mod.rs:12", None);
                e.path = vec![PathSegment::Field("me".into())];
                e
            },
        ];
        errors.push({
            let mut e = ServerError::new("Expected input type \"Boolean\", found null.", None);
            e.path = vec![PathSegment::Field("notifications".into())];
            e
        });
        finalize(&mut errors);
        assert_eq!(
            code_of(&errors[3]),
            "VALIDATION_ERROR",
            "input coercion is the client's doing"
        );
        assert_eq!(code_of(&errors[0]), "LIMIT_EXCEEDED");
        assert_eq!(code_of(&errors[1]), "VALIDATION_ERROR");
        assert_eq!(code_of(&errors[2]), "INTERNAL_ERROR");
        assert_eq!(errors[2].message, INTERNAL_MESSAGE);
    }
}
