//! Automatic persisted queries (Apollo's APQ protocol), for GET and POST.
//!
//! A client sends `extensions.persistedQuery = { version: 1, sha256Hash }` without the query;
//! when this instance knows the hash, the query is filled in, otherwise the answer is the
//! `PersistedQueryNotFound` error and the client sends the query with its hash, which
//! registers it (after checking the hash). The store is bounded in entries and bytes, and
//! each instance keeps its own: a miss only costs a client one retry.

use std::sync::Arc;

use async_graphql::Value;
use sha2::{Digest, Sha256};

/// Queries longer than this are not registered (they are still executed).
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Why a persisted-query request cannot go on.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is unknown here: the client should send the query with it.
    NotFound,
    /// `extensions.persistedQuery` is malformed or of another version.
    Malformed(&'static str),
    /// The query's SHA-256 is not the hash sent with it.
    HashMismatch,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<String, Arc<str>> for Weight {
    fn weight(&self, key: &String, query: &Arc<str>) -> u64 {
        (key.len() + query.len()) as u64
    }
}

/// The registered queries by SHA-256 (lowercase hex).
pub struct PersistedQueries {
    queries: quick_cache::sync::Cache<String, Arc<str>, Weight>,
}

impl PersistedQueries {
    /// About `bytes` bytes of hashes and queries (the bound), sized for about `entries`.
    pub fn new(entries: usize, bytes: u64) -> Self {
        Self {
            queries: quick_cache::sync::Cache::with_weighter(entries, bytes, Weight),
        }
    }

    /// Applies the protocol to `request`: fills in the query of a known hash, or registers
    /// the query sent with its hash. Requests without `persistedQuery` pass untouched.
    pub fn apply(&self, request: &mut async_graphql::Request) -> Result<(), Refusal> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        let Value::Object(fields) = extension else {
            return Err(Refusal::Malformed("`extensions.persistedQuery` must be an object."));
        };
        let version = fields.get("version").and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            _ => None,
        });
        if version != Some(1) {
            return Err(Refusal::Malformed("Only persisted query version 1 is supported."));
        }
        let hash = match fields.get("sha256Hash") {
            Some(Value::String(hash)) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                hash.to_ascii_lowercase()
            }
            _ => {
                return Err(Refusal::Malformed(
                    "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits.",
                ))
            }
        };
        if request.query.is_empty() {
            let query = self.queries.get(&hash).ok_or(Refusal::NotFound)?;
            request.query = query.to_string();
            return Ok(());
        }
        if format!("{:x}", Sha256::digest(request.query.as_bytes())) != hash {
            return Err(Refusal::HashMismatch);
        }
        if request.query.len() <= MAX_QUERY_BYTES {
            self.queries.insert(hash, Arc::from(request.query.as_str()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: &str) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        request.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash })).unwrap(),
        );
        request
    }

    const QUERY: &str = "{ taskTemplates { key } }";

    fn hash_of(query: &str) -> String {
        format!("{:x}", Sha256::digest(query.as_bytes()))
    }

    #[test]
    fn a_hash_is_unknown_until_its_query_is_sent_with_it() {
        let store = PersistedQueries::new(10, 1 << 20);
        let hash = hash_of(QUERY);
        assert_eq!(store.apply(&mut request("", &hash)), Err(Refusal::NotFound));
        assert_eq!(store.apply(&mut request(QUERY, &hash)), Ok(()));
        let mut by_hash = request("", &hash.to_uppercase());
        assert_eq!(store.apply(&mut by_hash), Ok(()));
        assert_eq!(by_hash.query, QUERY);
    }

    #[test]
    fn wrong_hashes_and_odd_extensions_are_refused() {
        let store = PersistedQueries::new(10, 1 << 20);
        let other = hash_of("{ me { id } }");
        assert_eq!(store.apply(&mut request(QUERY, &other)), Err(Refusal::HashMismatch));
        assert!(matches!(
            store.apply(&mut request("", "abc")),
            Err(Refusal::Malformed(_))
        ));
        let mut v2 = async_graphql::Request::new("");
        v2.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(serde_json::json!({ "version": 2, "sha256Hash": other })).unwrap(),
        );
        assert!(matches!(store.apply(&mut v2), Err(Refusal::Malformed(_))));
        let mut plain = async_graphql::Request::new(QUERY);
        assert_eq!(store.apply(&mut plain), Ok(()));
    }

    #[test]
    fn the_store_is_bounded() {
        // About four entries' worth of bytes (each ~100: the hash and the query).
        let store = PersistedQueries::new(4, 400);
        let queries: Vec<String> = (0..50)
            .map(|i| format!("{{ q{i}: taskTemplates {{ key }} }}"))
            .collect();
        for query in &queries {
            store.apply(&mut request(query, &hash_of(query))).unwrap();
        }
        let known = queries
            .iter()
            .filter(|q| store.apply(&mut request("", &hash_of(q))).is_ok())
            .count();
        assert!(known <= 8, "{known} of 50 kept");
    }
}
