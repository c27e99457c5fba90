//! Code links (seed 002, Module F): repositories and preview URLs linked to an order or one
//! of its milestones, and the pull requests and CI checks GitHub reports about the linked
//! repositories through its webhook (`POST /webhooks/github`, [`webhook`]).
//!
//! Owns `code_links`, `pull_requests`, `ci_checks` and `github_deliveries`. Invariants:
//! - only a party of a live order links or unlinks code on it; a repository is `owner/name`
//!   by GitHub's naming rules, linked at most once per order (matched case-insensitively, as
//!   GitHub does); a preview is an http(s) URL of at most 2,000 characters; at most 20 links
//!   per order;
//! - a repository may be linked by several orders: its pull requests and checks are stored
//!   once and show on every order linking it, and each delivery about it updates every one
//!   (`ORDER_UPDATED`). A pull request shows on the milestone its repository is linked to;
//!   a repository linked to the whole order shows on `Order.pullRequests`, and on the
//!   milestone too when the order has a single one;
//! - nothing of a delivery is read before its `X-Hub-Signature-256` (HMAC-SHA256 of the raw
//!   body with `GITHUB_WEBHOOK_SECRET`) is verified in constant time ([`github::verify`]);
//!   a refused delivery records nothing. A verified one is recorded by its
//!   `X-GitHub-Delivery` id in the transaction that applies it, so it has one effect however
//!   often it arrives; deliveries about repositories no order links are recorded, IGNORED;
//! - GitHub delivers in any order: stored pull requests and checks only move forward
//!   (GitHub's `updated_at`, run ids, and queued → in progress → finished;
//!   `model::upsert_check`);
//! - both parties are notified (SYSTEM) when a pull request's combined checks
//!   ([`state::ChecksState`]) turn passing or failing, once per change.

pub mod github;
pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
pub mod state;
pub mod webhook;
