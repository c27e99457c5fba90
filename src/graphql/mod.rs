//! Schema assembly, request context, limits and the HTTP transport.

pub mod apq;
pub mod context;
pub mod errors;
pub mod handler;
pub mod idempotency;
pub mod loader;
pub mod media;
pub mod pagination;
pub mod playground;
pub mod subscription;
pub mod types;
pub mod ws;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder, ValidationMode};

use crate::{
    account::graphql::{AccountMutation, AccountQuery},
    admin::graphql::{AdminMutation, AdminQuery},
    application::graphql::{ApplicationMutation, ApplicationQuery},
    calendar::graphql::{CalendarMutation, CalendarQuery},
    config::Config,
    gig::graphql::{GigMutation, GigQuery},
    ledger::graphql::LedgerQuery,
    message::graphql::{MessageMutation, MessageQuery, MessageSubscription},
    notification::graphql::{NotificationMutation, NotificationQuery, NotificationSubscription},
    order::graphql::{OrderMutation, OrderQuery, OrderSubscription},
    plan::graphql::PlanQuery,
    profile::graphql::{ProfileMutation, ProfileQuery},
    sos::graphql::{SosMutation, SosSubscription},
    state::AppState,
    task::graphql::{TaskMutation, TaskQuery, TaskSubscription},
    verification::graphql::{VerificationMutation, VerificationQuery},
    vouch::graphql::VouchMutation,
};

/// Every domain's queries.
#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    ProfileQuery,
    GigQuery,
    TaskQuery,
    ApplicationQuery,
    PlanQuery,
    MessageQuery,
    NotificationQuery,
    CalendarQuery,
    OrderQuery,
    LedgerQuery,
    VerificationQuery,
    AdminQuery,
);

/// Every domain's mutations.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    ProfileMutation,
    GigMutation,
    TaskMutation,
    ApplicationMutation,
    MessageMutation,
    NotificationMutation,
    CalendarMutation,
    OrderMutation,
    VouchMutation,
    VerificationMutation,
    SosMutation,
    AdminMutation,
);

/// Every domain's subscriptions.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    MessageSubscription,
    NotificationSubscription,
    OrderSubscription,
    TaskSubscription,
    SosSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription::default())
}

/// The schema with the limits and production rules of `config`, serving `app`.
pub fn build_schema(app: AppState) -> AppSchema {
    build_with(app, ValidationMode::Strict)
}

/// [`build_schema`] without async-graphql's validation rules (`ValidationMode::Fast` keeps
/// only fragment cycles and uploads, and still enforces the complexity and depth limits).
/// Only for requests known to pass the full validation: see `handler::DocumentCache`.
pub fn build_prevalidated_schema(app: AppState) -> AppSchema {
    build_with(app, ValidationMode::Fast)
}

/// How deep an operation that selects only introspection fields may nest. graphql-js's
/// standard introspection query (what GraphiQL, GraphQL Inspector, code generators and
/// Apollo's tooling send) reaches 15 levels down `TypeRef`'s `ofType` chain, deeper than
/// application queries are allowed ([`crate::config::Limits::max_depth`]).
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// [`build_schema`] with the depth limit raised to [`INTROSPECTION_MAX_DEPTH`], for
/// operations whose every root field is `__schema`, `__type` or `__typename` (their cost is
/// bounded by the schema, not by data); `None` when introspection is disabled.
pub fn build_introspection_schema(app: AppState) -> Option<AppSchema> {
    let depth = app.config.limits.max_depth.max(INTROSPECTION_MAX_DEPTH);
    app.config
        .introspection
        .then(|| build_with_depth(app, ValidationMode::Strict, depth))
}

fn build_with(app: AppState, validation: ValidationMode) -> AppSchema {
    let depth = app.config.limits.max_depth;
    build_with_depth(app, validation, depth)
}

fn build_with_depth(app: AppState, validation: ValidationMode, max_depth: usize) -> AppSchema {
    let config: &Config = &app.config;
    let limits = &config.limits;
    let mut schema = builder()
        .validation_mode(validation)
        .limit_depth(max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_recursive_depth)
        .limit_directives(limits.max_directives);
    if config.is_production() {
        schema = schema.disable_suggestions();
    }
    if !config.introspection {
        schema = schema.disable_introspection();
    }
    schema.data(app).finish()
}

/// The SDL of the schema, as `export-schema` writes it to `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
