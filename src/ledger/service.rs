//! Money movements. Each function writes one balanced ledger transaction in the caller's
//! database transaction, keyed so that running it twice moves money once.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{self, AccountKind, EntryLine, NewEntry, TransactionKind, TransactionRow};
use crate::{
    db::{
        page::{Page, PageRequest},
        Db,
    },
    error::{AppError, AppResult},
};

/// Where money sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// What a user can withdraw.
    Available(Uuid),
    /// A user's released earnings that have not cleared yet.
    Pending(Uuid),
    /// Orders' money held by the platform between funding and settlement.
    Escrow,
    /// The platform's fees.
    Fees,
    /// Outside the platform: payers' and payees' banks and cards.
    External,
}

impl Account {
    fn key(self) -> (Option<Uuid>, AccountKind) {
        match self {
            Account::Available(user) => (Some(user), AccountKind::UserAvailable),
            Account::Pending(user) => (Some(user), AccountKind::UserPending),
            Account::Escrow => (None, AccountKind::PlatformEscrow),
            Account::Fees => (None, AccountKind::PlatformFees),
            Account::External => (None, AccountKind::External),
        }
    }
}

/// One money movement.
pub struct Movement<'a> {
    pub kind: TransactionKind,
    /// Unique forever: the same key never moves money twice.
    pub key: String,
    pub order_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub memo: String,
    pub currency: &'a str,
    pub legs: Vec<(Account, i64)>,
}

/// Writes `movement`; false when its key was already used (nothing written).
pub async fn post(conn: &mut AsyncPgConnection, movement: Movement<'_>) -> AppResult<bool> {
    let legs: Vec<(Account, i64)> = movement.legs.into_iter().filter(|(_, amount)| *amount != 0).collect();
    let sum: i128 = legs.iter().map(|(_, amount)| i128::from(*amount)).sum();
    if legs.len() < 2 || sum != 0 {
        return Err(AppError::internal(anyhow::anyhow!(
            "unbalanced ledger movement {} (sum {sum}, {} legs)",
            movement.key,
            legs.len()
        )));
    }
    let transaction = TransactionRow {
        id: Uuid::now_v7(),
        kind: movement.kind,
        idempotency_key: movement.key,
        order_id: movement.order_id,
        actor_id: movement.actor_id,
        memo: movement.memo,
        created_at: Utc::now(),
    };
    if !model::insert_transaction(conn, &transaction).await? {
        return Ok(false);
    }
    let mut entries = Vec::with_capacity(legs.len());
    for (account, amount) in legs {
        let (owner, kind) = account.key();
        entries.push(NewEntry {
            transaction_id: transaction.id,
            account_id: model::account_id(conn, owner, kind, movement.currency).await?,
            amount_cents: amount,
        });
    }
    // Balances are updated row by row as entries go in; taking account rows in one global
    // order keeps concurrent movements from deadlocking on them.
    entries.sort_by_key(|e| e.account_id);
    model::insert_entries(conn, &entries).await?;
    Ok(true)
}

/// The platform fee on `amount_cents` at `bps` basis points, rounded half up.
pub fn fee_cents(amount_cents: i64, bps: i32) -> i64 {
    bps_of(amount_cents, bps)
}

/// `bps` basis points (0 to 10,000) of `amount_cents`, rounded half up.
pub fn bps_of(amount_cents: i64, bps: i32) -> i64 {
    let part = (i128::from(amount_cents) * i128::from(bps.clamp(0, 10_000)) + 5_000) / 10_000;
    // bps is at most 10,000, so the part never exceeds the amount.
    part as i64
}

/// An order's money, as the ledger needs it.
pub struct OrderMoney {
    pub order_id: Uuid,
    pub client_id: Uuid,
    pub freelancer_id: Uuid,
    pub amount_cents: i64,
    pub fee_bps: i32,
    /// The payment stage a funding or refund moves (`deposit`, `balance`): each stage moves
    /// money once under its own key. `None`: the order's one payment.
    pub part: Option<&'static str>,
}

/// What one step of an order's money records and which accounts it moves (the legs sum to
/// zero); `None` for a kind that is not a step of an order.
fn order_legs(kind: TransactionKind, order: &OrderMoney) -> Option<(String, Vec<(Account, i64)>)> {
    let amount = order.amount_cents;
    let fee = fee_cents(amount, order.fee_bps);
    Some(match kind {
        TransactionKind::Fund => (
            "Payment received into escrow".into(),
            vec![(Account::External, -amount), (Account::Escrow, amount)],
        ),
        TransactionKind::Release => (
            format!("Escrow released ({} bps fee)", order.fee_bps),
            vec![
                (Account::Escrow, -amount),
                (Account::Pending(order.freelancer_id), amount - fee),
                (Account::Fees, fee),
            ],
        ),
        TransactionKind::Refund => (
            "Escrow refunded".into(),
            vec![
                (Account::Escrow, -amount),
                (Account::Available(order.client_id), amount),
            ],
        ),
        TransactionKind::Clear => (
            "Earnings cleared".into(),
            vec![
                (Account::Pending(order.freelancer_id), fee - amount),
                (Account::Available(order.freelancer_id), amount - fee),
            ],
        ),
        TransactionKind::Chargeback => (
            "Card dispute: escrow withdrawn by the card issuer".into(),
            vec![(Account::Escrow, -amount), (Account::External, amount)],
        ),
        TransactionKind::Payout | TransactionKind::Reversal => return None,
    })
}

/// Posts one step of an order's money, keyed `order:{id}:{kind}` so that each step moves
/// money once.
async fn order_step(
    conn: &mut AsyncPgConnection,
    kind: TransactionKind,
    order: &OrderMoney,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    let (memo, legs) = order_legs(kind, order)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("{kind} is not a step of an order")))?;
    let memo = match order.part {
        Some(part) => format!("{memo} ({part})"),
        None => memo,
    };
    let movement = Movement {
        kind,
        key: order_key(order, kind),
        order_id: Some(order.order_id),
        actor_id: actor,
        memo,
        currency,
        legs,
    };
    post(conn, movement).await
}

/// The key of an order's step of `kind` (of one payment stage: `order:{id}:fund:deposit`).
fn order_key(order: &OrderMoney, kind: TransactionKind) -> String {
    let key = format!("order:{}:{}", order.order_id, kind.as_str().to_ascii_lowercase());
    match order.part {
        Some(part) => format!("{key}:{part}"),
        None => key,
    }
}

/// The client's payment enters escrow.
pub async fn fund(
    conn: &mut AsyncPgConnection,
    order: &OrderMoney,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    order_step(conn, TransactionKind::Fund, order, currency, actor).await
}

/// Escrow goes to the freelancer's pending balance, less the platform fee.
pub async fn release(
    conn: &mut AsyncPgConnection,
    order: &OrderMoney,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    order_step(conn, TransactionKind::Release, order, currency, actor).await
}

/// One approved week of an hourly order (`timesheet_id`): its price (`order.amount_cents`)
/// leaves escrow for the freelancer's available balance, less the fee at the rate fixed on
/// the order. The client's approval (or the lapse of the review window) is the week's
/// dispute window, so it does not wait in pending. Keyed by the week: once per week.
pub async fn bill_week(
    conn: &mut AsyncPgConnection,
    order: &OrderMoney,
    timesheet_id: Uuid,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    let amount = order.amount_cents;
    let fee = fee_cents(amount, order.fee_bps);
    let movement = Movement {
        kind: TransactionKind::Release,
        key: format!("timesheet:{timesheet_id}:release"),
        order_id: Some(order.order_id),
        actor_id: actor,
        memo: format!("Timesheet billed ({} bps fee)", order.fee_bps),
        currency,
        legs: vec![
            (Account::Escrow, -amount),
            (Account::Available(order.freelancer_id), amount - fee),
            (Account::Fees, fee),
        ],
    };
    post(conn, movement).await
}

/// Escrow goes back to the client's available balance.
pub async fn refund(
    conn: &mut AsyncPgConnection,
    order: &OrderMoney,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    order_step(conn, TransactionKind::Refund, order, currency, actor).await
}

/// Escrow paid by card goes back to the card (the refund itself is a provider call, or
/// Stripe already made it): out of the platform, not to the client's balance. Shares the
/// refund step's key, so an order is refunded once whichever way.
pub async fn refund_to_card(
    conn: &mut AsyncPgConnection,
    order: &OrderMoney,
    currency: &str,
    actor: Option<Uuid>,
) -> AppResult<bool> {
    let movement = Movement {
        kind: TransactionKind::Refund,
        key: order_key(order, TransactionKind::Refund),
        order_id: Some(order.order_id),
        actor_id: actor,
        memo: match order.part {
            Some(part) => format!("Escrow refunded to the card ({part})"),
            None => "Escrow refunded to the card".into(),
        },
        currency,
        legs: vec![
            (Account::Escrow, -order.amount_cents),
            (Account::External, order.amount_cents),
        ],
    };
    post(conn, movement).await
}

/// A payment Stripe took for an order that could not take it (paid after it was called off,
/// paid twice, or the wrong amount) passes through escrow and straight back out to the card
/// it came from (the refund is a provider call), keyed by the payment: once per payment.
/// Answers false when that payment was already returned.
pub async fn return_payment(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    payment: &str,
    amount_cents: i64,
    currency: &str,
) -> AppResult<bool> {
    let leg = |kind: TransactionKind, memo: &str, sign: i64| Movement {
        kind,
        key: format!("payment:{payment}:{}", kind.as_str().to_ascii_lowercase()),
        order_id: Some(order_id),
        actor_id: None,
        memo: memo.into(),
        currency,
        legs: vec![
            (Account::External, -sign * amount_cents),
            (Account::Escrow, sign * amount_cents),
        ],
    };
    if !post(
        conn,
        leg(
            TransactionKind::Fund,
            "Payment received for an order that does not take it",
            1,
        ),
    )
    .await?
    {
        return Ok(false);
    }
    post(conn, leg(TransactionKind::Refund, "Payment returned to the card", -1)).await
}

/// A completed order's earnings move from pending to available.
pub async fn clear(conn: &mut AsyncPgConnection, order: &OrderMoney, currency: &str) -> AppResult<bool> {
    order_step(conn, TransactionKind::Clear, order, currency, None).await
}

/// Money a payment-provider call (`call_id`) moves between a user's available balance and
/// the outside world.
pub struct CallMoney<'a> {
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub order_id: Option<Uuid>,
}

/// Earnings leave a user's available balance for their connected account, as the transfer
/// `call_id` (once per call, whatever the retries).
pub async fn payout(conn: &mut AsyncPgConnection, call: &CallMoney<'_>) -> AppResult<bool> {
    call_step(conn, TransactionKind::Payout, call).await
}

/// A provider call Stripe finally refused (a transfer, a card refund) puts its amount back in
/// the user's available balance, once per call.
pub async fn reverse_call(conn: &mut AsyncPgConnection, call: &CallMoney<'_>) -> AppResult<bool> {
    call_step(conn, TransactionKind::Reversal, call).await
}

async fn call_step(conn: &mut AsyncPgConnection, kind: TransactionKind, call: &CallMoney<'_>) -> AppResult<bool> {
    let (memo, to_user) = match kind {
        TransactionKind::Payout => ("Transfer to your Stripe account", -call.amount_cents),
        _ => (
            "Stripe did not complete the payment: amount returned to your balance",
            call.amount_cents,
        ),
    };
    let movement = Movement {
        kind,
        key: format!("call:{}:{}", call.call_id, kind.as_str().to_ascii_lowercase()),
        order_id: call.order_id,
        actor_id: None,
        memo: memo.into(),
        currency: call.currency,
        legs: vec![
            (Account::Available(call.user_id), to_user),
            (Account::External, -to_user),
        ],
    };
    post(conn, movement).await
}

/// A card dispute takes the order's escrow back out of the platform.
pub async fn chargeback(conn: &mut AsyncPgConnection, order: &OrderMoney, currency: &str) -> AppResult<bool> {
    order_step(conn, TransactionKind::Chargeback, order, currency, None).await
}

/// A user's available balances above zero, per currency, read in the caller's transaction
/// (for paying them out).
pub async fn available_balances(conn: &mut AsyncPgConnection, user_id: Uuid) -> AppResult<Vec<(String, i64)>> {
    Ok(model::accounts_of(conn, user_id)
        .await?
        .into_iter()
        .filter(|a| a.kind == AccountKind::UserAvailable && a.balance_cents > 0)
        .map(|a| (a.currency, a.balance_cents))
        .collect())
}

/// A user's balances per currency: (currency, available, pending).
pub async fn balances(db: &Db, user_id: Uuid) -> AppResult<Vec<(String, i64, i64)>> {
    let mut conn = db.conn().await?;
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for account in model::accounts_of(&mut conn, user_id).await? {
        let index = match out.iter().position(|(c, _, _)| *c == account.currency) {
            Some(i) => i,
            None => {
                out.push((account.currency.clone(), 0, 0));
                out.len() - 1
            }
        };
        match account.kind {
            AccountKind::UserAvailable => out[index].1 = account.balance_cents,
            _ => out[index].2 = account.balance_cents,
        }
    }
    Ok(out)
}

/// A page of the movements on a user's balances, newest first.
pub async fn entries(db: &Db, user_id: Uuid, request: &PageRequest<i64>) -> AppResult<Page<EntryLine>> {
    let mut conn = db.conn().await?;
    Ok(model::entries_page(&mut conn, user_id, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_step_balances() {
        let order = OrderMoney {
            order_id: Uuid::nil(),
            client_id: Uuid::now_v7(),
            freelancer_id: Uuid::now_v7(),
            amount_cents: 12_345,
            fee_bps: 800,
            part: None,
        };
        for kind in TransactionKind::ALL {
            let Some((_, legs)) = order_legs(*kind, &order) else {
                assert!(matches!(kind, TransactionKind::Payout | TransactionKind::Reversal));
                continue;
            };
            assert_eq!(legs.iter().map(|(_, amount)| amount).sum::<i64>(), 0, "{kind}");
        }
        let (_, clear) = order_legs(TransactionKind::Clear, &order).unwrap();
        assert_eq!(clear[1].1, 12_345 - 988);
    }

    #[test]
    fn fees_round_half_up_in_integers() {
        assert_eq!(fee_cents(10_000, 800), 800);
        assert_eq!(fee_cents(12_345, 800), 988); // 987.6
        assert_eq!(fee_cents(1, 5_000), 1); // 0.5 rounds up
        assert_eq!(fee_cents(1, 4_999), 0);
        assert_eq!(fee_cents(999, 0), 0);
        assert_eq!(fee_cents(999, 10_000), 999);
        assert_eq!(fee_cents(i64::MAX, 10_000), i64::MAX);
    }
}
