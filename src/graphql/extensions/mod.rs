//! Request policy that cuts across every operation, one file each: idempotency keys for
//! mutations ([`idempotency`]) and operation metrics ([`metrics`]).
//!
//! The rule for what becomes an async-graphql extension: with any extension registered on a
//! schema, async-graphql 7.2 resolves every field of every request on it through the
//! extension chain (a registry lookup and a boxed future per field) instead of calling the
//! resolver directly. So an extension is registered only on a schema whose requests need it
//! ([`idempotency::Idempotency`] on the schemas for mutations sent with a key), and policy
//! that every query needs is called at the request boundary instead ([`metrics`]).

pub mod idempotency;
pub mod metrics;
