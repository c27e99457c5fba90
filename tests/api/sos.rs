//! SOS alerts: raised by a party of an active order, delivered to admins live (`sosRaised`)
//! and as notifications, acknowledged and resolved on the record.

use std::time::Duration;

use gigmarket::order::model::OrderStatus;
use serde_json::{json, Value};

use crate::{
    common::{Gql, TestUser},
    orders::{one, Market},
    ws::{WsClient, TRANSPORT_WS},
};

const RAISE: &str = "mutation($i: RaiseSosInput!) { raiseSos(input: $i) { id status message location { lat lng } order { id } raisedBy { id } } }";
const SOS_RAISED: &str =
    "subscription { sosRaised { id status message eventCursor location { lat lng } raisedBy { username } order { id status } } }";
const ALERTS: &str = "query($s: SosStatus) { sosAlerts(status: $s) { totalCount edges { node { id status } } } }";
const ACKNOWLEDGE: &str =
    "mutation($id: ID!) { acknowledgeSos(id: $id) { status acknowledgedBy { id } acknowledgedAt } }";
const RESOLVE: &str =
    "mutation($id: ID!, $n: String!) { resolveSos(id: $id, note: $n) { status resolvedBy { id } resolutionNote } }";

async fn raise(m: &Market, by: &TestUser, order: &str, lat: f64, message: Option<&str>) -> Gql {
    m.app
        .gql_as(
            by,
            RAISE,
            json!({ "i": { "orderId": order, "location": { "lat": lat, "lng": 13.405 }, "message": message } }),
        )
        .await
}

async fn count(m: &Market, sql: &str) -> i64 {
    one(&m.app, &format!("SELECT ({sql})::text AS value"))
        .await
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_sos_reaches_admins_at_once_and_is_handled_on_the_record() {
    let m = Market::new().await;
    let order = m.drive(OrderStatus::InProgress).await;

    let mut admin_ws = WsClient::connect(&m.app.ws_url(), TRANSPORT_WS).await;
    admin_ws.init(Some(&m.admin.token)).await;
    admin_ws.subscribe("s", SOS_RAISED, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let raised = raise(&m, &m.freelancer, &order, 52.52, Some("The client's dog bit me.")).await;
    let alert = raised.data()["raiseSos"].clone();
    assert_eq!(alert["status"], "OPEN");
    assert_eq!(alert["order"]["id"], order.as_str());
    assert_eq!(alert["raisedBy"]["id"], m.freelancer.id.as_str());
    let id = alert["id"].as_str().unwrap().to_owned();

    let delivered = admin_ws.next_data("s").await;
    let delivered = &delivered["sosRaised"];
    assert_eq!(delivered["id"], id.as_str());
    assert_eq!(delivered["message"], "The client's dog bit me.");
    assert_eq!(delivered["location"], json!({ "lat": 52.52, "lng": 13.405 }));
    assert_eq!(delivered["raisedBy"]["username"], m.freelancer.username.as_str());
    assert_eq!(delivered["order"]["status"], "IN_PROGRESS");
    assert!(delivered["eventCursor"].is_string());

    // Every admin also has a notification.
    let notes = m
        .app
        .gql_as(
            &m.admin,
            "{ notifications { edges { node { kind title data } } } }",
            json!({}),
        )
        .await;
    let note = &notes.data()["notifications"]["edges"][0]["node"];
    assert_eq!(note["kind"], "SYSTEM");
    assert_eq!(note["data"]["sosAlertId"], id.as_str());

    // Raising again while it is unresolved answers the same alert and alerts nobody twice.
    let events = count(&m, "SELECT count(*) FROM events WHERE topic = 'admin:sos'").await;
    let again = raise(&m, &m.freelancer, &order, 52.6, None).await;
    assert_eq!(again.data()["raiseSos"]["id"], id.as_str());
    assert_eq!(again.data()["raiseSos"]["location"]["lat"], 52.52);
    assert_eq!(
        count(&m, "SELECT count(*) FROM events WHERE topic = 'admin:sos'").await,
        events
    );
    assert_eq!(count(&m, "SELECT count(*) FROM sos_alerts").await, 1);
    // The other party has an alert of their own.
    let clients = raise(&m, &m.client, &order, 52.52, None).await;
    assert_ne!(clients.data()["raiseSos"]["id"], id.as_str());
    assert_eq!(
        admin_ws.next_data("s").await["sosRaised"]["raisedBy"]["username"],
        m.client.username.as_str()
    );

    // Admins list and handle alerts; nobody else does.
    assert_eq!(m.app.gql_as(&m.client, ALERTS, json!({})).await.code(), "FORBIDDEN");
    let open = m.app.gql_as(&m.admin, ALERTS, json!({ "s": "OPEN" })).await;
    assert_eq!(open.data()["sosAlerts"]["totalCount"], 2);
    assert_eq!(
        m.app
            .gql_as(&m.freelancer, ACKNOWLEDGE, json!({ "id": id }))
            .await
            .code(),
        "FORBIDDEN"
    );
    let acknowledged = m.app.gql_as(&m.admin, ACKNOWLEDGE, json!({ "id": id })).await;
    assert_eq!(acknowledged.data()["acknowledgeSos"]["status"], "ACKNOWLEDGED");
    assert_eq!(
        acknowledged.data()["acknowledgeSos"]["acknowledgedBy"]["id"],
        m.admin.id.as_str()
    );
    assert_eq!(
        m.app.gql_as(&m.admin, ACKNOWLEDGE, json!({ "id": id })).await.code(),
        "CONFLICT"
    );

    let no_note = m.app.gql_as(&m.admin, RESOLVE, json!({ "id": id, "n": " " })).await;
    assert_eq!(no_note.code(), "VALIDATION_ERROR");
    assert_eq!(no_note.fields(), ["note"]);
    let resolved = m
        .app
        .gql_as(
            &m.admin,
            RESOLVE,
            json!({ "id": id, "n": "Called the freelancer; first aid given." }),
        )
        .await;
    assert_eq!(resolved.data()["resolveSos"]["status"], "RESOLVED");
    assert_eq!(
        m.app
            .gql_as(&m.admin, RESOLVE, json!({ "id": id, "n": "Again" }))
            .await
            .code(),
        "CONFLICT"
    );
    let missing = m
        .app
        .gql_as(&m.admin, ACKNOWLEDGE, json!({ "id": uuid::Uuid::now_v7().to_string() }))
        .await;
    assert_eq!(missing.code(), "NOT_FOUND");

    // The raiser heard back twice; the log has both steps.
    let told = m
        .app
        .gql_as(
            &m.freelancer,
            "{ notifications { edges { node { title data } } } }",
            json!({}),
        )
        .await;
    let told: Vec<&Value> = told.data()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["data"]["sosAlertId"] == id.as_str())
        .collect();
    assert_eq!(told.len(), 2);
    assert_eq!(
        m.app.audit_actions(&m.admin, "SOS_ALERT", Some(&id)).await,
        ["sos.resolve", "sos.acknowledge"]
    );

    // Once resolved, a new emergency is a new alert.
    let later = raise(&m, &m.freelancer, &order, 52.52, Some("Again")).await;
    assert_ne!(later.data()["raiseSos"]["id"], id.as_str());
}

#[tokio::test]
async fn only_admins_subscribe_to_sos_alerts() {
    let m = Market::new().await;
    for token in [Some(m.freelancer.token.as_str()), None] {
        let mut ws = WsClient::connect(&m.app.ws_url(), TRANSPORT_WS).await;
        ws.init(token).await;
        ws.subscribe("s", SOS_RAISED, json!({})).await;
        let refused = ws.expect_json().await;
        assert_eq!(refused["type"], "error", "{refused}");
        let code = &refused["payload"][0]["extensions"]["code"];
        assert_eq!(code, if token.is_some() { "FORBIDDEN" } else { "UNAUTHORIZED" });
    }
}

#[tokio::test]
async fn an_sos_needs_a_party_an_active_order_and_valid_input() {
    let m = Market::new().await;
    let requested = m.drive(OrderStatus::Requested).await;
    let refused = raise(&m, &m.client, &requested, 52.5, None).await;
    assert_eq!(refused.code(), "CONFLICT");
    let completed = m.drive(OrderStatus::Completed).await;
    assert_eq!(raise(&m, &m.client, &completed, 52.5, None).await.code(), "CONFLICT");

    let active = m.drive(OrderStatus::PaymentConfirmed).await;
    assert_eq!(raise(&m, &m.stranger, &active, 52.5, None).await.code(), "NOT_FOUND");
    assert_eq!(raise(&m, &m.admin, &active, 52.5, None).await.code(), "FORBIDDEN");
    let anonymous = m
        .app
        .gql(
            RAISE,
            json!({ "i": { "orderId": active, "location": { "lat": 1.0, "lng": 1.0 } } }),
        )
        .await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");

    for (lat, message, fields) in [
        (91.0, None, vec!["location.lat"]),
        (10.0, Some("m".repeat(1_001)), vec!["message"]),
    ] {
        let r = raise(&m, &m.client, &active, lat, message.as_deref()).await;
        assert_eq!(r.code(), "VALIDATION_ERROR");
        assert_eq!(r.fields(), fields);
    }
    let bad_id = raise(&m, &m.client, "nope", 10.0, None).await;
    assert_eq!(bad_id.fields(), ["orderId"]);
    assert_eq!(count(&m, "SELECT count(*) FROM sos_alerts").await, 0);

    for status in [OrderStatus::Submitted, OrderStatus::RevisionRequested] {
        let order = m.drive(status).await;
        raise(&m, &m.client, &order, 52.5, None).await.data();
    }
    raise(&m, &m.client, &active, 52.5, None).await.data();
}
