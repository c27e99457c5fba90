//! The order state machine: one table says which action moves an order from which state to
//! which, who may take it, and what it does with the money. Nothing else decides a
//! transition; the service only carries out what [`decide`] allows.

/// Where an order stands in its state machine. COMPLETED, CANCELLED and DECLINED are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "OrderStatus")]
pub enum Status {
    /// A booking request waiting for the freelancer to accept or decline it.
    Requested,
    /// The freelancer declined the booking request (final).
    Declined,
    /// Waiting for the client to pay.
    PendingPayment,
    /// The client reported a manual payment; the freelancer (or an admin) checks it.
    PaymentSubmitted,
    /// Paid: the amount is in escrow and the freelancer may start.
    PaymentConfirmed,
    /// The freelancer is working.
    InProgress,
    /// Work delivered; the client approves it or asks for a revision.
    Submitted,
    /// The client asked for changes; the freelancer delivers again.
    RevisionRequested,
    /// Done: escrow went to the freelancer less the platform fee (final).
    Completed,
    /// Called off: any escrow went back to the client (final).
    Cancelled,
    /// A party opened a dispute: the order and its escrow are frozen until an admin settles
    /// it as COMPLETED or CANCELLED.
    Disputed,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Requested,
        Status::Declined,
        Status::PendingPayment,
        Status::PaymentSubmitted,
        Status::PaymentConfirmed,
        Status::InProgress,
        Status::Submitted,
        Status::RevisionRequested,
        Status::Completed,
        Status::Cancelled,
        Status::Disputed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "REQUESTED",
            Status::Declined => "DECLINED",
            Status::PendingPayment => "PENDING_PAYMENT",
            Status::PaymentSubmitted => "PAYMENT_SUBMITTED",
            Status::PaymentConfirmed => "PAYMENT_CONFIRMED",
            Status::InProgress => "IN_PROGRESS",
            Status::Submitted => "SUBMITTED",
            Status::RevisionRequested => "REVISION_REQUESTED",
            Status::Completed => "COMPLETED",
            Status::Cancelled => "CANCELLED",
            Status::Disputed => "DISPUTED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Nothing moves an order out of a final state.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled | Status::Declined)
    }
}

/// Something someone does to an order (as `OrderAction`: what the viewer could do now, a
/// hint for buttons; the server checks again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "OrderAction")]
pub enum Action {
    /// Freelancer: accept a booking request (`acceptOrder`).
    Accept,
    /// Freelancer: decline a booking request (`declineOrder`).
    Decline,
    /// Client: report a manual payment (`submitPaymentProof`).
    SubmitPaymentProof,
    /// Freelancer or admin: the reported payment did not arrive (`rejectPaymentProof`).
    RejectPaymentProof,
    /// Freelancer or admin: the reported payment arrived (`confirmPayment`).
    ConfirmPayment,
    /// A payment provider reported the payment (Stripe's webhook); never offered to users.
    ProviderPaymentSucceeded,
    /// Freelancer: start work (`startWork`).
    StartWork,
    /// Freelancer: deliver the work or a revision (`submitWork`).
    SubmitWork,
    /// Client: ask for changes (`requestRevision`).
    RequestRevision,
    /// Client, or the freelancer of an on-site order with the end code: complete the order
    /// (`approveWork`).
    ApproveWork,
    /// Either party, before work starts: call the order off (`cancelOrder`).
    Cancel,
    /// Either party, after payment: open a dispute (`openDispute`).
    OpenDispute,
    /// Admin: settle as completed, releasing escrow (`overrideOrderStatus(…, COMPLETED)`).
    ForceComplete,
    /// Admin: settle as cancelled, refunding escrow (`overrideOrderStatus(…, CANCELLED)`).
    ForceCancel,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::Accept,
        Action::Decline,
        Action::SubmitPaymentProof,
        Action::RejectPaymentProof,
        Action::ConfirmPayment,
        Action::ProviderPaymentSucceeded,
        Action::StartWork,
        Action::SubmitWork,
        Action::RequestRevision,
        Action::ApproveWork,
        Action::Cancel,
        Action::OpenDispute,
        Action::ForceComplete,
        Action::ForceCancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "ACCEPT",
            Action::Decline => "DECLINE",
            Action::SubmitPaymentProof => "SUBMIT_PAYMENT_PROOF",
            Action::RejectPaymentProof => "REJECT_PAYMENT_PROOF",
            Action::ConfirmPayment => "CONFIRM_PAYMENT",
            Action::ProviderPaymentSucceeded => "PROVIDER_PAYMENT_SUCCEEDED",
            Action::StartWork => "START_WORK",
            Action::SubmitWork => "SUBMIT_WORK",
            Action::RequestRevision => "REQUEST_REVISION",
            Action::ApproveWork => "APPROVE_WORK",
            Action::Cancel => "CANCEL",
            Action::OpenDispute => "OPEN_DISPUTE",
            Action::ForceComplete => "FORCE_COMPLETE",
            Action::ForceCancel => "FORCE_CANCEL",
        }
    }
}

/// Who acts on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Freelancer,
    Admin,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "CLIENT",
            Role::Freelancer => "FREELANCER",
            Role::Admin => "ADMIN",
            Role::System => "SYSTEM",
        }
    }
}

/// What a transition does with the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Money {
    None,
    /// The order amount enters escrow; the fee rate is fixed.
    Fund,
    /// Escrow, if funded, goes to the freelancer less the fee.
    Release,
    /// Escrow, if funded, goes back to the client.
    Refund,
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
    pub from: &'static [Status],
    pub by: &'static [Role],
    pub to: Status,
    pub money: Money,
    pub guard: Guard,
}

use Status::*;

/// Before work starts, either party may cancel.
const CANCELLABLE: &[Status] = &[Requested, PendingPayment, PaymentSubmitted, PaymentConfirmed];
/// After payment, either party may open a dispute.
const DISPUTABLE: &[Status] = &[PaymentConfirmed, InProgress, Submitted, RevisionRequested];
/// An admin may settle any order that is not final.
const OVERRIDABLE: &[Status] = &[
    Requested,
    PendingPayment,
    PaymentSubmitted,
    PaymentConfirmed,
    InProgress,
    Submitted,
    RevisionRequested,
    Disputed,
];

const fn rule(action: Action, from: &'static [Status], by: &'static [Role], to: Status) -> Rule {
    Rule {
        action,
        from,
        by,
        to,
        money: Money::None,
        guard: Guard::None,
    }
}

/// The whole machine.
pub const RULES: &[Rule] = &[
    rule(Action::Accept, &[Requested], &[Role::Freelancer], PendingPayment),
    rule(Action::Decline, &[Requested], &[Role::Freelancer], Declined),
    rule(
        Action::SubmitPaymentProof,
        &[PendingPayment],
        &[Role::Client],
        PaymentSubmitted,
    ),
    rule(
        Action::RejectPaymentProof,
        &[PaymentSubmitted],
        &[Role::Freelancer, Role::Admin],
        PendingPayment,
    ),
    Rule {
        money: Money::Fund,
        ..rule(
            Action::ConfirmPayment,
            &[PaymentSubmitted],
            &[Role::Freelancer, Role::Admin],
            PaymentConfirmed,
        )
    },
    Rule {
        money: Money::Fund,
        ..rule(
            Action::ProviderPaymentSucceeded,
            &[PendingPayment, PaymentSubmitted],
            &[Role::System],
            PaymentConfirmed,
        )
    },
    Rule {
        guard: Guard::StartCode,
        ..rule(Action::StartWork, &[PaymentConfirmed], &[Role::Freelancer], InProgress)
    },
    rule(
        Action::SubmitWork,
        &[InProgress, RevisionRequested],
        &[Role::Freelancer],
        Submitted,
    ),
    Rule {
        guard: Guard::RevisionLimit,
        ..rule(
            Action::RequestRevision,
            &[Submitted],
            &[Role::Client],
            RevisionRequested,
        )
    },
    Rule {
        money: Money::Release,
        guard: Guard::EndCode,
        ..rule(
            Action::ApproveWork,
            &[Submitted],
            &[Role::Client, Role::Freelancer],
            Completed,
        )
    },
    Rule {
        money: Money::Refund,
        ..rule(
            Action::Cancel,
            CANCELLABLE,
            &[Role::Client, Role::Freelancer],
            Cancelled,
        )
    },
    rule(
        Action::OpenDispute,
        DISPUTABLE,
        &[Role::Client, Role::Freelancer],
        Disputed,
    ),
    Rule {
        money: Money::Release,
        ..rule(Action::ForceComplete, OVERRIDABLE, &[Role::Admin], Completed)
    },
    Rule {
        money: Money::Refund,
        ..rule(Action::ForceCancel, OVERRIDABLE, &[Role::Admin], Cancelled)
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
pub fn decide(from: Status, action: Action, roles: &[Role]) -> Result<&'static Rule, Refusal> {
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
pub fn available(from: Status, roles: &[Role]) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|action| decide(from, *action, roles).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_leaves_each_state_by_at_most_one_rule() {
        for action in Action::ALL {
            for status in Status::ALL {
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
        for status in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for role in [Role::Client, Role::Freelancer, Role::Admin, Role::System] {
                assert!(available(status, &[role]).is_empty());
            }
        }
    }

    #[test]
    fn the_seed_flow_is_allowed_step_by_step() {
        let steps = [
            (Requested, Action::Accept, Role::Freelancer, PendingPayment),
            (
                PendingPayment,
                Action::SubmitPaymentProof,
                Role::Client,
                PaymentSubmitted,
            ),
            (
                PaymentSubmitted,
                Action::ConfirmPayment,
                Role::Freelancer,
                PaymentConfirmed,
            ),
            (PaymentConfirmed, Action::StartWork, Role::Freelancer, InProgress),
            (InProgress, Action::SubmitWork, Role::Freelancer, Submitted),
            (Submitted, Action::RequestRevision, Role::Client, RevisionRequested),
            (RevisionRequested, Action::SubmitWork, Role::Freelancer, Submitted),
            (Submitted, Action::ApproveWork, Role::Client, Completed),
        ];
        for (from, action, role, to) in steps {
            assert_eq!(
                decide(from, action, &[role]).map(|r| r.to),
                Ok(to),
                "{action:?} from {from:?}"
            );
        }
    }

    #[test]
    fn no_skipping_and_actors_are_checked() {
        assert_eq!(
            decide(PendingPayment, Action::ConfirmPayment, &[Role::Freelancer]).err(),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            decide(PaymentSubmitted, Action::ConfirmPayment, &[Role::Client]).err(),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            decide(InProgress, Action::Cancel, &[Role::Client]).err(),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            decide(Disputed, Action::ForceComplete, &[Role::Client, Role::Freelancer]).err(),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            decide(Disputed, Action::ForceCancel, &[Role::Admin]).map(|r| r.to),
            Ok(Cancelled)
        );
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
            .filter(|r| matches!(r.money, Money::Release | Money::Refund))
        {
            assert!(rule.to.is_final());
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("nope"), None);
    }
}
