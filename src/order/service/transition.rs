//! One transition of the state machine, as named steps. Before the transaction: [`look`]
//! (outsiders learn nothing; a refused action is refused before any upload is stored; a code
//! the action needs is checked, wrong attempts counting) and the payload
//! ([`super::input::prepare`]). Then, all in one transaction: [`check`] → [`apply`] →
//! [`settle_dispute`] → [`calendar`] → [`money`](super::money::money) → write → [`history`] →
//! [`follow_task`] → [`event`] → [`notify`] → [`audit`], in `Bus::transaction`, which kicks
//! the relay after commit. The payment provider's reports take the same steps in the
//! webhook's transaction ([`provider_act`], actor SYSTEM).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{
    codes::{self, check_code, code_to_spend},
    find_visible,
    input::{prepare, Act, Prepared},
    money::{money, shares, Mover},
    publish, roles_of,
};
use crate::{
    admin, calendar,
    error::{AppError, AppResult},
    notification::service::{self as notification, Kind},
    order::{
        machine::{self, Action, Guard, Money, Refusal, Rule, Target},
        model::{
            self, ActorRole, DeliverableRow, DisputeRow, DisputeStatus, HistoryRow, OrderBilling, OrderCodePurpose,
            OrderRow, OrderStatus, PaymentProofStatus, PaymentStage, ProofRow, Resolution, Transition,
        },
    },
    profile::model::UserRow,
    state::AppState,
    task::{
        self,
        model::{TaskMode, TaskStatus},
    },
    timesheet,
};

/// Who takes an action: a signed-in user, or the payment provider (Stripe's webhook).
#[derive(Clone, Copy)]
pub(super) enum Actor<'a> {
    User(&'a UserRow),
    Provider,
}

impl Actor<'_> {
    /// The user's id; `None` for the provider.
    fn id(self) -> Option<Uuid> {
        match self {
            Actor::User(user) => Some(user.id),
            Actor::Provider => None,
        }
    }
}

/// What the payment provider reports about an order's payment, as a transition.
pub enum ProviderAct {
    /// The payment succeeded (`payment_intent` paid it): escrow is funded.
    Paid { payment_intent: String },
    /// The payment `payment_intent` was refunded without us asking (the Stripe dashboard):
    /// the order is called off and the ledger follows the money back to the card.
    Refunded { payment_intent: String },
    /// The card issuer disputes the payment `payment_intent` (`stripe_dispute_id`, Stripe's
    /// `reason`).
    Dispute {
        payment_intent: String,
        stripe_dispute_id: String,
        reason: String,
    },
}

impl ProviderAct {
    fn action(&self) -> Action {
        match self {
            ProviderAct::Paid { .. } => Action::ProviderPaymentSucceeded,
            ProviderAct::Refunded { .. } => Action::ProviderRefunded,
            ProviderAct::Dispute { .. } => Action::ProviderDispute,
        }
    }

    /// The Stripe payment the report is about.
    fn payment_intent(&self) -> &str {
        match self {
            ProviderAct::Paid { payment_intent }
            | ProviderAct::Refunded { payment_intent }
            | ProviderAct::Dispute { payment_intent, .. } => payment_intent,
        }
    }

    fn note(&self) -> String {
        match self {
            ProviderAct::Paid { payment_intent } => format!("Paid through Stripe ({payment_intent})"),
            ProviderAct::Refunded { .. } => "Refunded in Stripe".into(),
            ProviderAct::Dispute { reason, .. } => format!("Card dispute: {reason}"),
        }
    }
}

/// An order locked for a transition, and what the machine decided for it under the lock.
pub(super) struct Decision<'a> {
    /// The order as it was before the transition.
    pub order: OrderRow,
    pub from: OrderStatus,
    pub action: Action,
    pub rule: &'static Rule,
    /// Where the transition takes the order (the rule's target, resolved).
    pub to: OrderStatus,
    /// A dispute split's share for the freelancer, in basis points.
    pub split_bps: Option<i32>,
    /// The role the actor takes the action in.
    pub role: ActorRole,
    pub actor: Actor<'a>,
    /// One time for everything the transition writes.
    pub now: DateTime<Utc>,
    /// The Stripe payment a provider's report is about (see [`ProviderAct`]).
    pub payment_intent: Option<String>,
}

impl Decision<'_> {
    /// The money step's view of the transition.
    fn mover(&self) -> Mover<'_> {
        Mover {
            order: &self.order,
            actor: self.actor.id(),
            now: self.now,
            split_bps: self.split_bps,
            payment_intent: self.payment_intent.as_deref(),
            ruling: matches!(
                self.action,
                Action::SettleForClient | Action::SettleForFreelancer | Action::SettleSplit
            ),
        }
    }

    /// The change to the order row before the steps add to it.
    fn change(&self) -> Transition {
        Transition {
            status: self.to,
            fee_bps: self.order.fee_bps,
            revisions_used: self.order.revisions_used,
            funded_at: self.order.funded_at,
            deposit_paid_at: self.order.deposit_paid_at,
            settled_at: self.order.settled_at,
            released_cents: self.order.released_cents,
            updated_at: self.now,
        }
    }
}

/// Takes `act` on the order as `actor`.
pub async fn act(app: &AppState, actor: &UserRow, order_id: Uuid, mut act: Act) -> AppResult<OrderRow> {
    let action = act.action()?;
    let (roles, spend_code) = look(app, actor, order_id, action, &act).await?;
    let prepared = prepare(app, &mut act).await?;
    let note = act.note();

    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let mut decision = check(conn, actor, order_id, action, &roles, spend_code).await?;
            decision.split_bps = act.split_bps();
            let mut change = decision.change();
            apply(conn, &decision, actor, &act, &prepared, &mut change).await?;
            calendar(conn, &decision).await?;
            money(conn, app, decision.rule.money, &decision.mover(), &mut change).await?;
            let settled = settle_dispute(conn, &decision, note.as_deref()).await?;
            let updated = model::apply(conn, order_id, &change).await?;
            history(conn, &decision, &updated, note.clone()).await?;
            follow_task(app, conn, &updated, action).await?;
            event(conn, &decision, &updated).await?;
            notify(conn, &decision, &updated, note.as_deref()).await?;
            audit(conn, &decision, &updated, note.as_deref(), settled.as_ref()).await?;
            Ok(updated)
        })
        .await
}

/// Takes the provider's `act` on the order in the caller's transaction (a webhook's
/// recording transaction), through the same steps as a user's action: the machine decides
/// for the SYSTEM actor, the money step moves what the rule names, and the history, the
/// `ORDER_UPDATED` event and the parties' notifications are written. `None` when the machine
/// refuses: the order moved on (the report is stale) and nothing was written.
pub async fn provider_act(
    app: &AppState,
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    act: ProviderAct,
) -> AppResult<Option<OrderRow>> {
    let action = act.action();
    let order = model::lock(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("Order"))?;
    let from = order.status;
    let Ok(rule) = machine::decide(from, action, &[ActorRole::System]) else {
        return Ok(None);
    };
    let decision = Decision {
        to: destination(conn, &order, rule).await?,
        split_bps: None,
        order,
        from,
        action,
        rule,
        role: ActorRole::System,
        actor: Actor::Provider,
        now: Utc::now(),
        payment_intent: Some(act.payment_intent().to_owned()),
    };
    let mut change = decision.change();
    match &act {
        ProviderAct::Paid { payment_intent } => {
            // The order's payment intent is the one that completed the amount; a deposit's
            // is only in its payment row.
            if decision.to == OrderStatus::PaymentConfirmed {
                model::set_payment_intent(conn, order_id, payment_intent).await?;
            }
        }
        ProviderAct::Dispute {
            stripe_dispute_id,
            reason,
            ..
        } => {
            // The cardholder is the client.
            let opener = decision.order.client_id;
            let dispute = DisputeRow {
                stripe_dispute_id: Some(stripe_dispute_id.clone()),
                ..DisputeRow::open(order_id, opener, reason.clone(), from, decision.now)
            };
            model::insert_dispute(conn, &dispute).await?;
        }
        ProviderAct::Refunded { .. } => {}
    }
    calendar(conn, &decision).await?;
    money(conn, app, decision.rule.money, &decision.mover(), &mut change).await?;
    let note = act.note();
    settle_dispute(conn, &decision, Some(&note)).await?;
    let updated = model::apply(conn, order_id, &change).await?;
    history(conn, &decision, &updated, Some(note)).await?;
    follow_task(app, conn, &updated, action).await?;
    event(conn, &decision, &updated).await?;
    notify(conn, &decision, &updated, None).await?;
    Ok(Some(updated))
}

/// A quick look before the transaction: the order must be visible to the actor (NOT_FOUND
/// otherwise) and the machine must allow the action now, so that payloads (uploads) are only
/// processed for actions that can happen. A code the rule's guard needs is checked here, in
/// a transaction of its own, so that a wrong attempt counts even though the action is
/// refused. Returns the actor's roles and the code to spend.
async fn look(
    app: &AppState,
    actor: &UserRow,
    order_id: Uuid,
    action: Action,
    act: &Act,
) -> AppResult<(Vec<ActorRole>, Option<OrderCodePurpose>)> {
    let mut conn = app.db.conn().await?;
    let current = find_visible(&mut conn, actor, order_id).await?;
    drop(conn);
    let roles = roles_of(&current, actor);
    let rule = machine::decide(current.status, action, &roles).map_err(|r| refusal(r, action, &current))?;
    let spend_code = code_to_spend(rule, &current, roles.contains(&ActorRole::Client))?;
    if let Some(purpose) = spend_code {
        check_code(app, order_id, purpose, act.code()).await?;
    }
    Ok((roles, spend_code))
}

fn refusal(refusal: Refusal, action: Action, order: &OrderRow) -> AppError {
    let status = order.status;
    match (refusal, order.payment_due()) {
        (Refusal::Forbidden, _) => AppError::Forbidden(format!("You may not {} this order.", action.verb())),
        (Refusal::Conflict, Some((_, balance)))
            if status == OrderStatus::DepositPaid && action == Action::StartWork =>
        {
            AppError::Conflict(format!(
                "Only the deposit is paid: the balance of {balance} cents ({}) is due before work starts.",
                order.currency
            ))
        }
        (Refusal::Conflict, _) => AppError::Conflict(format!("An order that is {status} cannot {}.", action.verb())),
    }
}

/// Check: locks the order and decides again under the lock (the state may have moved since
/// the look), checks the revision limit, and spends the code the look accepted.
async fn check<'a>(
    conn: &mut AsyncPgConnection,
    actor: &'a UserRow,
    order_id: Uuid,
    action: Action,
    roles: &[ActorRole],
    spend_code: Option<OrderCodePurpose>,
) -> AppResult<Decision<'a>> {
    let order = model::lock(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("Order"))?;
    let from = order.status;
    let rule = machine::decide(from, action, roles).map_err(|r| refusal(r, action, &order))?;
    let role = rule
        .by
        .iter()
        .copied()
        .find(|r| roles.contains(r))
        .ok_or_else(|| refusal(Refusal::Forbidden, action, &order))?;
    if rule.guard == Guard::RevisionLimit && order.revisions_used >= order.revision_limit {
        return Err(AppError::LimitExceeded(format!(
            "This order includes {} revision(s) and all have been used.",
            order.revision_limit
        )));
    }
    if let Some(purpose) = spend_code {
        codes::spend(conn, order.id, purpose).await?;
    }
    Ok(Decision {
        to: destination(conn, &order, rule).await?,
        split_bps: None,
        order,
        from,
        action,
        rule,
        role,
        actor: Actor::User(actor),
        now: Utc::now(),
        payment_intent: None,
    })
}

/// Where `rule` takes `order` now: its fixed status; for a payment, DEPOSIT_PAID or
/// PAYMENT_CONFIRMED by the stage paid, and back to waiting for it when a proof is rejected;
/// or — dismissing a dispute — back to where the order stood when its unsettled dispute
/// froze it.
async fn destination(conn: &mut AsyncPgConnection, order: &OrderRow, rule: &Rule) -> AppResult<OrderStatus> {
    let paying_deposit = matches!(order.payment_due(), Some((PaymentStage::Deposit, _)));
    match rule.to {
        Target::Status(_) | Target::Paid | Target::Unpaid => rule
            .to
            .status_for(paying_deposit, order.deposit_paid_at.is_some())
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unresolved target {:?}", rule.to))),
        Target::Resume => model::unsettled_dispute(conn, order.id)
            .await?
            .and_then(|dispute| dispute.resumes_status)
            .ok_or_else(|| AppError::Conflict("This order has no open dispute to dismiss.".into())),
    }
}

/// Apply: what the action carries — the payment proof and its review, the delivery, the
/// revision count, the dispute opened, or the open dispute settled by an admin. An hourly
/// contract ends (`approveWork`) only once every week with time in it is billed.
async fn apply(
    conn: &mut AsyncPgConnection,
    decision: &Decision<'_>,
    actor: &UserRow,
    act: &Act,
    prepared: &Prepared,
    change: &mut Transition,
) -> AppResult<()> {
    let Decision { order, now, .. } = decision;
    let now = *now;
    if decision.action == Action::ApproveWork && order.billing() == OrderBilling::Hourly {
        timesheet::service::check_all_billed(conn, order.id).await?;
    }
    match (act, prepared) {
        (Act::SubmitPaymentProof(_), Prepared::Proof(proof)) => {
            let (stage, due) = order
                .payment_due()
                .ok_or_else(|| AppError::Conflict("This order is paid already.".into()))?;
            if proof.amount_cents != due {
                let what = match stage {
                    PaymentStage::Full => "the order amount",
                    PaymentStage::Deposit => "the deposit due now",
                    PaymentStage::Balance => "the balance due now",
                };
                return Err(AppError::field("amountCents", format!("must be {what}, {due}")));
            }
            model::insert_proof(
                conn,
                &ProofRow {
                    id: Uuid::now_v7(),
                    order_id: order.id,
                    submitted_by: actor.id,
                    reference: proof.reference.clone(),
                    payer_name: proof.payer_name.clone(),
                    amount_cents: proof.amount_cents,
                    currency: order.currency.clone(),
                    status: PaymentProofStatus::Submitted,
                    review_note: None,
                    reviewed_by: None,
                    reviewed_at: None,
                    created_at: now,
                },
            )
            .await?;
        }
        (Act::ConfirmPayment, _) => {
            model::review_proof(conn, order.id, PaymentProofStatus::Confirmed, actor.id, None).await?;
        }
        (Act::RejectPaymentProof { reason }, _) => {
            let status = PaymentProofStatus::Rejected;
            model::review_proof(conn, order.id, status, actor.id, reason.as_deref()).await?;
        }
        (
            Act::SubmitWork(_),
            Prepared::Delivery {
                message,
                links,
                attachments,
            },
        ) => {
            model::insert_deliverable(
                conn,
                &DeliverableRow {
                    id: Uuid::now_v7(),
                    order_id: order.id,
                    author_id: actor.id,
                    message: message.clone(),
                    links: links.clone(),
                    attachments: serde_json::to_value(attachments).map_err(AppError::internal)?,
                    revision: order.revisions_used,
                    created_at: now,
                },
            )
            .await?;
        }
        (Act::RequestRevision { .. }, _) => change.revisions_used += 1,
        (Act::OpenDispute { reason }, _) => {
            let dispute = DisputeRow::open(order.id, actor.id, reason.clone(), order.status, now);
            model::insert_dispute(conn, &dispute).await?;
        }
        (Act::ResolveDispute { dispute_id, .. }, _) => {
            // The order is locked, so no other settlement runs; the dispute named must be the
            // one it is frozen by.
            let dispute = model::lock_dispute(conn, *dispute_id)
                .await?
                .filter(|d| d.order_id == order.id)
                .ok_or_else(|| AppError::not_found("Dispute"))?;
            if !dispute.status.is_unsettled() {
                return Err(AppError::Conflict(format!(
                    "This dispute is already settled ({}).",
                    dispute.status
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Settling a DISPUTED order closes its open dispute: how (the status the action means),
/// by whom, why, and what each side received out of escrow. Returns the dispute closed.
async fn settle_dispute(
    conn: &mut AsyncPgConnection,
    decision: &Decision<'_>,
    note: Option<&str>,
) -> AppResult<Option<DisputeRow>> {
    if decision.from != OrderStatus::Disputed {
        return Ok(None);
    }
    let status = match (decision.action, decision.to) {
        (Action::DismissDispute, _) => DisputeStatus::Dismissed,
        (Action::SettleSplit, _) => DisputeStatus::ResolvedSplit,
        (_, OrderStatus::Completed) => DisputeStatus::ResolvedFreelancer,
        _ => DisputeStatus::ResolvedClient,
    };
    let (client_cents, freelancer_cents) = match decision.rule.money {
        Money::None => (None, None),
        movement => {
            let (client, freelancer) = shares(&decision.mover(), movement)?;
            (Some(client), Some(freelancer))
        }
    };
    let resolution = Resolution {
        status,
        resolved_at: Some(decision.now),
        resolved_by: decision.actor.id(),
        resolution_note: note.map(str::to_owned),
        split_bps: decision.split_bps.filter(|_| status == DisputeStatus::ResolvedSplit),
        client_cents,
        freelancer_cents,
    };
    Ok(model::resolve_dispute(conn, decision.order.id, &resolution).await?)
}

/// Calendar: accepting a booking blocks its day in the freelancer's calendar (CONFLICT when
/// it is no longer free); an order called off frees any day it held.
async fn calendar(conn: &mut AsyncPgConnection, decision: &Decision<'_>) -> AppResult<()> {
    let order = &decision.order;
    if decision.action == Action::Accept {
        if let Some(day) = order.scheduled_for {
            if !calendar::model::book_day(conn, order.freelancer_id, day, order.id).await? {
                return Err(AppError::Conflict(format!("{day} is no longer available.")));
            }
        }
    }
    if matches!(decision.to, OrderStatus::Cancelled | OrderStatus::Declined) {
        calendar::model::free_days_of(conn, order.id).await?;
    }
    Ok(())
}

/// History: who took which action, from which status to which.
async fn history(
    conn: &mut AsyncPgConnection,
    decision: &Decision<'_>,
    updated: &OrderRow,
    note: Option<String>,
) -> AppResult<()> {
    model::insert_history(
        conn,
        &HistoryRow {
            id: Uuid::now_v7(),
            order_id: updated.id,
            action: decision.action.as_str().into(),
            from_status: Some(decision.from),
            to_status: updated.status,
            actor_id: decision.actor.id(),
            actor_role: decision.role,
            note,
            created_at: decision.now,
        },
    )
    .await?;
    Ok(())
}

/// Keeps a task in step with the order made from it. An order called off before completion
/// puts the task back to OPEN (announced to nearby freelancers again) — or EXPIRED, for a
/// first-accept task whose deadline has passed meanwhile.
async fn follow_task(app: &AppState, conn: &mut AsyncPgConnection, order: &OrderRow, action: Action) -> AppResult<()> {
    let Some(task_id) = order.task_id else {
        return Ok(());
    };
    let Some(task) = task::model::lock(conn, task_id).await? else {
        return Ok(());
    };
    let change = match (order.status, action) {
        (_, Action::StartWork) => task::model::StatusChange::to(TaskStatus::InProgress),
        (OrderStatus::Completed, _) => task::model::StatusChange::to(TaskStatus::Completed),
        (OrderStatus::Cancelled | OrderStatus::Declined, _) => {
            let lapsed = task.mode == TaskMode::Immediate && task.acceptance_deadline.is_none_or(|d| d <= Utc::now());
            task::model::StatusChange {
                assignee_id: Some(None),
                ..task::model::StatusChange::to(if lapsed { TaskStatus::Expired } else { TaskStatus::Open })
            }
        }
        _ => return Ok(()),
    };
    if change.status == task.status {
        return Ok(());
    }
    let updated = task::model::set_status(conn, task_id, &change).await?;
    task::service::announce(app, conn, &updated, Some(task.status)).await?;
    Ok(())
}

/// Event: `ORDER_UPDATED` on the order's topic, relayed after commit.
async fn event(conn: &mut AsyncPgConnection, decision: &Decision<'_>, updated: &OrderRow) -> AppResult<()> {
    publish(
        conn,
        updated,
        decision.action.as_str(),
        Some(decision.from),
        decision.actor.id(),
    )
    .await
}

/// Notify: tells the parties other than the actor what happened (with an admin's note, when
/// an admin settled a dispute).
async fn notify(
    conn: &mut AsyncPgConnection,
    decision: &Decision<'_>,
    order: &OrderRow,
    note: Option<&str>,
) -> AppResult<()> {
    let action = decision.action;
    let kind = match action {
        Action::SubmitPaymentProof
        | Action::ConfirmPayment
        | Action::RejectPaymentProof
        | Action::ProviderPaymentSucceeded
        | Action::ProviderRefunded => Kind::Payment,
        Action::OpenDispute
        | Action::ProviderDispute
        | Action::SettleForClient
        | Action::SettleForFreelancer
        | Action::SettleSplit
        | Action::DismissDispute => Kind::Dispute,
        _ => Kind::OrderStatus,
    };
    let human = order.status.human();
    let body = match (decision.actor, action) {
        (Actor::User(_), Action::SettleForClient) => {
            "The dispute was resolved for the client: the escrow goes back to the client.".to_owned()
        }
        (Actor::User(_), Action::SettleForFreelancer) => {
            "The dispute was resolved for the freelancer: the escrow is released to the freelancer.".to_owned()
        }
        (Actor::User(_), Action::SettleSplit) => {
            let bps = decision.split_bps.unwrap_or_default();
            format!(
                "The dispute was resolved by a split: {}% of the escrow to the freelancer, {}% back to the client.",
                f64::from(bps) / 100.0,
                f64::from(10_000 - bps) / 100.0
            )
        }
        (Actor::User(_), Action::DismissDispute) => {
            format!("The dispute was dismissed: the order is {human} again and goes on.")
        }
        (Actor::User(actor), _) => format!("{} did: {}", actor.full_name, action.verb()),
        (Actor::Provider, Action::ProviderPaymentSucceeded) if order.status == OrderStatus::DepositPaid => {
            "The deposit arrived through Stripe and is held in escrow; the balance is due before work starts.".into()
        }
        (Actor::Provider, Action::ProviderPaymentSucceeded) => {
            "The payment arrived through Stripe and is held in escrow.".into()
        }
        (Actor::Provider, Action::ProviderRefunded) => "The payment was refunded to the card through Stripe.".into(),
        (Actor::Provider, _) => "The card issuer disputes the payment: the order is frozen until it is settled.".into(),
    };
    let body = match (kind, note) {
        (Kind::Dispute, Some(note)) if decision.role == ActorRole::Admin => format!("{body}\n\n{note}"),
        _ => body,
    };
    for party in [order.client_id, order.freelancer_id] {
        if Some(party) == decision.actor.id() {
            continue;
        }
        notification::notify(
            conn,
            party,
            kind,
            &format!("\"{}\" is now {human}", order.title),
            &body,
            serde_json::json!({ "orderId": order.id, "status": order.status, "action": action.as_str() }),
        )
        .await?;
    }
    Ok(())
}

/// Audit: an admin's action goes to the audit log.
async fn audit(
    conn: &mut AsyncPgConnection,
    decision: &Decision<'_>,
    updated: &OrderRow,
    note: Option<&str>,
    settled: Option<&DisputeRow>,
) -> AppResult<()> {
    let (ActorRole::Admin, Actor::User(admin)) = (decision.role, decision.actor) else {
        return Ok(());
    };
    let mut data = serde_json::json!({ "from": decision.from, "to": updated.status });
    if let Some(dispute) = settled {
        data["dispute"] = serde_json::json!({
            "id": dispute.id,
            "status": dispute.status,
            "splitBps": dispute.split_bps,
            "clientCents": dispute.client_cents,
            "freelancerCents": dispute.freelancer_cents,
        });
    }
    admin::model::record(
        conn,
        admin.id,
        &format!("order.{}", decision.action.as_str().to_lowercase()),
        "ORDER",
        updated.id,
        note.unwrap_or(""),
        data,
    )
    .await?;
    Ok(())
}
