//! signUp, signIn, refreshSession, signOut, password reset and change, me; tokens and bans.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::common::{TestApp, JWT_SECRET, PASSWORD};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken expiresAt user { id username email } } }";
const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken refreshToken user { id email } } }";
const REFRESH: &str = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id username email } }";

#[tokio::test]
async fn sign_up_returns_a_session_that_authenticates() {
    let app = TestApp::spawn().await;
    let response = app
        .gql(SIGN_UP, json!({ "i": { "email": "Ada@Example.com", "password": PASSWORD, "username": "ada_l", "fullName": " Ada Lovelace " } }))
        .await;
    let payload = &response.data()["signUp"];
    assert_eq!(payload["user"]["username"], "ada_l");
    assert_eq!(
        payload["user"]["email"], "ada@example.com",
        "own email is visible, normalised"
    );
    let token = payload["accessToken"].as_str().unwrap();
    let me = app.gql_with(Some(token), ME, json!({})).await;
    assert_eq!(me.data()["me"]["id"], payload["user"]["id"]);
    assert_eq!(me.data()["me"]["email"], "ada@example.com");
    let hashes = app.texts("SELECT password_hash AS value FROM credentials").await;
    assert!(
        hashes[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "stored as argon2id: {}",
        hashes[0]
    );
}

#[tokio::test]
async fn me_is_null_when_anonymous() {
    let app = TestApp::spawn().await;
    assert_eq!(app.gql(ME, json!({})).await.data()["me"], json!(null));
}

#[tokio::test]
async fn sign_up_names_every_bad_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .gql(
            SIGN_UP,
            json!({ "i": { "email": "not-an-email", "password": "short", "username": "a b", "fullName": "  " } }),
        )
        .await;
    assert_eq!(response.code(), "VALIDATION_ERROR");
    let mut fields = response.fields();
    fields.sort();
    assert_eq!(fields, ["email", "fullName", "password", "username"]);
    assert!(app.texts("SELECT id::text AS value FROM users").await.is_empty());

    let long = "x".repeat(129);
    let response = app
        .gql(SIGN_UP, json!({ "i": { "email": "ok@example.com", "password": long, "username": "fine_name", "fullName": "Fine" } }))
        .await;
    assert_eq!(
        response.fields(),
        ["password"],
        "oversized passwords are refused, not truncated"
    );
}

#[tokio::test]
async fn duplicate_email_or_username_is_a_conflict_regardless_of_case() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let response = app
        .gql(SIGN_UP, json!({ "i": { "email": user.email.to_uppercase(), "password": PASSWORD, "username": "someone_else", "fullName": "X" } }))
        .await;
    assert_eq!(response.code(), "CONFLICT");
    assert!(response.errors()[0]["message"].as_str().unwrap().contains("email"));
    let response = app
        .gql(SIGN_UP, json!({ "i": { "email": "new@example.com", "password": PASSWORD, "username": user.username.to_uppercase(), "fullName": "X" } }))
        .await;
    assert_eq!(response.code(), "CONFLICT");
    assert!(response.errors()[0]["message"].as_str().unwrap().contains("username"));
    assert_eq!(
        app.texts("SELECT id::text AS value FROM users").await.len(),
        1,
        "nothing half-written"
    );
}

#[tokio::test]
async fn sign_in_sets_an_http_only_cookie_that_authenticates() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let response = app
        .gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
        .await;
    assert_eq!(response.data()["signIn"]["user"]["id"], user.id.as_str());
    let cookies = response.set_cookies();
    let access = cookies
        .iter()
        .find(|c| c.starts_with("gm_access="))
        .expect("access cookie");
    assert!(access.contains("HttpOnly") && access.contains("SameSite=Lax") && !access.contains("Secure"));
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("gm_refresh="))
        .expect("refresh cookie");
    assert!(refresh.contains("HttpOnly") && refresh.contains("Path=/graphql"));

    let cookie_pair = access.split(';').next().unwrap().to_owned();
    let me = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("cookie", cookie_pair)
                .json(&json!({ "query": ME })),
        )
        .await;
    assert_eq!(me.data()["me"]["id"], user.id.as_str());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let wrong = app
        .gql(
            SIGN_IN,
            json!({ "i": { "email": user.email, "password": "wrong password" } }),
        )
        .await;
    let unknown = app
        .gql(
            SIGN_IN,
            json!({ "i": { "email": "nobody@example.com", "password": "wrong password" } }),
        )
        .await;
    assert_eq!(wrong.code(), "UNAUTHORIZED");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    for _ in 0..5 {
        let response = app
            .gql(
                SIGN_IN,
                json!({ "i": { "email": user.email, "password": "nope nope nope" } }),
            )
            .await;
        assert_eq!(response.code(), "UNAUTHORIZED");
    }
    let response = app
        .gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
        .await;
    assert_eq!(response.code(), "RATE_LIMITED");
    assert!(
        response.errors()[0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Another account from the same address is not locked by this one's failures.
    let other = app.with_user().await;
    let response = app
        .gql(SIGN_IN, json!({ "i": { "email": other.email, "password": PASSWORD } }))
        .await;
    assert!(response.body.get("errors").is_none());
}

#[tokio::test]
async fn aliases_in_one_request_are_counted_one_by_one() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let aliases: String = (0..8)
        .map(|i| {
            format!(
                "a{i}: signIn(input: {{ email: \"{}\", password: \"guess-{i}-guess\" }}) {{ accessToken }} ",
                user.email
            )
        })
        .collect();
    let response = app.gql(&format!("mutation {{ {aliases} }}"), json!({})).await;
    let codes: Vec<&str> = response
        .errors()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["UNAUTHORIZED"; 5]
            .iter()
            .chain(["RATE_LIMITED"; 3].iter())
            .copied()
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let first = app.gql(REFRESH, json!({ "t": user.refresh_token })).await;
    let rotated = first.data()["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, user.refresh_token);
    let new_access = first.data()["refreshSession"]["accessToken"].as_str().unwrap();
    assert_eq!(
        app.gql_with(Some(new_access), ME, json!({})).await.data()["me"]["id"],
        user.id.as_str()
    );

    // The old token again: theft suspected, so the whole family goes.
    let reuse = app.gql(REFRESH, json!({ "t": user.refresh_token })).await;
    assert_eq!(reuse.code(), "UNAUTHORIZED");
    let after = app.gql(REFRESH, json!({ "t": rotated })).await;
    assert_eq!(after.code(), "UNAUTHORIZED", "the rotated token died with its family");

    let garbage = app.gql(REFRESH, json!({ "t": "not-a-token" })).await;
    assert_eq!(garbage.code(), "UNAUTHORIZED");
    let missing = app.gql(REFRESH, json!({})).await;
    assert_eq!(
        (missing.code(), missing.fields()),
        ("VALIDATION_ERROR", vec!["refreshToken".to_owned()])
    );
}

#[tokio::test]
async fn refresh_works_from_the_cookie() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let response = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("cookie", format!("gm_refresh={}", user.refresh_token))
                .json(&json!({ "query": "mutation { refreshSession { accessToken } }" })),
        )
        .await;
    assert!(response.data()["refreshSession"]["accessToken"].is_string());
}

#[tokio::test]
async fn sign_out_ends_the_session_and_everywhere_ends_all() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let second = app
        .gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
        .await;
    let second_refresh = second.data()["signIn"]["refreshToken"].as_str().unwrap().to_owned();

    let out = app
        .gql(
            "mutation($t: String) { signOut(refreshToken: $t) }",
            json!({ "t": user.refresh_token }),
        )
        .await;
    assert_eq!(out.data()["signOut"], true);
    assert!(out
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("gm_access=;") && c.contains("Max-Age=0")));
    assert_eq!(
        app.gql(REFRESH, json!({ "t": user.refresh_token })).await.code(),
        "UNAUTHORIZED"
    );
    assert!(
        app.gql(REFRESH, json!({ "t": second_refresh }))
            .await
            .body
            .get("errors")
            .is_none(),
        "other session lives"
    );

    let third = app
        .gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
        .await;
    let third_refresh = third.data()["signIn"]["refreshToken"].as_str().unwrap().to_owned();
    let everywhere = app
        .gql_as(&user, "mutation { signOut(everywhere: true) }", json!({}))
        .await;
    assert_eq!(everywhere.data()["signOut"], true);
    assert_eq!(
        app.gql(REFRESH, json!({ "t": third_refresh })).await.code(),
        "UNAUTHORIZED"
    );
    assert_eq!(
        app.gql("mutation { signOut(everywhere: true) }", json!({}))
            .await
            .code(),
        "UNAUTHORIZED"
    );
}

fn reset_token_from_mail(body: &str) -> String {
    body.split("resetPassword mutation: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn password_reset_mails_a_single_use_code_and_signs_out_everywhere() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    assert_eq!(
        app.gql(request, json!({ "e": "nobody@example.com" })).await.data()["requestPasswordReset"],
        true
    );
    assert!(
        app.texts("SELECT recipient AS value FROM mail_outbox").await.is_empty(),
        "no mail for unknown emails"
    );

    assert_eq!(
        app.gql(request, json!({ "e": user.email.to_uppercase() })).await.data()["requestPasswordReset"],
        true
    );
    let mails = app.texts("SELECT body_text AS value FROM mail_outbox").await;
    assert_eq!(mails.len(), 1);
    let token = reset_token_from_mail(&mails[0]);

    let reset = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) }";
    let weak = app
        .gql(reset, json!({ "i": { "token": token, "newPassword": "short" } }))
        .await;
    assert_eq!(weak.fields(), ["newPassword"]);
    let done = app
        .gql(
            reset,
            json!({ "i": { "token": token, "newPassword": "a brand new password" } }),
        )
        .await;
    assert_eq!(done.data()["resetPassword"], true);
    let again = app
        .gql(
            reset,
            json!({ "i": { "token": token, "newPassword": "another new password" } }),
        )
        .await;
    assert_eq!(
        (again.code(), again.fields()),
        ("VALIDATION_ERROR", vec!["token".to_owned()])
    );

    assert_eq!(
        app.gql(REFRESH, json!({ "t": user.refresh_token })).await.code(),
        "UNAUTHORIZED"
    );
    assert_eq!(
        app.gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
            .await
            .code(),
        "UNAUTHORIZED"
    );
    let signed_in = app
        .gql(
            SIGN_IN,
            json!({ "i": { "email": user.email, "password": "a brand new password" } }),
        )
        .await;
    assert!(signed_in.data()["signIn"]["accessToken"].is_string());
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_rotates_sessions() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { accessToken refreshToken } }";
    let wrong = app
        .gql_as(
            &user,
            change,
            json!({ "i": { "currentPassword": "not it at all", "newPassword": "fresh password 1" } }),
        )
        .await;
    assert_eq!(
        (wrong.code(), wrong.fields()),
        ("VALIDATION_ERROR", vec!["currentPassword".to_owned()])
    );
    let anonymous = app
        .gql(
            change,
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "fresh password 1" } }),
        )
        .await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");

    let ok = app
        .gql_as(
            &user,
            change,
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "fresh password 1" } }),
        )
        .await;
    assert!(ok.data()["changePassword"]["refreshToken"].is_string());
    assert_eq!(
        app.gql(REFRESH, json!({ "t": user.refresh_token })).await.code(),
        "UNAUTHORIZED"
    );
    let new_sign_in = app
        .gql(
            SIGN_IN,
            json!({ "i": { "email": user.email, "password": "fresh password 1" } }),
        )
        .await;
    assert!(new_sign_in.body.get("errors").is_none());
}

fn sign(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(sub: &str, iat: i64, exp: i64) -> serde_json::Value {
    json!({ "sub": sub, "email": "x@example.com", "role": "user", "is_admin": false, "iat": iat, "nbf": iat,
            "exp": exp, "iss": "gigmarket", "aud": "gigmarket-api", "jti": uuid::Uuid::new_v4() })
}

#[tokio::test]
async fn expired_tampered_foreign_and_alg_none_tokens_are_unauthorized() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let now = chrono::Utc::now().timestamp();

    let expired = sign(claims(&user.id, now - 3600, now - 1800), JWT_SECRET);
    let response = app.gql_with(Some(&expired), ME, json!({})).await;
    assert_eq!(response.code(), "UNAUTHORIZED");
    assert!(response.errors()[0]["message"].as_str().unwrap().contains("expired"));

    let foreign = sign(claims(&user.id, now, now + 600), "some-other-secret-some-other-secret");
    assert_eq!(app.gql_with(Some(&foreign), ME, json!({})).await.code(), "UNAUTHORIZED");

    let mut wrong_audience = claims(&user.id, now, now + 600);
    wrong_audience["aud"] = json!("another-api");
    assert_eq!(
        app.gql_with(Some(&sign(wrong_audience, JWT_SECRET)), ME, json!({}))
            .await
            .code(),
        "UNAUTHORIZED"
    );

    let parts: Vec<&str> = user.token.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["is_admin"] = json!(true);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(
        app.gql_with(Some(&tampered), ME, json!({})).await.code(),
        "UNAUTHORIZED"
    );

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        app.gql_with(Some(&alg_none), ME, json!({})).await.code(),
        "UNAUTHORIZED"
    );

    // A refused token does not block public operations such as signing in again.
    let sign_in = app
        .gql_with(
            Some(&expired),
            SIGN_IN,
            json!({ "i": { "email": user.email, "password": PASSWORD } }),
        )
        .await;
    assert!(sign_in.data()["signIn"]["accessToken"].is_string());
}

#[tokio::test]
async fn a_banned_user_is_refused_on_every_request_at_once() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    app.sql(&format!(
        "UPDATE users SET banned_at = now(), ban_reason = 'spam' WHERE id = '{}'",
        user.id
    ))
    .await;

    let me = app.gql_as(&user, ME, json!({})).await;
    assert_eq!((me.status.as_u16(), me.code()), (403, "FORBIDDEN"));
    let public = app
        .gql_as(&user, "{ userByUsername(username: \"nobody\") { id } }", json!({}))
        .await;
    assert_eq!(
        public.code(),
        "FORBIDDEN",
        "even public queries, whatever token they hold"
    );
    assert_eq!(
        app.gql(REFRESH, json!({ "t": user.refresh_token })).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(SIGN_IN, json!({ "i": { "email": user.email, "password": PASSWORD } }))
            .await
            .code(),
        "FORBIDDEN"
    );
    // Others no longer see the banned profile.
    let lookup = app
        .gql(
            "query($u: String!) { userByUsername(username: $u) { id } }",
            json!({ "u": user.username }),
        )
        .await;
    assert_eq!(lookup.data()["userByUsername"], json!(null));
}

#[tokio::test]
async fn the_purges_delete_spent_rows_and_keep_what_still_protects() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    app.gql(REFRESH, json!({ "t": user.refresh_token })).await.data();
    app.sql(&format!(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES \
         (gen_random_uuid(), '{0}', gen_random_uuid(), 'expired', now() - interval '1 hour'); \
         INSERT INTO sign_in_failures (scope, subject, created_at) VALUES ('account', 'old', now() - interval '2 days'); \
         INSERT INTO mail_outbox (id, recipient, subject, body_text, sent_at, created_at) VALUES \
         (gen_random_uuid(), 'a@b.co', 's', 'b', now() - interval '40 days', now() - interval '40 days')",
        user.id
    ))
    .await;
    let report = gigmarket::scheduler::run_all(&app.state).await;
    let deleted = |job: &str| match report.outcome(job) {
        Some(gigmarket::scheduler::Outcome::Done(counts)) => counts.get("deleted"),
        other => panic!("{job}: {other:?}"),
    };
    assert_eq!(deleted("purgeRefreshTokens"), Some(1), "the expired token only");
    assert_eq!(deleted("purgeSignInFailures"), Some(1));
    assert_eq!(deleted("purgeSentMail"), Some(1));
    assert_eq!(deleted("purgeResetTokens"), Some(0));
    // The used token stays until it expires, so replaying it still revokes the family.
    assert_eq!(
        app.gql(REFRESH, json!({ "t": user.refresh_token })).await.code(),
        "UNAUTHORIZED"
    );
    assert!(
        app.texts("SELECT id::text AS value FROM refresh_tokens WHERE revoked_at IS NOT NULL")
            .await
            .len()
            >= 2
    );
}
