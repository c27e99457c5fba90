//! The money step of a transition: what the rule's [`Money`] does with the order's escrow,
//! written through the ledger inside the transition's transaction, with the order row's
//! money fields (`fee_bps`, `deposit_paid_at`, `funded_at`, `settled_at`) kept in step.
//!
//! Funding moves the payment due into escrow: the whole amount, or — a booking whose gig
//! asks a deposit — the deposit (DEPOSIT_PAID) and later the balance (PAYMENT_CONFIRMED),
//! each one ledger transaction under its own key and one `order_payments` row naming the
//! Stripe payment intent that paid it (none for a manual payment). The fee rate is fixed
//! with the first payment; release and refunds use everything held (deposit + balance).
//!
//! Refunds go back payment by payment, the latest first: a payment made through Stripe goes
//! back to its card (the ledger moves it out of the platform and a REFUND provider call is
//! queued in the same transaction, one per payment intent, `payment::outbox`), a manual one
//! to the client's balance. A dispute split is both: the freelancer's share is released
//! (less the fee on it, `orders.released_cents` records it for clearing) and the rest
//! refunded that way. A refund Stripe made on its own (the dashboard) or a card dispute takes
//! back the one payment it names — the ledger follows, nothing is asked of Stripe — and
//! whatever else the order held goes back to the client as a refund does. Funding itself is
//! a Checkout Session or a confirmed proof (`checkout`, reported by the webhook); the
//! transfer on release is queued when earnings clear (`earnings`).
//!
//! An hourly order's escrow is the retainer less the weeks already billed
//! ([`OrderRow::escrow_cents`]; the timesheet domain bills them). Ending an hourly contract
//! (approving the work, an admin's override) gives what is left back to the client: the
//! freelancer was paid week by week. An admin's ruling on a dispute divides what is left as
//! it would a fixed order's escrow.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    ledger::{
        policy,
        service::{self as ledger, OrderMoney},
    },
    order::{
        machine::Money,
        model::{self, OrderBilling, OrderRow, PaymentRow, PaymentStage, Transition},
    },
    payment::{calls::CallKind, outbox},
    profile::model as profiles,
    state::AppState,
};

/// An order's money, as the ledger needs it: what its escrow holds (everything its payments
/// put in, less an hourly order's billed weeks).
pub(super) fn money_of(order: &OrderRow) -> OrderMoney {
    OrderMoney {
        order_id: order.id,
        client_id: order.client_id,
        freelancer_id: order.freelancer_id,
        amount_cents: order.escrow_cents(),
        fee_bps: order.fee_bps.unwrap_or_default(),
        part: None,
    }
}

/// What the order released to the freelancer's side, as the ledger needs it for clearing:
/// everything held, or a dispute split's share; for an hourly order only what a ruling
/// released (its billed weeks never pass through pending).
pub(super) fn released_money(order: &OrderRow) -> OrderMoney {
    let money = money_of(order);
    let unreleased = match order.billing() {
        OrderBilling::Fixed => money.amount_cents,
        OrderBilling::Hourly => 0,
    };
    OrderMoney {
        amount_cents: order.released_cents.unwrap_or(unreleased),
        ..money
    }
}

/// One payment stage's share of the order's money.
fn stage_money(order: &OrderRow, stage: PaymentStage, amount_cents: i64) -> OrderMoney {
    OrderMoney {
        amount_cents,
        part: stage.key_part(),
        ..money_of(order)
    }
}

/// Whose money moves, on whose action, and when.
pub(super) struct Mover<'a> {
    /// The order as it was before the transition.
    pub order: &'a OrderRow,
    /// The user taking the action (`None`: the payment provider).
    pub actor: Option<Uuid>,
    /// The transition's time.
    pub now: DateTime<Utc>,
    /// A dispute split's share for the freelancer, in basis points.
    pub split_bps: Option<i32>,
    /// The Stripe payment the provider reports about: the one that pays (funding), or the one
    /// refunded or disputed; `None` for users' actions.
    pub payment_intent: Option<&'a str>,
    /// Whether an admin is ruling on a dispute (which decides where an hourly order's
    /// unbilled escrow goes; anything else that releases it ends the contract and returns it
    /// to the client).
    pub ruling: bool,
}

impl Mover<'_> {
    /// Whether the order's escrow is held (a payment entered it and it is not yet settled).
    fn held(&self) -> bool {
        self.order.paid_cents() > 0 && self.order.settled_at.is_none()
    }
}

/// What `movement` gives each side out of the mover's escrow: (client, freelancer before the
/// fee). Nothing when no escrow is held; a split must leave each side at least a cent
/// (`VALIDATION_ERROR` on `splitBps` otherwise).
pub(super) fn shares(mover: &Mover<'_>, movement: Money) -> AppResult<(i64, i64)> {
    let amount = mover.order.escrow_cents();
    if !mover.held() {
        return Ok((0, 0));
    }
    let hourly = mover.order.billing() == OrderBilling::Hourly;
    Ok(match movement {
        Money::Release if hourly && !mover.ruling => (amount, 0),
        Money::Release => (0, amount),
        Money::Refund | Money::Refunded => (amount, 0),
        Money::Split => {
            let bps = mover
                .split_bps
                .ok_or_else(|| AppError::field("splitBps", "is required to split"))?;
            let freelancer = ledger::bps_of(amount, bps);
            if freelancer <= 0 || freelancer >= amount {
                return Err(AppError::field(
                    "splitBps",
                    format!(
                        "leaves one side nothing of {amount} cents: resolve for the client or the freelancer instead"
                    ),
                ));
            }
            (amount - freelancer, freelancer)
        }
        Money::None | Money::Fund | Money::Chargeback => (0, 0),
    })
}

/// Money: moves what the transition's rule names (`movement`) for the mover's order.
/// Release and refund only move escrow that is held; an order settled unfunded moves
/// nothing.
pub(super) async fn money(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    match movement {
        Money::Fund => fund(conn, app, mover, change).await,
        Money::Release | Money::Refund | Money::Refunded | Money::Chargeback | Money::Split if mover.held() => {
            settle(conn, movement, mover, change).await
        }
        Money::None | Money::Release | Money::Refund | Money::Refunded | Money::Chargeback | Money::Split => Ok(()),
    }
}

/// The payment due enters escrow (the whole amount, a deposit or a balance) and is recorded
/// with the payment intent that paid it; the first payment fixes the fee rate the policy
/// gives the freelancer now.
async fn fund(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now, .. } = *mover;
    let (stage, amount_cents) = order
        .payment_due()
        .ok_or_else(|| AppError::Conflict("This order is paid already.".into()))?;
    let fee_bps = match (stage, order.fee_bps) {
        (PaymentStage::Balance, Some(bps)) => bps,
        _ => {
            let freelancer = profiles::find(conn, order.freelancer_id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("order without freelancer")))?;
            policy::commission_bps(
                app.config.verification_commission,
                freelancer.verification_status,
                freelancer.commission_bps,
            )
        }
    };
    let money = OrderMoney {
        fee_bps,
        ..stage_money(order, stage, amount_cents)
    };
    ledger::fund(conn, &money, &order.currency, actor).await?;
    let payment = PaymentRow {
        order_id: order.id,
        stage,
        amount_cents,
        stripe_payment_intent_id: mover.payment_intent.map(str::to_owned),
        paid_at: now,
    };
    model::insert_payment(conn, &payment).await?;
    change.fee_bps = Some(fee_bps);
    match stage {
        PaymentStage::Deposit => change.deposit_paid_at = Some(now),
        PaymentStage::Full | PaymentStage::Balance => change.funded_at = Some(now),
    }
    Ok(())
}

/// The idempotency key of the card refund an order's cancellation asks for (of its one
/// payment; a two-stage order's payments append their stage, `…:deposit`, `…:balance`).
pub fn refund_key(order_id: Uuid) -> String {
    format!("gigmarket:refund:{order_id}")
}

/// Held escrow leaves: on release to the freelancer's pending balance, less the fee fixed at
/// funding; on refund back to the payments that made it; on a split, the freelancer's share
/// as a release and the rest as a refund; on a refund Stripe already made, or a chargeback,
/// the payment it names out of the platform and the rest back to the client.
async fn settle(
    conn: &mut AsyncPgConnection,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now, .. } = *mover;
    let currency = order.currency.as_str();
    let (to_client, to_freelancer) = shares(mover, movement)?;
    match movement {
        Money::Release | Money::Split | Money::Refund => {
            if to_freelancer > 0 {
                let share = OrderMoney {
                    amount_cents: to_freelancer,
                    ..money_of(order)
                };
                ledger::release(conn, &share, currency, actor).await?;
                change.released_cents = Some(to_freelancer);
            }
            if to_client > 0 {
                refund(conn, order, to_client, actor, None).await?;
            }
        }
        Money::Refunded => withdraw(conn, order, mover.payment_intent, Withdrawal::Refunded, actor).await?,
        Money::Chargeback => withdraw(conn, order, mover.payment_intent, Withdrawal::Chargeback, actor).await?,
        Money::None | Money::Fund => return Ok(()),
    }
    change.settled_at = Some(now);
    Ok(())
}

/// The order's payments, latest last. An order funded before payments were recorded one by
/// one counts as one payment of what it holds.
async fn payments(conn: &mut AsyncPgConnection, order: &OrderRow) -> AppResult<Vec<PaymentRow>> {
    let rows = model::payments_of(conn, order.id).await?;
    if !rows.is_empty() || order.paid_cents() == 0 {
        return Ok(rows);
    }
    Ok(vec![PaymentRow {
        order_id: order.id,
        stage: PaymentStage::Full,
        amount_cents: order.paid_cents(),
        stripe_payment_intent_id: order.stripe_payment_intent_id.clone(),
        paid_at: order.funded_at.unwrap_or(order.updated_at),
    }])
}

/// `amount_cents` of the order's escrow goes back to the client, payment by payment, the
/// latest first (`except` one the provider already took back): a card payment to its card
/// (the ledger moves it out of the platform and a refund call is queued under the payment's
/// key), a manual payment to their available balance.
async fn refund(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    amount_cents: i64,
    actor: Option<Uuid>,
    except: Option<PaymentStage>,
) -> AppResult<()> {
    let currency = order.currency.as_str();
    let mut left = amount_cents;
    for payment in payments(conn, order).await?.iter().rev() {
        if left <= 0 {
            break;
        }
        if Some(payment.stage) == except {
            continue;
        }
        let part = left.min(payment.amount_cents);
        left -= part;
        let money = stage_money(order, payment.stage, part);
        let Some(payment_intent) = &payment.stripe_payment_intent_id else {
            ledger::refund(conn, &money, currency, actor).await?;
            continue;
        };
        if ledger::refund_to_card(conn, &money, currency, actor).await? {
            let call = outbox::NewCall {
                kind: CallKind::Refund,
                key: payment.stage.key(refund_key(order.id)),
                order_id: Some(order.id),
                user_id: order.client_id,
                amount_cents: part,
                currency,
                target: payment_intent.clone(),
            };
            outbox::enqueue(conn, call).await?;
        }
    }
    if left > 0 {
        return Err(AppError::internal(anyhow::anyhow!(
            "order {} refunds {left} cents more than its payments hold",
            order.id
        )));
    }
    Ok(())
}

/// How the provider took a payment back without us asking.
#[derive(Clone, Copy)]
pub(super) enum Withdrawal {
    /// Refunded in the Stripe dashboard.
    Refunded,
    /// Charged back by the card issuer.
    Chargeback,
}

/// The provider took the payment `payment_intent` of the order back: the ledger moves that
/// payment out of the platform (nothing is asked of Stripe), and whatever else the order
/// holds goes back to the client as a refund does. A payment it cannot name takes the whole
/// escrow (an order paid at once).
pub(super) async fn withdraw(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    payment_intent: Option<&str>,
    how: Withdrawal,
    actor: Option<Uuid>,
) -> AppResult<()> {
    // What escrow still holds: an hourly order's billed weeks left it already (a card
    // dispute over them is the platform's loss, as for a completed order).
    let held = order.escrow_cents();
    let taken = payments(conn, order)
        .await?
        .into_iter()
        .find(|p| p.stripe_payment_intent_id.is_some() && p.stripe_payment_intent_id.as_deref() == payment_intent);
    let (money, stage) = match &taken {
        Some(payment) => (
            stage_money(order, payment.stage, payment.amount_cents.min(held)),
            Some(payment.stage),
        ),
        None => (money_of(order), None),
    };
    let currency = order.currency.as_str();
    match how {
        Withdrawal::Refunded => ledger::refund_to_card(conn, &money, currency, actor).await?,
        Withdrawal::Chargeback => ledger::chargeback(conn, &money, currency).await?,
    };
    let rest = held - money.amount_cents;
    if rest > 0 {
        refund(conn, order, rest, actor, stage).await?;
    }
    Ok(())
}
