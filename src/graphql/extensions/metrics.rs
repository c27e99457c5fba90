//! Operation metrics: `graphql_operations_total` (by operation and outcome) and
//! `graphql_operation_duration_seconds` (by operation), rendered at `GET /metrics` with the
//! rest (see `crate::http::metrics`).
//!
//! Operation names come from clients, so they are labels only while they look like names
//! and while fewer than [`MAX_OPERATION_LABELS`] distinct ones have been seen; the rest are
//! counted as `other`.
//!
//! This is not an async-graphql extension, though it is request policy like its neighbours:
//! it times every query, and with any extension registered async-graphql 7.2 resolves every
//! field through the extension chain (`resolver_utils/container.rs`: a registry lookup of
//! the field's type and a boxed future per field) instead of calling the resolver. A feed
//! page resolves hundreds of fields; no instruction count has been taken yet to say how much
//! of a request that is, so until one shows it under about 1% the handler starts an
//! [`OperationClock`] at the request boundary and records the operation when the answer is
//! ready, which costs nothing per field.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Instant,
};

/// At most this many distinct operation names become labels.
pub const MAX_OPERATION_LABELS: usize = 256;

static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Times one GraphQL operation, from the request's arrival to its answer.
pub struct OperationClock {
    started: Instant,
}

impl OperationClock {
    /// Starts timing now.
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    /// Records the operation named `name` (the `operationName`, or the document's only
    /// operation's name) as done, `ok` when its answer carries no error.
    pub fn record(self, name: Option<&str>, ok: bool) {
        let operation = operation_label(name);
        let outcome = if ok { "ok" } else { "error" };
        metrics::counter!("graphql_operations_total", "operation" => operation.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation)
            .record(self.started.elapsed().as_secs_f64());
    }
}

fn operation_label(name: Option<&str>) -> String {
    let Some(name) =
        name.filter(|n| !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    else {
        return "anonymous".into();
    };
    let seen = SEEN.get_or_init(Default::default);
    let Ok(mut seen) = seen.lock() else {
        return "other".into();
    };
    if seen.contains(name) || (seen.len() < MAX_OPERATION_LABELS && seen.insert(name.to_owned())) {
        name.to_owned()
    } else {
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_names_are_not_labels() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Feed")), "Feed");
        assert_eq!(operation_label(Some("drop table;")), "anonymous");
        assert_eq!(operation_label(Some(&"a".repeat(65))), "anonymous");
    }
}
