//! A local stand-in for the Stripe API: an axum server on 127.0.0.1:0 that answers the
//! endpoints gigmarket calls with Stripe-shaped JSON (the documented objects, trimmed to the
//! fields async-stripe needs) and records every request with its `Idempotency-Key`. Like
//! Stripe, a repeated idempotency key replays the first answer. `time_out_next` makes the next
//! call hang past the client's timeout; `fail_next` makes the next
//! call answer a Stripe error.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Form, Json, Router,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    /// The first value of form field `key` (Stripe's bracket notation: `metadata[k]`).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Answers by idempotency key, replayed like Stripe does.
    replies: HashMap<String, Value>,
    /// How the next call fails.
    fail_next: Option<Failure>,
    accounts_created: usize,
    customers_created: usize,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    /// A Stripe error with this status.
    Status(u16),
    /// No answer before the client gives up.
    Timeout,
}

/// Longer than the app's Stripe client waits (10 s).
const HANG: std::time::Duration = std::time::Duration::from_secs(12);

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

pub struct MockStripe {
    pub base: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MockStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockStripe {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let router = Router::new()
            .route("/v1/accounts", post(create_account))
            .route("/v1/account_links", post(create_account_link))
            .route("/v1/transfers", post(create_transfer))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/customers", post(create_customer))
            .route("/v1/checkout/sessions", post(create_checkout_session))
            .route("/v1/billing_portal/sessions", post(create_billing_portal_session))
            .route("/v1/subscriptions/{id}", post(update_subscription))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
        let addr = listener.local_addr().expect("mock addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("mock server");
        });
        Self {
            base: format!("http://{addr}"),
            shared,
            server,
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.0.lock().expect("mock lock").requests.clone()
    }

    /// Requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Connected accounts actually created (replays excluded).
    pub fn accounts_created(&self) -> usize {
        self.shared.0.lock().expect("mock lock").accounts_created
    }

    /// Customers actually created (replays excluded).
    pub fn customers_created(&self) -> usize {
        self.shared.0.lock().expect("mock lock").customers_created
    }

    /// The next call answers a Stripe error with this status (402: `card_declined`, else
    /// `api_error`).
    pub fn fail_next(&self, status: u16) {
        self.shared.0.lock().expect("mock lock").fail_next = Some(Failure::Status(status));
    }

    /// The next call gets no answer before the client's timeout.
    pub fn time_out_next(&self) {
        self.shared.0.lock().expect("mock lock").fail_next = Some(Failure::Timeout);
    }

    /// Every Checkout Session made so far expires: a replay of its key answers it expired.
    pub fn expire_sessions(&self) {
        let mut inner = self.shared.0.lock().expect("mock lock");
        for (key, reply) in inner.replies.iter_mut() {
            if key.starts_with("/v1/checkout/sessions ") {
                reply["status"] = json!("expired");
                reply["url"] = Value::Null;
                reply["expires_at"] = json!(chrono::Utc::now().timestamp() - 1);
            }
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// What the mock does with a request it just recorded.
enum Answer {
    /// A planned Stripe error with this status.
    Fail(StatusCode),
    /// A planned hang.
    Hang,
    /// The first answer to the same idempotency key.
    Replay(Value),
    /// A new object.
    Fresh,
}

impl Answer {
    /// The response for `Fail` and `Replay`; `Fresh` is made by the caller.
    async fn respond(self, fresh: impl FnOnce() -> Response) -> Response {
        match self {
            Answer::Fail(StatusCode::PAYMENT_REQUIRED) => {
                let body = json!({ "error": {
                    "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                    "message": "Your card was declined (mock)."
                } });
                (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response()
            }
            Answer::Hang => {
                tokio::time::sleep(HANG).await;
                (StatusCode::GATEWAY_TIMEOUT, "too late").into_response()
            }
            Answer::Fail(status) => {
                let body = json!({ "error": { "type": "api_error", "message": "An unknown error occurred (mock)." } });
                (status, Json(body)).into_response()
            }
            Answer::Replay(reply) => Json(reply).into_response(),
            Answer::Fresh => fresh(),
        }
    }
}

/// Records the request and decides how to answer it.
fn record(shared: &Shared, path: &str, headers: &HeaderMap, form: Vec<(String, String)>) -> Answer {
    let mut inner = shared.0.lock().expect("mock lock");
    let key = header(headers, "idempotency-key");
    inner.requests.push(Recorded {
        path: path.to_owned(),
        idempotency_key: key.clone(),
        stripe_version: header(headers, "stripe-version"),
        authorization: header(headers, "authorization"),
        form,
    });
    match inner.fail_next.take() {
        Some(Failure::Status(status)) => return Answer::Fail(StatusCode::from_u16(status).expect("status")),
        Some(Failure::Timeout) => return Answer::Hang,
        None => {}
    }
    match key.and_then(|k| inner.replies.get(&format!("{path} {k}")).cloned()) {
        Some(reply) => Answer::Replay(reply),
        None => Answer::Fresh,
    }
}

fn remember(shared: &Shared, path: &str, headers: &HeaderMap, reply: &Value) {
    if let Some(key) = header(headers, "idempotency-key") {
        let mut inner = shared.0.lock().expect("mock lock");
        inner.replies.insert(format!("{path} {key}"), reply.clone());
    }
}

fn stripe_id(prefix: &str) -> String {
    format!("{prefix}_{}", &Uuid::new_v4().simple().to_string()[..16])
}

async fn create_account(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/accounts";
    let metadata = metadata_of(&form);
    let (email, account_type) = (field(&form, "email"), field(&form, "type"));
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let reply = json!({
                "id": stripe_id("acct"),
                "object": "account",
                "business_type": null,
                "capabilities": { "transfers": "inactive" },
                "charges_enabled": false,
                "country": "US",
                "created": chrono::Utc::now().timestamp(),
                "default_currency": "usd",
                "details_submitted": false,
                "email": email,
                "metadata": metadata,
                "payouts_enabled": false,
                "type": account_type,
            });
            shared.0.lock().expect("mock lock").accounts_created += 1;
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

async fn create_account_link(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/account_links";
    let account = field(&form, "account").unwrap_or_default();
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let now = chrono::Utc::now().timestamp();
            let reply = json!({
                "object": "account_link",
                "created": now,
                "expires_at": now + 300,
                "url": format!("https://connect.stripe.com/setup/e/{account}/{}", Uuid::new_v4().simple()),
            });
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

fn field(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn metadata_of(form: &[(String, String)]) -> serde_json::Map<String, Value> {
    form.iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), Value::from(v.clone())))
        })
        .collect()
}

/// A Transfer (the documented object, trimmed to what async-stripe requires).
async fn create_transfer(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/transfers";
    let amount: i64 = field(&form, "amount").and_then(|a| a.parse().ok()).unwrap_or_default();
    let (currency, destination, group) = (
        field(&form, "currency"),
        field(&form, "destination"),
        field(&form, "transfer_group"),
    );
    let metadata = metadata_of(&form);
    record(&shared, PATH, &headers, form).respond(|| {
        let id = stripe_id("tr");
        let reply = json!({
            "id": id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": stripe_id("txn"),
            "created": chrono::Utc::now().timestamp(),
            "currency": currency,
            "description": null,
            "destination": destination,
            "destination_payment": stripe_id("py"),
            "livemode": false,
            "metadata": metadata,
            "reversals": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals") },
            "reversed": false,
            "source_transaction": null,
            "source_type": "card",
            "transfer_group": group,
        });
        remember(&shared, PATH, &headers, &reply);
        Json(reply).into_response()
    })
    .await
}

/// A Refund (the documented object, trimmed to what async-stripe requires).
async fn create_refund(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/refunds";
    let amount: i64 = field(&form, "amount").and_then(|a| a.parse().ok()).unwrap_or_default();
    let payment_intent = field(&form, "payment_intent");
    let metadata = metadata_of(&form);
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let reply = json!({
                "id": stripe_id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": stripe_id("txn"),
                "charge": stripe_id("ch"),
                "created": chrono::Utc::now().timestamp(),
                "currency": "usd",
                "metadata": metadata,
                "payment_intent": payment_intent,
                "reason": null,
                "receipt_number": null,
                "source_transfer_reversal": null,
                "status": "succeeded",
                "transfer_reversal": null,
            });
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

/// A Checkout Session in payment or subscription mode (the documented object, trimmed to what async-stripe
/// requires), open, for the one line item asked for.
async fn create_checkout_session(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/checkout/sessions";
    let number = |key: &str| -> i64 { field(&form, key).and_then(|v| v.parse().ok()).unwrap_or_default() };
    let amount = number("line_items[0][price_data][unit_amount]") * number("line_items[0][quantity]").max(1);
    let (reference, currency, mode, success, cancel) = (
        field(&form, "client_reference_id"),
        field(&form, "line_items[0][price_data][currency]"),
        field(&form, "mode"),
        field(&form, "success_url"),
        field(&form, "cancel_url"),
    );
    let metadata = metadata_of(&form);
    let customer = field(&form, "customer");
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let id = format!("cs_test_{}", Uuid::new_v4().simple());
            let now = chrono::Utc::now().timestamp();
            let reply = json!({
                "id": id,
                "object": "checkout.session",
                "amount_subtotal": amount,
                "amount_total": amount,
                "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
                "cancel_url": cancel,
                "client_reference_id": reference,
                "created": now,
                "currency": currency,
                "custom_fields": [],
                "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
                "customer": customer,
                "customer_email": null,
                "expires_at": now + 24 * 3600,
                "livemode": false,
                "metadata": metadata,
                "mode": mode,
                "payment_intent": null,
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "shipping_options": [],
                "status": "open",
                "subscription": null,
                "success_url": success,
                "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            });
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

async fn create_customer(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/customers";
    let (metadata, email, name) = (metadata_of(&form), field(&form, "email"), field(&form, "name"));
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let reply = json!({
                "id": stripe_id("cus"),
                "object": "customer",
                "created": chrono::Utc::now().timestamp(),
                "email": email,
                "name": name,
                "livemode": false,
                "metadata": metadata,
            });
            shared.0.lock().expect("mock lock").customers_created += 1;
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

async fn create_billing_portal_session(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    const PATH: &str = "/v1/billing_portal/sessions";
    let (customer, return_url) = (field(&form, "customer"), field(&form, "return_url"));
    record(&shared, PATH, &headers, form)
        .respond(|| {
            let reply = json!({
                "id": stripe_id("bps"),
                "object": "billing_portal.session",
                "configuration": "bpc_mock_default",
                "created": chrono::Utc::now().timestamp(),
                "customer": customer,
                "flow": null,
                "livemode": false,
                "locale": null,
                "on_behalf_of": null,
                "return_url": return_url,
                "url": format!("https://billing.stripe.com/p/session/test_{}", Uuid::new_v4().simple()),
            });
            remember(&shared, PATH, &headers, &reply);
            Json(reply).into_response()
        })
        .await
}

/// `POST /v1/subscriptions/{id}`: answers the subscription with what the form set (the mock
/// holds no subscriptions: the rest is a plain active one).
async fn update_subscription(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/subscriptions/{id}");
    let cancel_at_period_end = field(&form, "cancel_at_period_end").as_deref() == Some("true");
    record(&shared, &path, &headers, form).respond(|| {
        let now = chrono::Utc::now().timestamp();
        let reply = json!({
            "id": id,
            "object": "subscription",
            "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
            "billing_cycle_anchor": now,
            "billing_mode": { "type": "classic" },
            "billing_schedules": [],
            "cancel_at_period_end": cancel_at_period_end,
            "collection_method": "charge_automatically",
            "created": now - 3600,
            "currency": "usd",
            "customer": "cus_mock",
            "discounts": [],
            "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
            "items": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/subscription_items?subscription={id}") },
            "livemode": false,
            "metadata": {},
            "start_date": now - 3600,
            "status": "active",
        });
        remember(&shared, &path, &headers, &reply);
        Json(reply).into_response()
    })
    .await
}
