//! The input objects of the order mutations.

use async_graphql::{InputObject, Upload, ID};

use crate::{gig::graphql::PackageTier, graphql::types::Date};

/// What `orderGig` takes.
#[derive(InputObject)]
pub struct OrderGigInput {
    /// An ACTIVE gig of someone else; NOT_FOUND otherwise, CONFLICT for your own.
    pub gig_id: ID,
    /// The package to buy: it sets the price, delivery time and revisions. VALIDATION_ERROR
    /// when the gig has no such package.
    pub tier: PackageTier,
    /// What you need (up to 5,000 characters).
    #[graphql(default)]
    pub requirements: String,
    /// A date the work is for, from today up to 730 days ahead; blocked in the freelancer's
    /// calendar at once (CONFLICT when it is not free).
    pub scheduled_for: Option<Date>,
    /// Where on-site work happens (up to 300 characters); makes the order on-site
    /// (start/end codes).
    pub event_location: Option<String>,
}

/// What `requestBooking` takes.
#[derive(InputObject)]
pub struct RequestBookingInput {
    /// An ACTIVE gig of someone else; NOT_FOUND otherwise, CONFLICT for your own.
    pub gig_id: ID,
    /// The package to book: it sets the price, delivery time and revisions.
    pub tier: PackageTier,
    /// The day to book, from today up to 730 days ahead; it must be free (CONFLICT
    /// otherwise), and the freelancer must accept.
    pub date: Date,
    /// What you need (up to 5,000 characters).
    #[graphql(default)]
    pub requirements: String,
    /// Where on-site work happens (up to 300 characters); makes the order on-site
    /// (start/end codes).
    pub event_location: Option<String>,
}

/// A manual payment, as the client reports it.
#[derive(InputObject)]
pub struct PaymentProofInput {
    /// The transfer's reference, e.g. its transaction id (3 to 200 characters).
    pub reference: String,
    /// The name on the account that paid (2 to 200 characters).
    pub payer_name: String,
    /// The amount paid in minor units; must equal the order amount (VALIDATION_ERROR
    /// otherwise).
    pub amount_cents: i64,
}

/// A delivery for `submitWork`.
#[derive(InputObject)]
pub struct SubmitWorkInput {
    /// The order to deliver on; you must be its freelancer.
    pub order_id: ID,
    /// What was done (1 to 5,000 characters).
    pub message: String,
    /// Up to 10 http(s) links (repository, preview, …).
    #[graphql(default)]
    pub links: Vec<String>,
    /// Up to 5 files (images, PDF, ZIP, plain text) as GraphQL multipart uploads.
    #[graphql(default)]
    pub files: Vec<Upload>,
}
