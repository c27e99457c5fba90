//! Schema assembly, request context, limits and the HTTP transport.
//!
//! `/graphql` over HTTP: [`handler`] (the steps of a request) over [`transport`] (reading
//! requests, writing answers), [`documents`] (the parsed-document cache) and [`extensions`]
//! (request policy: idempotency keys, operation metrics). Over WebSocket: [`ws`].

pub mod apq;
pub mod context;
pub mod documents;
pub mod errors;
pub mod extensions;
pub mod handler;
pub mod loader;
pub mod media;
pub mod nul;
pub mod outbox;
pub mod pagination;
pub mod playground;
pub mod shared_frame;
pub mod subscription;
pub mod transport;
pub mod types;
pub mod ws;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder, ValidationMode};

use crate::{
    account::graphql::{AccountMutation, AccountQuery},
    admin::graphql::{AdminMutation, AdminQuery},
    application::graphql::{ApplicationMutation, ApplicationQuery},
    calendar::graphql::{CalendarMutation, CalendarQuery},
    call::graphql::{CallMutation, CallQuery},
    code_link::graphql::CodeLinkMutation,
    config::Config,
    gig::graphql::{GigMutation, GigQuery},
    ledger::graphql::LedgerQuery,
    message::graphql::{MessageMutation, MessageQuery, MessageSubscription},
    notification::graphql::{NotificationMutation, NotificationQuery, NotificationSubscription},
    order::graphql::{OrderMutation, OrderQuery, OrderSubscription},
    payment::graphql::{PaymentMutation, PaymentQuery},
    plan::graphql::{PlanMutation, PlanQuery},
    profile::graphql::{ProfileMutation, ProfileQuery},
    review::graphql::{ReviewMutation, ReviewQuery},
    sos::graphql::{SosMutation, SosSubscription},
    state::AppState,
    task::graphql::{TaskMutation, TaskQuery, TaskSubscription},
    timesheet::graphql::{TimesheetMutation, TimesheetQuery},
    verification::graphql::{VerificationMutation, VerificationQuery},
    vouch::graphql::VouchMutation,
};

/// Reads. Fields that need a signed-in user (an access token as `Authorization: Bearer …`,
/// or the cookie `signIn` sets) answer `UNAUTHORIZED` without one, and admin-only fields
/// answer `FORBIDDEN` to members who are not admins. Lists are Relay connections: `first` (1 to the
/// server's page size cap, 100 unless configured; 20 when omitted) and `after`.
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
    CallQuery,
    OrderQuery,
    TimesheetQuery,
    ReviewQuery,
    LedgerQuery,
    PaymentQuery,
    VerificationQuery,
    AdminQuery,
);

/// Changes. All but `signUp`, `signIn`, `refreshSession`, `signOut`, `requestPasswordReset`
/// and `resetPassword` need a signed-in user. Errors carry `extensions.code`: UNAUTHORIZED,
/// FORBIDDEN, NOT_FOUND, VALIDATION_ERROR (with `extensions.fields` naming each bad input
/// field), LIMIT_EXCEEDED, CONFLICT (a state that does not allow it, or a duplicate),
/// RATE_LIMITED, PROVIDER_NOT_CONFIGURED (a Stripe operation on a server without Stripe
/// keys), PROVIDER_ERROR (Stripe failed or refused; safe to retry) or INTERNAL_ERROR. Send an
/// `Idempotency-Key` header to make a retry replay the first answer (kept 24 hours) instead
/// of running twice.
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
    CallMutation,
    OrderMutation,
    CodeLinkMutation,
    TimesheetMutation,
    ReviewMutation,
    PaymentMutation,
    PlanMutation,
    VouchMutation,
    VerificationMutation,
    SosMutation,
    AdminMutation,
);

/// Live events over WebSocket at `/graphql/ws` (`graphql-transport-ws`, or the legacy
/// `graphql-ws` subprotocol). Authenticate in the `connection_init` payload
/// (`{"authorization": "Bearer …"}` or `{"token": "…"}`); cookies are ignored there. Access is
/// checked when subscribing. Fields with an `after` argument resume from the `eventCursor` of
/// the last event you received, so nothing is missed across a reconnect.
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
    describe_lists(Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    ))
}

/// Descriptions of every list's connection and edge types.
fn describe_lists(
    builder: SchemaBuilder<Query, Mutation, Subscription>,
) -> SchemaBuilder<Query, Mutation, Subscription> {
    use async_graphql::connection::{Connection, Edge, EmptyFields};

    use crate::{
        admin::graphql::MemberListNames,
        profile::graphql::{RankFields, SavedFreelancerNames, User},
    };
    use pagination::{describe_list, Total};

    let builder = describe_list!(builder, crate::application::graphql::Application, "applications");
    let builder = describe_list!(builder, crate::admin::graphql::AuditEntry, "audit log entries");
    let builder = describe_list!(builder, crate::call::graphql::Call, "calls");
    let builder = describe_list!(builder, crate::message::graphql::Conversation, "conversations");
    let builder = describe_list!(builder, crate::order::graphql::Dispute, "disputes (admins only)");
    let builder = describe_list!(builder, crate::gig::graphql::Gig, "gigs");
    let builder = describe_list!(builder, crate::ledger::graphql::LedgerEntry, "ledger entries");
    let builder = describe_list!(builder, crate::message::graphql::Message, "messages", "before");
    let builder = describe_list!(builder, crate::task::graphql::NearbyTask, "tasks near a point");
    let builder = describe_list!(builder, crate::notification::graphql::Notification, "notifications");
    let builder = describe_list!(builder, crate::order::graphql::Order, "orders");
    let builder = describe_list!(builder, crate::review::graphql::Review, "reviews");
    let builder = describe_list!(builder, crate::sos::graphql::SosAlert, "SOS alerts");
    let builder = describe_list!(builder, crate::task::graphql::Task, "tasks");
    let builder = describe_list!(builder, crate::timesheet::graphql::Timesheet, "timesheets");
    let builder = describe_list!(
        builder,
        crate::verification::graphql::VerificationRequest,
        "verification requests"
    );
    let builder = describe_list!(builder, crate::vouch::graphql::Vouch, "vouches");
    let builder = describe_list!(
        builder,
        Connection<String, User, Total, EmptyFields, SavedFreelancerNames, SavedFreelancerNames>,
        Edge<String, User, EmptyFields, SavedFreelancerNames>,
        "saved freelancers",
        "after"
    );
    let builder = describe_list!(
        builder,
        Connection<String, User, Total, EmptyFields, MemberListNames, MemberListNames>,
        Edge<String, User, EmptyFields, MemberListNames>,
        "members (admins only)",
        "after"
    );
    describe_list!(
        builder,
        Connection<String, User, Total, RankFields>,
        Edge<String, User, RankFields>,
        "ranked freelancers",
        "after"
    )
}

/// The schema with the limits and production rules of `config`, serving `app`.
pub fn build_schema(app: AppState) -> AppSchema {
    build_with(app, ValidationMode::Strict)
}

/// [`build_schema`] without async-graphql's validation rules (`ValidationMode::Fast` keeps
/// only fragment cycles and uploads, and still enforces the complexity and depth limits).
/// Only for requests known to pass the full validation: see `documents::DocumentCache`.
pub fn build_prevalidated_schema(app: AppState) -> AppSchema {
    build_with(app, ValidationMode::Fast)
}

/// [`build_schema`] (with `ValidationMode::Fast`: [`build_prevalidated_schema`]) with the
/// [`extensions::idempotency::Idempotency`] extension, for mutations sent with an
/// `Idempotency-Key`. Only those run on it: with an extension registered, every field
/// resolves through async-graphql's extension chain.
pub fn build_idempotent_schema(app: AppState, validation: ValidationMode) -> AppSchema {
    let depth = app.config.limits.max_depth;
    build_with_depth(app, validation, depth, Some(extensions::idempotency::Idempotency))
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
        .then(|| build_with_depth(app, ValidationMode::Strict, depth, None))
}

fn build_with(app: AppState, validation: ValidationMode) -> AppSchema {
    let depth = app.config.limits.max_depth;
    build_with_depth(app, validation, depth, None)
}

fn build_with_depth(
    app: AppState,
    validation: ValidationMode,
    max_depth: usize,
    idempotency: Option<extensions::idempotency::Idempotency>,
) -> AppSchema {
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
    if let Some(idempotency) = idempotency {
        schema = schema.extension(idempotency);
    }
    schema.data(app).finish()
}

/// The SDL of the schema, as `export-schema` writes it to `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
        Positioned,
    };

    /// The scalars every GraphQL schema has; the spec describes them.
    const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

    fn described(description: &Option<Positioned<String>>) -> bool {
        description.as_ref().is_some_and(|d| !d.node.trim().is_empty())
    }

    /// Every type (but the built-in scalars), field, argument, input field and enum value of
    /// `sdl` without a description, as `Type`, `Type.field`, `Type.field(argument)` or
    /// `Type.VALUE`.
    fn undescribed(sdl: &str) -> Vec<String> {
        let document = match parse_schema(sdl) {
            Ok(document) => document,
            Err(e) => panic!("the SDL does not parse: {e}"),
        };
        let mut missing = Vec::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let ty = &ty.node;
            let name = ty.name.node.as_str();
            if BUILT_IN_SCALARS.contains(&name) {
                continue;
            }
            if !described(&ty.description) {
                missing.push(name.to_owned());
            }
            let fields = match &ty.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => &Vec::new(),
            };
            for field in fields {
                let field_name = &field.node.name.node;
                if !described(&field.node.description) {
                    missing.push(format!("{name}.{field_name}"));
                }
                for argument in &field.node.arguments {
                    if !described(&argument.node.description) {
                        missing.push(format!("{name}.{field_name}({})", argument.node.name.node));
                    }
                }
            }
            match &ty.kind {
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        if !described(&field.node.description) {
                            missing.push(format!("{name}.{}", field.node.name.node));
                        }
                    }
                }
                TypeKind::Enum(enumeration) => {
                    for value in &enumeration.values {
                        if !described(&value.node.description) {
                            missing.push(format!("{name}.{}", value.node.value.node));
                        }
                    }
                }
                _ => {}
            }
        }
        missing
    }

    #[test]
    fn every_type_field_argument_input_field_and_enum_value_has_a_description() {
        let missing = undescribed(&super::sdl());
        assert!(
            missing.is_empty(),
            "{} schema items have no description; give each a `///` doc comment (arguments: \
             `#[graphql(desc = \"…\")]`):\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    #[test]
    fn the_description_check_names_every_kind_of_undescribed_item() {
        let sdl = r#"
            """Described."""
            type Query {
                """Described."""
                a(
                    """Described."""
                    x: Int
                    y: Int
                ): Int
                b: Int
            }
            type Bare { c: Int }
            """Described."""
            input Filter {
                """Described."""
                d: Int
                e: Int
            }
            """Described."""
            enum Sort {
                """Described."""
                NEW
                OLD
            }
            """  """
            scalar Blank
            scalar String
        "#;
        assert_eq!(
            undescribed(sdl),
            [
                "Query.a(y)",
                "Query.b",
                "Bare",
                "Bare.c",
                "Filter.e",
                "Sort.OLD",
                "Blank"
            ]
        );
    }
}
