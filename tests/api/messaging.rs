//! Conversations, messages, read receipts, the safety filter and notifications, over HTTP.

use serde_json::json;

use crate::{
    common::TestApp,
    realtime::{conversation, send},
};

const CONVERSATIONS: &str = "query($first: Int, $after: String) { conversations(first: $first, after: $after) { totalCount edges { cursor node { id unreadCount lastMessage { content sender { username } } participants { user { username } lastReadAt } } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn start_conversation_is_get_or_create_and_checks_the_other_party() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.with_user().await, app.with_user().await);
    let first = conversation(&app, &alice, &bob).await;
    let again = conversation(&app, &bob, &alice).await;
    assert_eq!(first, again, "one conversation per pair, whoever starts it");

    let start = "mutation($p: ID!) { startConversation(participantId: $p) { id } }";
    let own = app.gql_as(&alice, start, json!({ "p": alice.id })).await;
    assert_eq!(own.fields(), ["participantId"]);
    let ghost = app.gql_as(&alice, start, json!({ "p": uuid::Uuid::now_v7() })).await;
    assert_eq!(ghost.code(), "NOT_FOUND");
    let anonymous = app.gql(start, json!({ "p": bob.id })).await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn inbox_lists_previews_and_unread_counts_and_read_receipts_clear_them() {
    let app = TestApp::spawn().await;
    let (alice, bob, carol) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let with_bob = conversation(&app, &alice, &bob).await;
    let with_carol = conversation(&app, &alice, &carol).await;
    send(&app.base, &app.client, &bob, &with_bob, "from bob 1").await;
    send(&app.base, &app.client, &bob, &with_bob, "from bob 2").await;
    send(&app.base, &app.client, &carol, &with_carol, "from carol").await;

    let inbox = app.gql_as(&alice, CONVERSATIONS, json!({})).await;
    let inbox = &inbox.data()["conversations"];
    assert_eq!(inbox["totalCount"], 2);
    let edges = inbox["edges"].as_array().unwrap();
    assert_eq!(edges[0]["node"]["id"], with_carol.as_str(), "most recent first");
    assert_eq!(edges[0]["node"]["lastMessage"]["content"], "from carol");
    assert_eq!(edges[1]["node"]["unreadCount"], 2);
    assert_eq!(
        edges[1]["node"]["lastMessage"]["sender"]["username"],
        bob.username.as_str()
    );

    let page = app.gql_as(&alice, CONVERSATIONS, json!({ "first": 1 })).await;
    let page = &page.data()["conversations"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = app
        .gql_as(
            &alice,
            CONVERSATIONS,
            json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        next.data()["conversations"]["edges"][0]["node"]["id"],
        with_bob.as_str()
    );
    assert_eq!(next.data()["conversations"]["pageInfo"]["hasNextPage"], false);

    let read = app
        .gql_as(&alice, "mutation($c: ID!) { markConversationRead(conversationId: $c) { unreadCount participants { lastReadAt } } }", json!({ "c": with_bob }))
        .await;
    assert_eq!(read.data()["markConversationRead"]["unreadCount"], 0);
    // Bob sees Alice's read receipt.
    let seen = app
        .gql_as(
            &bob,
            "query($c: ID!) { conversation(id: $c) { participants { user { username } lastReadAt } } }",
            json!({ "c": with_bob }),
        )
        .await;
    let receipts = seen.data()["conversation"]["participants"].as_array().unwrap().clone();
    assert!(receipts
        .iter()
        .any(|p| p["user"]["username"] == alice.username.as_str() && p["lastReadAt"].is_string()));

    let outsider = app
        .gql_as(
            &carol,
            "query($c: ID!) { conversation(id: $c) { id } }",
            json!({ "c": with_bob }),
        )
        .await;
    assert_eq!(outsider.code(), "FORBIDDEN");
}

#[tokio::test]
async fn the_inbox_costs_a_bounded_number_of_statements_however_long() {
    let app = TestApp::spawn().await;
    let alice = app.with_user().await;
    let query = "{ conversations(first: 50) { edges { node { id unreadCount lastMessage { content sender { username } } participants { user { username } } } } } }";
    let mut costs = Vec::new();
    for round in 0..2 {
        let others = if round == 0 { 1 } else { 6 };
        for _ in 0..others {
            let other = app.with_user().await;
            let id = conversation(&app, &alice, &other).await;
            send(&app.base, &app.client, &other, &id, "hi").await;
        }
        // The counter is the pool's: a statement of another task of the server (finishing
        // the sends above) can land in one window, so the fewer of two identical requests.
        let mut cost = (0, u64::MAX);
        for _ in 0..2 {
            let before = app.statements();
            let response = app.gql_as(&alice, query, json!({})).await;
            let count = response.data()["conversations"]["edges"].as_array().unwrap().len();
            cost = (count, cost.1.min(app.statements() - before));
        }
        costs.push(cost);
    }
    assert_eq!(costs[0].0, 1);
    assert_eq!(costs[1].0, 7);
    // Viewer, page, last messages, unread counts, participants, and users (one or two
    // batches, depending on which nested resolver asks first): at most 7, whatever the length.
    assert!(
        costs.iter().all(|(_, statements)| *statements <= 7),
        "statements for 1 vs 7 conversations: {costs:?}"
    );
}

#[tokio::test]
async fn messages_page_backwards_and_replies_and_edits_follow_the_rules() {
    let app = TestApp::spawn().await;
    let (alice, bob, eve) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let id = conversation(&app, &alice, &bob).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(send(&app.base, &app.client, &alice, &id, &format!("message {i}")).await);
    }
    let page = "query($c: ID!, $before: String) { messages(conversationId: $c, first: 2, before: $before) { totalCount edges { node { content } } pageInfo { hasNextPage endCursor } } }";
    let first = app.gql_as(&bob, page, json!({ "c": id })).await;
    let first = &first.data()["messages"];
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["edges"][0]["node"]["content"], "message 4", "newest first");
    let older = app
        .gql_as(&bob, page, json!({ "c": id, "before": first["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(older.data()["messages"]["edges"][0]["node"]["content"], "message 2");
    assert_eq!(app.gql_as(&eve, page, json!({ "c": id })).await.code(), "FORBIDDEN");

    let reply = app
        .gql_as(
            &bob,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { replyTo { content } } }",
            json!({ "i": { "conversationId": id, "content": "re", "replyToId": sent[0]["id"] } }),
        )
        .await;
    assert_eq!(reply.data()["sendMessage"]["replyTo"]["content"], "message 0");

    let edit = "mutation($i: EditMessageInput!) { editMessage(input: $i) { content editedAt } }";
    let edited = app
        .gql_as(
            &alice,
            edit,
            json!({ "i": { "messageId": sent[1]["id"], "content": "fixed" } }),
        )
        .await;
    assert_eq!(edited.data()["editMessage"]["content"], "fixed");
    assert!(edited.data()["editMessage"]["editedAt"].is_string());
    let not_mine = app
        .gql_as(
            &bob,
            edit,
            json!({ "i": { "messageId": sent[1]["id"], "content": "hijack" } }),
        )
        .await;
    assert_eq!(not_mine.code(), "FORBIDDEN");
    let stranger = app
        .gql_as(
            &eve,
            edit,
            json!({ "i": { "messageId": sent[1]["id"], "content": "hijack" } }),
        )
        .await;
    assert_eq!(stranger.code(), "NOT_FOUND");

    let empty = app
        .gql_as(
            &alice,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }",
            json!({ "i": { "conversationId": id, "content": "  " } }),
        )
        .await;
    assert_eq!(empty.fields(), ["content"]);
    let long = app
        .gql_as(
            &alice,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }",
            json!({ "i": { "conversationId": id, "content": "x".repeat(5001) } }),
        )
        .await;
    assert_eq!(long.fields(), ["content"]);
}

#[tokio::test]
async fn contact_details_are_masked_and_the_original_is_kept_for_moderation() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.with_user().await, app.with_user().await);
    let id = conversation(&app, &alice, &bob).await;
    let sent = app
        .gql_as(
            &alice,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { content masked } }",
            json!({ "i": { "conversationId": id, "content": "WhatsApp me on +1 (555) 123-4567 or ada@example.com" } }),
        )
        .await;
    assert_eq!(
        sent.data()["sendMessage"]["content"],
        "[hidden] me on [hidden] or [hidden]"
    );
    assert_eq!(sent.data()["sendMessage"]["masked"], true);
    let kept = app
        .texts("SELECT original_body AS value FROM messages WHERE flagged")
        .await;
    assert_eq!(kept, ["WhatsApp me on +1 (555) 123-4567 or ada@example.com"]);
    let clean = send(
        &app.base,
        &app.client,
        &alice,
        &id,
        "The budget is $1500, delivery 2026-12-01",
    )
    .await;
    assert_eq!(clean["content"], "The budget is $1500, delivery 2026-12-01");
}

#[tokio::test]
async fn notifications_are_listed_counted_and_marked_read_by_their_owner_only() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.with_user().await, app.with_user().await);
    let id = conversation(&app, &alice, &bob).await;
    for text in ["one", "two", "three"] {
        send(&app.base, &app.client, &alice, &id, text).await;
    }
    let list = "query($u: Boolean) { notifications(unreadOnly: $u, first: 2) { totalCount edges { node { id kind body readAt } } pageInfo { hasNextPage } } unreadNotificationCount }";
    let listed = app.gql_as(&bob, list, json!({})).await;
    let data = listed.data();
    assert_eq!(data["unreadNotificationCount"], 3);
    assert_eq!(data["notifications"]["totalCount"], 3);
    assert_eq!(data["notifications"]["edges"][0]["node"]["body"], "three");
    assert_eq!(data["notifications"]["pageInfo"]["hasNextPage"], true);
    let first_id = data["notifications"]["edges"][0]["node"]["id"].clone();

    let theft = app
        .gql_as(
            &alice,
            "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(theft.code(), "NOT_FOUND");
    let read = app
        .gql_as(
            &bob,
            "mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }",
            json!({ "id": first_id }),
        )
        .await;
    assert!(read.data()["markNotificationRead"]["readAt"].is_string());
    let unread = app.gql_as(&bob, list, json!({ "u": true })).await;
    assert_eq!(unread.data()["notifications"]["totalCount"], 2);
    let all = app
        .gql_as(&bob, "mutation { markAllNotificationsRead }", json!({}))
        .await;
    assert_eq!(all.data()["markAllNotificationsRead"], 2);
    assert_eq!(
        app.gql_as(&bob, "{ unreadNotificationCount }", json!({})).await.data()["unreadNotificationCount"],
        0
    );
    assert_eq!(
        app.gql("{ unreadNotificationCount }", json!({})).await.code(),
        "UNAUTHORIZED"
    );
}

#[tokio::test]
async fn attachments_are_stored_sniffed_and_limited() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.with_user().await, app.with_user().await);
    let id = conversation(&app, &alice, &bob).await;
    let query = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { attachments { url fileName contentType sizeBytes } } }";
    let operations = json!({ "query": query, "variables": { "i": { "conversationId": id, "content": "see attached", "attachments": [null, null] } } });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text(
            "map",
            r#"{ "0": ["variables.i.attachments.0"], "1": ["variables.i.attachments.1"] }"#,
        )
        .part(
            "0",
            reqwest::multipart::Part::bytes(b"%PDF-1.7 brief".to_vec()).file_name("../brief.pdf"),
        )
        .part(
            "1",
            reqwest::multipart::Part::bytes(b"plain notes".to_vec()).file_name("notes.txt"),
        );
    let response = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&alice.token)
                .header("graphql-preflight", "1")
                .multipart(form),
        )
        .await;
    let files = response.data()["sendMessage"]["attachments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(files[0]["fileName"], "brief.pdf");
    assert_eq!(files[0]["contentType"], "application/pdf");
    assert_eq!(files[1]["contentType"], "text/plain");
    let served = app.client.get(files[0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"%PDF-1.7 brief");

    let exe = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": { "i": { "conversationId": id, "attachments": [null] } } })
                .to_string(),
        )
        .text("map", r#"{ "0": ["variables.i.attachments.0"] }"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(vec![0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]).file_name("run.exe"),
        );
    let refused = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&alice.token)
                .header("graphql-preflight", "1")
                .multipart(exe),
        )
        .await;
    assert_eq!(refused.fields(), ["attachments"]);
}

#[tokio::test]
async fn a_conversation_can_be_about_a_task_one_of_the_parties_posted() {
    let app = TestApp::spawn().await;
    let (client, freelancer, stranger) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let posted = app
        .gql_as(
            &client,
            "mutation($i: PostTaskInput!) { postTask(input: $i) { id } }",
            json!({ "i": { "task": { "title": "Write our product documentation", "description": "Documentation for our API, about forty pages with examples.",
                "category": "writing", "budgetType": "FIXED", "budgetMinCents": 50000, "budgetMaxCents": 90000,
                "duration": "ONE_TO_FOUR_WEEKS", "locationType": "REMOTE" } } }),
        )
        .await;
    let task_id = posted.data()["postTask"]["id"].as_str().unwrap().to_owned();
    let start =
        "mutation($p: ID!, $t: ID) { startConversation(participantId: $p, taskId: $t) { id task { id title } } }";
    let about = app
        .gql_as(&freelancer, start, json!({ "p": client.id, "t": task_id }))
        .await;
    assert_eq!(about.data()["startConversation"]["task"]["id"], task_id.as_str());
    let again = app
        .gql_as(&client, start, json!({ "p": freelancer.id, "t": task_id }))
        .await;
    assert_eq!(
        again.data()["startConversation"]["id"],
        about.data()["startConversation"]["id"]
    );
    let plain = app.gql_as(&client, start, json!({ "p": freelancer.id })).await;
    assert_ne!(
        plain.data()["startConversation"]["id"],
        about.data()["startConversation"]["id"],
        "one per pair and task"
    );
    let unrelated = app
        .gql_as(&stranger, start, json!({ "p": freelancer.id, "t": task_id }))
        .await;
    assert_eq!(unrelated.fields(), ["taskId"]);
}
