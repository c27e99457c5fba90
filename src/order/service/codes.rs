//! Start and end codes of on-site orders, as the transitions use them: the client is issued
//! a code, the freelancer enters it with `startWork` or `approveWork`. Hashing and expiry are
//! [`crate::order::codes`]; this file stores, checks and spends them.

use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::visible;
use crate::{
    error::{AppError, AppResult},
    order::{
        codes,
        machine::{Guard, Rule},
        model::{self, OrderCodePurpose, OrderRow, OrderStatus},
    },
    profile::model::UserRow,
    state::AppState,
};

/// Issues a fresh start or end code of an on-site order to its client; returns the code
/// (shown once) and when it expires.
pub async fn issue_code(
    app: &AppState,
    client: &UserRow,
    order_id: Uuid,
    purpose: OrderCodePurpose,
) -> AppResult<(String, chrono::DateTime<Utc>)> {
    let order = visible(app, client, order_id).await?;
    if order.client_id != client.id {
        return Err(AppError::Forbidden("Only the client holds the order's codes.".into()));
    }
    if !order.on_site {
        return Err(AppError::Conflict(
            "Only on-site orders use start and end codes.".into(),
        ));
    }
    let due = match purpose {
        OrderCodePurpose::Start => order.status == OrderStatus::PaymentConfirmed,
        OrderCodePurpose::End => matches!(
            order.status,
            OrderStatus::InProgress | OrderStatus::Submitted | OrderStatus::RevisionRequested
        ),
    };
    if !due {
        return Err(AppError::Conflict(format!(
            "A {} code is not needed while the order is {}.",
            purpose.as_str().to_lowercase(),
            order.status
        )));
    }
    let key = codes::key(&app.config.jwt_secret);
    let (code, hash) = codes::generate(&key, order.id, purpose);
    let now = Utc::now();
    let expires_at = codes::expiry(now);
    let mut conn = app.db.conn().await?;
    model::put_code(
        &mut conn,
        &model::CodeRow {
            order_id: order.id,
            purpose,
            code_hash: hash,
            expires_at,
            attempts: 0,
            used_at: None,
            created_at: now,
        },
    )
    .await?;
    Ok((code, expires_at))
}

/// The code a transition by someone `acting_as_client` (or not) must spend, if its rule's
/// guard asks for one: the start code on on-site orders, and the end code when the
/// freelancer completes an on-site order (on other orders only the client approves).
pub(super) fn code_to_spend(
    rule: &Rule,
    order: &OrderRow,
    acting_as_client: bool,
) -> AppResult<Option<OrderCodePurpose>> {
    Ok(match rule.guard {
        Guard::StartCode if order.on_site => Some(OrderCodePurpose::Start),
        Guard::EndCode if !acting_as_client => {
            if !order.on_site {
                return Err(AppError::Forbidden("Only the client approves the work.".into()));
            }
            Some(OrderCodePurpose::End)
        }
        _ => None,
    })
}

/// Checks a start or end code in a transaction of its own, so that a wrong attempt is
/// counted even though the action is refused. The code is spent by the action's transaction.
pub(super) async fn check_code(
    app: &AppState,
    order_id: Uuid,
    purpose: OrderCodePurpose,
    code: Option<&str>,
) -> AppResult<()> {
    let field = "code";
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::field(field, "is required: ask the client for the code"))?;
    let key = codes::key(&app.config.jwt_secret);
    let mut conn = app.db.conn().await?;
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(stored) = model::lock_code(conn, order_id, purpose).await? else {
                return Ok(Err("no code has been issued; ask the client for one"));
            };
            if stored.used_at.is_some() {
                return Ok(Err("has been used; ask the client for a new one"));
            }
            if stored.expires_at <= Utc::now() {
                return Ok(Err("has expired; ask the client for a new one"));
            }
            if stored.attempts >= codes::MAX_ATTEMPTS {
                return Ok(Err("was entered wrongly too often; ask the client for a new one"));
            }
            if codes::matches(&key, order_id, purpose, code, &stored.code_hash) {
                Ok(Ok(()))
            } else {
                model::count_attempt(conn, order_id, purpose).await?;
                Ok(Err("is wrong"))
            }
        })
        .await?;
    outcome.map_err(|message| AppError::field(field, message))
}

/// Spends a code `check_code` accepted moments ago, inside the transition's transaction.
pub(super) async fn spend(
    conn: &mut diesel_async::AsyncPgConnection,
    order_id: Uuid,
    purpose: OrderCodePurpose,
) -> AppResult<()> {
    if !model::spend_code(conn, order_id, purpose).await? {
        return Err(AppError::field("code", "has been used; ask the client for a new one"));
    }
    Ok(())
}
