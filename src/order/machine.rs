//! The order state machine: one table says which action moves an order from which state to
//! which, who may take it, and what it does with the money. Nothing else decides a
//! transition; the service only carries out what [`decide`] allows.

use super::model::{ActorRole, OrderStatus};
use crate::db::text_enum::pg_enum;

// The text of an action is what `order_history.action` and `ORDER_UPDATED` record (beside
// `CREATE` for a new order).
pg_enum! {
    /// Something someone does to an order (as `OrderAction`: what the viewer could do now, a
    /// hint for buttons; the server checks again).
    #[derive(async_graphql::Enum)]
    #[graphql(name = "OrderAction")]
    pub enum Action {
        /// Freelancer: accept a booking request (`acceptOrder`).
        Accept = "ACCEPT",
        /// Freelancer: decline a booking request (`declineOrder`).
        Decline = "DECLINE",
        /// Client: report a manual payment (`submitPaymentProof`).
        SubmitPaymentProof = "SUBMIT_PAYMENT_PROOF",
        /// Freelancer or admin: the reported payment did not arrive (`rejectPaymentProof`).
        RejectPaymentProof = "REJECT_PAYMENT_PROOF",
        /// Freelancer or admin: the reported payment arrived (`confirmPayment`).
        ConfirmPayment = "CONFIRM_PAYMENT",
        /// A payment provider reported the payment (Stripe's webhook); never offered to users.
        ProviderPaymentSucceeded = "PROVIDER_PAYMENT_SUCCEEDED",
        /// The payment provider reported a refund we did not ask for (made in the Stripe
        /// dashboard): the order is called off; never offered to users.
        ProviderRefunded = "PROVIDER_REFUNDED",
        /// The card issuer opened a dispute on the payment (Stripe's `charge.dispute.created`):
        /// the order is frozen and the issuer takes the escrow back; never offered to users.
        ProviderDispute = "PROVIDER_DISPUTE",
        /// Freelancer: start work (`startWork`).
        StartWork = "START_WORK",
        /// Freelancer: deliver the work or a revision (`submitWork`).
        SubmitWork = "SUBMIT_WORK",
        /// Client: ask for changes (`requestRevision`).
        RequestRevision = "REQUEST_REVISION",
        /// Client, or the freelancer of an on-site order with the end code: complete the order
        /// (`approveWork`).
        ApproveWork = "APPROVE_WORK",
        /// Either party, before work starts: call the order off (`cancelOrder`).
        Cancel = "CANCEL",
        /// Either party, after payment: open a dispute (`openDispute`).
        OpenDispute = "OPEN_DISPUTE",
        /// Admin: settle as completed, releasing escrow (`overrideOrderStatus(…, COMPLETED)`).
        ForceComplete = "FORCE_COMPLETE",
        /// Admin: settle as cancelled, refunding escrow (`overrideOrderStatus(…, CANCELLED)`).
        ForceCancel = "FORCE_CANCEL",
        /// Admin: rule a dispute for the client: escrow back to them, the order CANCELLED
        /// (`resolveDispute(…, CLIENT)`).
        SettleForClient = "SETTLE_FOR_CLIENT",
        /// Admin: rule a dispute for the freelancer: escrow to them less the fee, the order
        /// COMPLETED (`resolveDispute(…, FREELANCER)`).
        SettleForFreelancer = "SETTLE_FOR_FREELANCER",
        /// Admin: split the escrow of a dispute between the parties, the order COMPLETED
        /// (`resolveDispute(…, SPLIT)`).
        SettleSplit = "SETTLE_SPLIT",
        /// Admin: dismiss a dispute: the order goes back to where it stood, escrow untouched
        /// (`resolveDispute(…, DISMISSED)`).
        DismissDispute = "DISMISS_DISPUTE",
    }
}

impl Action {
    /// The action in words, for messages ("confirm payment").
    pub fn verb(self) -> String {
        self.as_str().to_lowercase().replace('_', " ")
    }
}

/// What a transition does with the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Money {
    None,
    /// The payment due enters escrow — the whole amount, or a booking's deposit or balance —
    /// and the fee rate is fixed with the first of them.
    Fund,
    /// Escrow, if funded, goes to the freelancer less the fee.
    Release,
    /// Escrow, if funded, goes back to the client: to the card that paid it when it came
    /// through the payment provider (a refund call is queued), to their balance otherwise.
    Refund,
    /// Escrow, if funded, already went back to the card (the provider refunded it): the
    /// ledger follows, nothing is asked of the provider.
    Refunded,
    /// Escrow, if held, is taken back by the card issuer (a chargeback).
    Chargeback,
    /// Escrow, if held, is split: a share to the freelancer less the fee on it, the rest back
    /// to the client (as a refund is).
    Split,
}

/// Where a rule takes the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Always this status.
    Status(OrderStatus),
    /// Back to the status the order had when its open dispute froze it.
    Resume,
    /// Paid: DEPOSIT_PAID when the payment was a booking's deposit, PAYMENT_CONFIRMED when
    /// it completes the amount.
    Paid,
    /// Back to waiting for the payment due: DEPOSIT_PAID when a deposit is in escrow,
    /// PENDING_PAYMENT otherwise.
    Unpaid,
}

impl Target {
    /// The status the target names for an order that, before the transition, is paying its
    /// deposit (`paying_deposit`: the payment due is a booking's deposit) or holds one
    /// (`deposit_held`); `None` for [`Target::Resume`], which the order's dispute resolves.
    pub fn status_for(self, paying_deposit: bool, deposit_held: bool) -> Option<OrderStatus> {
        match self {
            Target::Status(status) => Some(status),
            Target::Resume => None,
            Target::Paid if paying_deposit => Some(DepositPaid),
            Target::Paid => Some(PaymentConfirmed),
            Target::Unpaid if deposit_held => Some(DepositPaid),
            Target::Unpaid => Some(PendingPayment),
        }
    }
}

/// What else a transition needs checked before it may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    None,
    /// On-site orders: the freelancer enters the client's start code.
    StartCode,
    /// The client approves; on on-site orders the freelancer may instead enter the client's
    /// end code.
    EndCode,
    /// Refused once the order's revision limit is used up.
    RevisionLimit,
}

/// One row of the table.
#[derive(Debug)]
pub struct Rule {
    pub action: Action,
    pub from: &'static [OrderStatus],
    pub by: &'static [ActorRole],
    pub to: Target,
    pub money: Money,
    pub guard: Guard,
}

use OrderStatus::*;

/// Before work starts, either party may cancel.
const CANCELLABLE: &[OrderStatus] = &[
    Requested,
    PendingPayment,
    PaymentSubmitted,
    DepositPaid,
    PaymentConfirmed,
];
/// After payment (a deposit counts), either party may open a dispute.
const DISPUTABLE: &[OrderStatus] = &[DepositPaid, PaymentConfirmed, InProgress, Submitted, RevisionRequested];
/// A card payment may be disputed by its issuer wherever escrow may be held: after payment,
/// and while a booking's balance proof waits with its deposit paid by card.
const CARD_DISPUTABLE: &[OrderStatus] = &[
    PaymentSubmitted,
    DepositPaid,
    PaymentConfirmed,
    InProgress,
    Submitted,
    RevisionRequested,
];
/// Where a payment is awaited: the first one, or a booking's balance.
const PAYABLE: &[OrderStatus] = &[PendingPayment, DepositPaid];
/// An admin may settle any order that is not final.
const OVERRIDABLE: &[OrderStatus] = &[
    Requested,
    PendingPayment,
    PaymentSubmitted,
    DepositPaid,
    PaymentConfirmed,
    InProgress,
    Submitted,
    RevisionRequested,
    Disputed,
];

const fn rule(action: Action, from: &'static [OrderStatus], by: &'static [ActorRole], to: OrderStatus) -> Rule {
    Rule {
        action,
        from,
        by,
        to: Target::Status(to),
        money: Money::None,
        guard: Guard::None,
    }
}

/// The whole machine.
pub const RULES: &[Rule] = &[
    rule(Action::Accept, &[Requested], &[ActorRole::Freelancer], PendingPayment),
    rule(Action::Decline, &[Requested], &[ActorRole::Freelancer], Declined),
    rule(
        Action::SubmitPaymentProof,
        PAYABLE,
        &[ActorRole::Client],
        PaymentSubmitted,
    ),
    Rule {
        to: Target::Unpaid,
        ..rule(
            Action::RejectPaymentProof,
            &[PaymentSubmitted],
            &[ActorRole::Freelancer, ActorRole::Admin],
            PendingPayment,
        )
    },
    Rule {
        money: Money::Fund,
        to: Target::Paid,
        ..rule(
            Action::ConfirmPayment,
            &[PaymentSubmitted],
            &[ActorRole::Freelancer, ActorRole::Admin],
            PaymentConfirmed,
        )
    },
    Rule {
        money: Money::Fund,
        to: Target::Paid,
        ..rule(
            Action::ProviderPaymentSucceeded,
            &[PendingPayment, PaymentSubmitted, DepositPaid],
            &[ActorRole::System],
            PaymentConfirmed,
        )
    },
    Rule {
        money: Money::Refunded,
        ..rule(Action::ProviderRefunded, OVERRIDABLE, &[ActorRole::System], Cancelled)
    },
    Rule {
        money: Money::Chargeback,
        ..rule(Action::ProviderDispute, CARD_DISPUTABLE, &[ActorRole::System], Disputed)
    },
    Rule {
        guard: Guard::StartCode,
        ..rule(
            Action::StartWork,
            &[PaymentConfirmed],
            &[ActorRole::Freelancer],
            InProgress,
        )
    },
    rule(
        Action::SubmitWork,
        &[InProgress, RevisionRequested],
        &[ActorRole::Freelancer],
        Submitted,
    ),
    Rule {
        guard: Guard::RevisionLimit,
        ..rule(
            Action::RequestRevision,
            &[Submitted],
            &[ActorRole::Client],
            RevisionRequested,
        )
    },
    Rule {
        money: Money::Release,
        guard: Guard::EndCode,
        ..rule(
            Action::ApproveWork,
            &[Submitted],
            &[ActorRole::Client, ActorRole::Freelancer],
            Completed,
        )
    },
    Rule {
        money: Money::Refund,
        ..rule(
            Action::Cancel,
            CANCELLABLE,
            &[ActorRole::Client, ActorRole::Freelancer],
            Cancelled,
        )
    },
    rule(
        Action::OpenDispute,
        DISPUTABLE,
        &[ActorRole::Client, ActorRole::Freelancer],
        Disputed,
    ),
    Rule {
        money: Money::Release,
        ..rule(Action::ForceComplete, OVERRIDABLE, &[ActorRole::Admin], Completed)
    },
    Rule {
        money: Money::Refund,
        ..rule(Action::ForceCancel, OVERRIDABLE, &[ActorRole::Admin], Cancelled)
    },
    Rule {
        money: Money::Refund,
        ..rule(Action::SettleForClient, &[Disputed], &[ActorRole::Admin], Cancelled)
    },
    Rule {
        money: Money::Release,
        ..rule(Action::SettleForFreelancer, &[Disputed], &[ActorRole::Admin], Completed)
    },
    Rule {
        money: Money::Split,
        ..rule(Action::SettleSplit, &[Disputed], &[ActorRole::Admin], Completed)
    },
    Rule {
        to: Target::Resume,
        ..rule(Action::DismissDispute, &[Disputed], &[ActorRole::Admin], Disputed)
    },
];

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// None of the actor's roles may ever take this action, or not in this state.
    Forbidden,
    /// The action does not apply to the order's current state.
    Conflict,
}

/// The rule that lets `roles` take `action` on an order in `from`, or why not.
///
/// An actor who may never take the action is `Forbidden` whatever the state; otherwise a
/// state the action does not leave from is a `Conflict`.
pub fn decide(from: OrderStatus, action: Action, roles: &[ActorRole]) -> Result<&'static Rule, Refusal> {
    let mut rules = RULES.iter().filter(|r| r.action == action);
    if !rules.clone().any(|r| r.by.iter().any(|b| roles.contains(b))) {
        return Err(Refusal::Forbidden);
    }
    let rule = rules.find(|r| r.from.contains(&from)).ok_or(Refusal::Conflict)?;
    if rule.by.iter().any(|b| roles.contains(b)) {
        Ok(rule)
    } else {
        Err(Refusal::Forbidden)
    }
}

/// The actions `roles` could take on an order in `from` (guards aside).
pub fn available(from: OrderStatus, roles: &[ActorRole]) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|action| decide(from, *action, roles).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_leaves_each_state_by_at_most_one_rule() {
        for &action in Action::ALL {
            for &status in OrderStatus::ALL {
                let n = RULES
                    .iter()
                    .filter(|r| r.action == action && r.from.contains(&status))
                    .count();
                assert!(n <= 1, "{action:?} from {status:?} has {n} rules");
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for rule in RULES {
            assert!(rule.from.iter().all(|s| !s.is_final()), "{rule:?} leaves a final state");
        }
        for &status in OrderStatus::ALL.iter().filter(|s| s.is_final()) {
            for role in [
                ActorRole::Client,
                ActorRole::Freelancer,
                ActorRole::Admin,
                ActorRole::System,
            ] {
                assert!(available(status, &[role]).is_empty());
            }
        }
    }

    #[test]
    fn the_seed_flow_is_allowed_step_by_step() {
        let steps = [
            (Requested, Action::Accept, ActorRole::Freelancer, PendingPayment),
            (
                PendingPayment,
                Action::SubmitPaymentProof,
                ActorRole::Client,
                PaymentSubmitted,
            ),
            (
                PaymentSubmitted,
                Action::ConfirmPayment,
                ActorRole::Freelancer,
                PaymentConfirmed,
            ),
            (PaymentConfirmed, Action::StartWork, ActorRole::Freelancer, InProgress),
            (InProgress, Action::SubmitWork, ActorRole::Freelancer, Submitted),
            (Submitted, Action::RequestRevision, ActorRole::Client, RevisionRequested),
            (RevisionRequested, Action::SubmitWork, ActorRole::Freelancer, Submitted),
            (Submitted, Action::ApproveWork, ActorRole::Client, Completed),
        ];
        for (from, action, role, to) in steps {
            assert_eq!(
                decide(from, action, &[role]).map(|r| r.to.status_for(false, false)),
                Ok(Some(to)),
                "{action:?} from {from:?}"
            );
        }
    }

    #[test]
    fn a_booking_with_a_deposit_is_paid_in_two_stages() {
        // (from, action, role, paying the deposit, deposit held, to)
        let steps = [
            (
                Requested,
                Action::Accept,
                ActorRole::Freelancer,
                true,
                false,
                PendingPayment,
            ),
            (
                PendingPayment,
                Action::SubmitPaymentProof,
                ActorRole::Client,
                true,
                false,
                PaymentSubmitted,
            ),
            (
                PaymentSubmitted,
                Action::RejectPaymentProof,
                ActorRole::Freelancer,
                true,
                false,
                PendingPayment,
            ),
            (
                PaymentSubmitted,
                Action::ConfirmPayment,
                ActorRole::Freelancer,
                true,
                false,
                DepositPaid,
            ),
            (
                DepositPaid,
                Action::SubmitPaymentProof,
                ActorRole::Client,
                false,
                true,
                PaymentSubmitted,
            ),
            (
                PaymentSubmitted,
                Action::RejectPaymentProof,
                ActorRole::Admin,
                false,
                true,
                DepositPaid,
            ),
            (
                PaymentSubmitted,
                Action::ConfirmPayment,
                ActorRole::Freelancer,
                false,
                true,
                PaymentConfirmed,
            ),
            (
                PendingPayment,
                Action::ProviderPaymentSucceeded,
                ActorRole::System,
                true,
                false,
                DepositPaid,
            ),
            (
                DepositPaid,
                Action::ProviderPaymentSucceeded,
                ActorRole::System,
                false,
                true,
                PaymentConfirmed,
            ),
            (DepositPaid, Action::Cancel, ActorRole::Client, false, true, Cancelled),
            (
                DepositPaid,
                Action::OpenDispute,
                ActorRole::Freelancer,
                false,
                true,
                Disputed,
            ),
            (
                DepositPaid,
                Action::ProviderDispute,
                ActorRole::System,
                false,
                true,
                Disputed,
            ),
            (
                PaymentSubmitted,
                Action::ProviderDispute,
                ActorRole::System,
                false,
                true,
                Disputed,
            ),
        ];
        for (from, action, role, paying_deposit, held, to) in steps {
            assert_eq!(
                decide(from, action, &[role]).map(|r| r.to.status_for(paying_deposit, held)),
                Ok(Some(to)),
                "{action:?} from {from:?}"
            );
        }
        // Work waits for the balance, and only a reported payment is confirmed.
        for action in [Action::StartWork, Action::ConfirmPayment] {
            let refused = decide(DepositPaid, action, &[ActorRole::Freelancer]).err();
            assert_eq!(refused, Some(Refusal::Conflict), "{action:?}");
        }
    }

    #[test]
    fn no_skipping_and_actors_are_checked() {
        assert_eq!(
            decide(PendingPayment, Action::ConfirmPayment, &[ActorRole::Freelancer]).err(),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            decide(PaymentSubmitted, Action::ConfirmPayment, &[ActorRole::Client]).err(),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            decide(InProgress, Action::Cancel, &[ActorRole::Client]).err(),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            decide(
                Disputed,
                Action::ForceComplete,
                &[ActorRole::Client, ActorRole::Freelancer]
            )
            .err(),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            decide(Disputed, Action::ForceCancel, &[ActorRole::Admin]).map(|r| r.to),
            Ok(Target::Status(Cancelled))
        );
    }

    #[test]
    fn only_admins_settle_a_dispute_and_only_a_disputed_order() {
        let settlements = [
            (Action::SettleForClient, Target::Status(Cancelled), Money::Refund),
            (Action::SettleForFreelancer, Target::Status(Completed), Money::Release),
            (Action::SettleSplit, Target::Status(Completed), Money::Split),
            (Action::DismissDispute, Target::Resume, Money::None),
        ];
        for (action, to, money) in settlements {
            let rule = decide(Disputed, action, &[ActorRole::Admin]).expect("admins settle disputes");
            assert_eq!((rule.to, rule.money), (to, money), "{action:?}");
            for role in [ActorRole::Client, ActorRole::Freelancer, ActorRole::System] {
                assert_eq!(decide(Disputed, action, &[role]).err(), Some(Refusal::Forbidden));
            }
            for &from in OrderStatus::ALL.iter().filter(|s| **s != Disputed) {
                assert_eq!(decide(from, action, &[ActorRole::Admin]).err(), Some(Refusal::Conflict));
            }
        }
        let resuming: Vec<Action> = RULES
            .iter()
            .filter(|r| r.to == Target::Resume)
            .map(|r| r.action)
            .collect();
        assert_eq!(resuming, [Action::DismissDispute]);
    }

    #[test]
    fn money_moves_only_where_the_table_says() {
        let funding: Vec<Action> = RULES
            .iter()
            .filter(|r| r.money == Money::Fund)
            .map(|r| r.action)
            .collect();
        assert_eq!(funding, [Action::ConfirmPayment, Action::ProviderPaymentSucceeded]);
        for rule in RULES
            .iter()
            .filter(|r| matches!(r.money, Money::Release | Money::Refund | Money::Refunded | Money::Split))
        {
            assert!(matches!(rule.to, Target::Status(to) if to.is_final()), "{rule:?}");
        }
        let chargebacks: Vec<Action> = RULES
            .iter()
            .filter(|r| r.money == Money::Chargeback)
            .map(|r| r.action)
            .collect();
        assert_eq!(chargebacks, [Action::ProviderDispute]);
    }

    #[test]
    fn only_the_payment_provider_takes_the_provider_actions() {
        let provider = [
            Action::ProviderPaymentSucceeded,
            Action::ProviderRefunded,
            Action::ProviderDispute,
        ];
        for rule in RULES {
            assert_eq!(
                provider.contains(&rule.action),
                rule.by == [ActorRole::System],
                "{rule:?}"
            );
        }
        let steps = [
            (PendingPayment, Action::ProviderPaymentSucceeded, PaymentConfirmed),
            (PaymentSubmitted, Action::ProviderPaymentSucceeded, PaymentConfirmed),
            (DepositPaid, Action::ProviderPaymentSucceeded, PaymentConfirmed),
            (PaymentConfirmed, Action::ProviderRefunded, Cancelled),
            (InProgress, Action::ProviderRefunded, Cancelled),
            (Disputed, Action::ProviderRefunded, Cancelled),
            (PaymentConfirmed, Action::ProviderDispute, Disputed),
            (Submitted, Action::ProviderDispute, Disputed),
        ];
        for (from, action, to) in steps {
            assert_eq!(
                decide(from, action, &[ActorRole::System]).map(|r| r.to.status_for(false, false)),
                Ok(Some(to)),
                "{action:?} from {from:?}"
            );
        }
        // A late report on an order that moved on is a conflict (the webhook reads it as stale).
        for (from, action) in [
            (PaymentConfirmed, Action::ProviderPaymentSucceeded),
            (Cancelled, Action::ProviderPaymentSucceeded),
            (Completed, Action::ProviderRefunded),
            (Completed, Action::ProviderDispute),
            (Disputed, Action::ProviderDispute),
        ] {
            assert_eq!(
                decide(from, action, &[ActorRole::System]).err(),
                Some(Refusal::Conflict)
            );
        }
        for role in [ActorRole::Client, ActorRole::Freelancer, ActorRole::Admin] {
            for action in provider {
                assert_eq!(
                    decide(PaymentConfirmed, action, &[role]).err(),
                    Some(Refusal::Forbidden)
                );
            }
        }
    }

    #[test]
    fn statuses_round_trip() {
        for &status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("nope"), None);
    }
}
