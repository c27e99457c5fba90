//! Orders: the contract between a client and a freelancer, its strict state machine
//! ([`machine`]), milestones, deliveries, board, start/end codes, and the money each
//! transition moves through the [`crate::ledger`].
//!
//! Stripe's payment events reach the order through [`webhook`] (registered in
//! `src/http/webhooks.rs`).
//!
//! Owns `orders`, `order_milestones`, `order_history`, `order_deliverables`,
//! `order_board_items`, `order_codes`, `order_payments`, `payment_proofs` and `disputes`, and
//! books calendar days through [`crate::calendar::model`]. Every status, role, origin, stage
//! and purpose those rows hold is a typed enum of [`model`], shared by the services and the
//! GraphQL schema.
//! Invariants:
//! - only [`machine::decide`] allows a transition: its table names, per action, the states it
//!   starts from, who may take it (client, freelancer, admin, or the payment provider) and
//!   where it ends; COMPLETED, CANCELLED and DECLINED are final;
//! - money moves only with a transition, in its transaction: confirming a payment funds
//!   escrow and fixes the fee rate ([`crate::ledger::policy`]); approving the work, or an
//!   admin's settlement as COMPLETED, releases a funded escrow to the freelancer less the fee;
//!   cancelling, or an admin's settlement as CANCELLED, refunds it to the client; released
//!   earnings clear from pending to available 24 hours after completion (`clear_earnings`);
//! - an order is paid at once (stage FULL), or — a booking (`requestBooking`) of a gig that
//!   asks a deposit (`gigs.booking_deposit_bps`) — in two stages: `deposit_cents` is fixed
//!   when the booking is requested (each stage at least a cent); after acceptance the client
//!   pays the DEPOSIT (→ DEPOSIT_PAID, the fee rate fixed then), then the BALANCE before work
//!   starts (→ PAYMENT_CONFIRMED; `startWork` is a CONFLICT until then). Each stage, by card
//!   or by proof, is its own ledger transaction into escrow (`order:{id}:fund:{stage}`) and
//!   its own `order_payments` row, exactly once; `funded_at` is when the whole amount was in.
//!   Release, refunds and dispute rulings use everything held; refunds go back payment by
//!   payment (latest first), so cancelling with only the deposit paid refunds exactly the
//!   deposit (card: one Refund per payment intent, keyed `gigmarket:refund:{order}:{stage}`;
//!   manual: to the client's balance). No cancellation fee is kept: the client cancelling
//!   late gets the deposit back like any other payment before work starts;
//! - an order paid through Stripe Checkout (`createOrderCheckout`) is funded only by the
//!   webhook that reports the payment (PROVIDER_PAYMENT_SUCCEEDED, taken by the SYSTEM actor
//!   inside the webhook's recording transaction), once per order whichever event reports it
//!   (a payment the order cannot take goes back to the card, once per payment);
//!   cancelling it refunds the card (ledger to EXTERNAL plus a queued REFUND provider call,
//!   one per payment), a refund made in Stripe cancels it (PROVIDER_REFUNDED) and a card
//!   dispute freezes it (PROVIDER_DISPUTE) and charges the disputed payment back (anything
//!   else held goes back to the client), once per Stripe dispute (`service::card` says what
//!   happens in each state);
//! - an HOURLY order (made from an HOURLY task) is funded with a retainer — its weeks at the
//!   weekly cap — by the same payment paths; each approved weekly timesheet bills its price
//!   out of that escrow (`crate::timesheet`, `orders.billed_cents`), so the escrow an order
//!   holds is its amount less what was billed; ending the contract (`approveWork`, refused
//!   while a week with time in it is unbilled, or an admin's override) gives what is left back
//!   to the client, while an admin's ruling on a dispute divides what is left;
//! - a DISPUTED order and its escrow stay frozen until an admin settles it; every admin
//!   action on an order is audit-logged;
//! - only the parties and admins see an order; only the parties work on a live one (board,
//!   checklists, deliveries); an on-site order's start and end codes are shown once to the
//!   client, kept only as an HMAC, single use and valid for 15 minutes;
//! - each transition writes its history row, the `ORDER_UPDATED` event and the other
//!   parties' notifications in its transaction, or changes nothing.

pub mod codes;
pub mod graphql;
pub mod loaders;
pub mod machine;
pub mod model;
pub mod service;
pub mod webhook;
