//! Hourly contracts over GraphQL: `Timesheet`, `TimeEntry`, `timesheet`, `timesheets`, and
//! `logTime`, `updateTimeEntry`, `deleteTimeEntry`, `submitTimesheet`, `approveTimesheet`,
//! `disputeTimesheet`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Duration, Utc};

pub use super::model::TimesheetStatus;
use super::{
    loaders::{EntriesOf, TimesheetById},
    model::{EntryRow, TimesheetRow},
    service::{self, EntryInput, EntryPatch},
};
use crate::{
    graphql::{
        context::ContextExt,
        loader::{load_list, shared_error},
        pagination::{connection, list_cost, page_request, ListConnection},
        types::{parse_id, Date},
    },
    order::graphql::Order,
    profile::graphql::User,
};

/// One ISO week (Monday to Sunday) of an hourly order: the time the freelancer logged in
/// it, its price at the order's rate, and where its review stands. Weeks are the entries'
/// calendar dates as the freelancer writes them (their own time zone). Seen by the order's
/// parties and admins; NOT_FOUND for anyone else.
#[derive(async_graphql::Description)]
pub struct Timesheet(Arc<TimesheetRow>);

impl Timesheet {
    pub fn new(row: TimesheetRow) -> Self {
        Timesheet(Arc::new(row))
    }
}

#[Object(use_type_description)]
impl Timesheet {
    /// The timesheet's id (pass it to `submitTimesheet`, `approveTimesheet`,
    /// `disputeTimesheet`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The hourly order it belongs to.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Order::on_record(ctx, self.0.order_id).await
    }
    /// The Monday that starts the week.
    async fn week_start(&self) -> Date {
        Date(self.0.week_start)
    }
    /// The Sunday that ends the week.
    async fn week_end(&self) -> Date {
        Date(self.0.week_start + Duration::days(6))
    }
    /// Where the week stands.
    async fn status(&self) -> TimesheetStatus {
        self.0.status
    }
    /// The week's logged time in minutes (the sum of its entries).
    async fn minutes(&self) -> i32 {
        self.0.minutes
    }
    /// The week's price: `minutes` at the order's hourly rate, rounded half up, in minor units
    /// of the order's currency.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// The platform fee kept when the week was billed (at the order's `feeBps`); null until
    /// it is APPROVED.
    async fn fee_cents(&self) -> Option<i64> {
        self.0.fee_cents
    }
    /// What the freelancer received for the week (`amountCents` less `feeCents`); null until
    /// it is APPROVED.
    async fn payout_cents(&self) -> Option<i64> {
        self.0.fee_cents.map(|fee| self.0.amount_cents - fee)
    }
    /// When the freelancer last submitted the week (UTC).
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    /// While SUBMITTED: when the week is approved on its own if the client has not answered
    /// (`TIMESHEET_REVIEW_WINDOW_HOURS` after submission, 72 unless configured).
    async fn review_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.review_due_at
    }
    /// When the client last approved or disputed the week, or the window approved it (UTC).
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// Who last decided: the client; null when the review window approved it.
    async fn decided_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.decided_by {
            Some(id) => User::on_record(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Whether the week was approved because the review window closed unanswered.
    async fn auto_approved(&self) -> bool {
        self.0.auto_approved
    }
    /// The client's reason the last time they disputed the week; null if they never did.
    async fn dispute_reason(&self) -> Option<&str> {
        self.0.dispute_reason.as_deref()
    }
    /// The week's entries, by day and start.
    async fn entries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TimeEntry>> {
        let rows = load_list(ctx, EntriesOf(self.0.id)).await?;
        Ok(rows.iter().cloned().map(|e| TimeEntry(Arc::new(e))).collect())
    }
    /// When the week got its first entry (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the week last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A stretch of work the freelancer logged on one day: from `startTime` for `minutes`,
/// within the day, overlapping no other entry of that day.
#[derive(async_graphql::Description)]
pub struct TimeEntry(Arc<EntryRow>);

#[Object(use_type_description)]
impl TimeEntry {
    /// The entry's id (pass it to `updateTimeEntry`, `deleteTimeEntry`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The week it is logged in.
    async fn timesheet(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Timesheet>> {
        let row = ctx
            .loader()
            .load_one(TimesheetById(self.0.timesheet_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(Timesheet))
    }
    /// The day worked.
    async fn date(&self) -> Date {
        Date(self.0.work_date)
    }
    /// When the work started, `HH:MM` (24-hour, the freelancer's own time).
    async fn start_time(&self) -> String {
        self.0.start_time.format("%H:%M").to_string()
    }
    /// When the work ended, `HH:MM` (`24:00` for an entry that runs to midnight).
    async fn end_time(&self) -> String {
        let end = super::rules::end_minute(self.0.start_time, self.0.minutes);
        format!("{:02}:{:02}", end / 60, end % 60)
    }
    /// How long, in minutes.
    async fn minutes(&self) -> i32 {
        self.0.minutes
    }
    /// What was done (may be empty).
    async fn note(&self) -> &str {
        &self.0.note
    }
    /// When the entry was logged (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the entry last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Time to log on an hourly order.
#[derive(InputObject)]
pub struct LogTimeInput {
    /// The hourly order (IN_PROGRESS or REVISION_REQUESTED) you work on.
    pub order_id: ID,
    /// The day worked: not after today in your profile's time zone (UTC when unset), not
    /// before the order was funded. Its ISO week must still be OPEN (or DISPUTED).
    pub date: Date,
    /// When you started, `HH:MM` (24-hour). The entry may not overlap another of that day.
    pub start_time: String,
    /// How long, at least 1 minute, ending by midnight. The week may not pass the order's
    /// weekly cap, nor the time not yet billed cost more than the escrow holds
    /// (LIMIT_EXCEEDED).
    pub minutes: i32,
    /// What you did: up to 1,000 characters.
    #[graphql(default)]
    pub note: String,
}

/// Changes to one of your time entries; omitted fields stay as they are. The same rules as
/// `logTime` apply to the result.
#[derive(InputObject)]
pub struct UpdateTimeEntryInput {
    /// The entry.
    pub id: ID,
    /// Another day (it may move the entry to another week that is still OPEN or DISPUTED).
    pub date: Option<Date>,
    /// Another start, `HH:MM`.
    pub start_time: Option<String>,
    /// Another length, in minutes.
    pub minutes: Option<i32>,
    /// Another note.
    pub note: Option<String>,
}

/// A dispute of a submitted week.
#[derive(InputObject)]
pub struct DisputeTimesheetInput {
    /// The SUBMITTED timesheet.
    pub id: ID,
    /// What is wrong with it, for the freelancer to amend: 3 to 2,000 characters.
    pub reason: String,
}

#[derive(Default)]
pub struct TimesheetQuery;

#[Object]
impl TimesheetQuery {
    /// A timesheet of an order you are a party of (admins: any); NOT_FOUND otherwise.
    async fn timesheet(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The timesheet's `id`.")] id: ID,
    ) -> async_graphql::Result<Timesheet> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Timesheet::new(service::find(ctx.app(), &viewer.user, id).await?))
    }

    /// The weekly timesheets of an hourly order you are a party of (admins: any), latest
    /// week first, with each week's totals; NOT_FOUND for anyone else's order.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn timesheets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] order_id: ID,
        #[graphql(desc = "Only weeks in this status.")] status: Option<TimesheetStatus>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Timesheet>> {
        let viewer = ctx.viewer()?;
        let order_id = parse_id(&order_id, "orderId")?;
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::page(ctx.app(), &viewer.user, order_id, status, &request).await?;
        Ok(connection(page, |t: &TimesheetRow| t.week_start, Timesheet::new))
    }
}

/// What a mutation does to a week (or, deleting, to one of its entries).
enum WeekStep<'a> {
    DeleteEntry,
    Submit,
    Approve,
    Dispute(&'a str),
}

/// Takes `step` on the week (or entry) `id` as the viewer; answers the week.
async fn week_step(ctx: &Context<'_>, id: &ID, step: WeekStep<'_>) -> async_graphql::Result<Timesheet> {
    let viewer = &ctx.viewer()?.user;
    let id = parse_id(id, "id")?;
    let app = ctx.app();
    let row = match step {
        WeekStep::DeleteEntry => service::delete_entry(app, viewer, id).await?,
        WeekStep::Submit => service::submit(app, viewer, id).await?,
        WeekStep::Approve => service::approve(app, viewer, id).await?,
        WeekStep::Dispute(reason) => service::dispute(app, viewer, id, reason).await?,
    };
    Ok(Timesheet::new(row))
}

#[derive(Default)]
pub struct TimesheetMutation;

/// Every timesheet mutation answers NOT_FOUND for orders, weeks and entries that are not
/// yours, FORBIDDEN when the other party must take the action, and CONFLICT when the order
/// is fixed-price or not under way, or the week's status does not allow it.
#[Object]
impl TimesheetMutation {
    /// Freelancer: logs time on an hourly order, into the timesheet of the date's week (made
    /// when its first entry is logged). VALIDATION_ERROR for a future date or an overlap;
    /// LIMIT_EXCEEDED past the weekly cap or the escrow.
    async fn log_time(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, the day, the start, the length and a note.")] input: LogTimeInput,
    ) -> async_graphql::Result<TimeEntry> {
        let viewer = ctx.viewer()?;
        let input = EntryInput {
            order_id: parse_id(&input.order_id, "orderId")?,
            date: input.date.0,
            start_time: input.start_time,
            minutes: input.minutes,
            note: input.note,
        };
        Ok(TimeEntry(Arc::new(
            service::log_time(ctx.app(), &viewer.user, input).await?,
        )))
    }

    /// Freelancer: changes an entry of a week that is OPEN or DISPUTED.
    async fn update_time_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry and what changes.")] input: UpdateTimeEntryInput,
    ) -> async_graphql::Result<TimeEntry> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&input.id, "id")?;
        let patch = EntryPatch {
            date: input.date.map(|d| d.0),
            start_time: input.start_time,
            minutes: input.minutes,
            note: input.note,
        };
        Ok(TimeEntry(Arc::new(
            service::update_entry(ctx.app(), &viewer.user, id, patch).await?,
        )))
    }

    /// Freelancer: deletes an entry of a week that is OPEN or DISPUTED; returns the week.
    async fn delete_time_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry.")] id: ID,
    ) -> async_graphql::Result<Timesheet> {
        week_step(ctx, &id, WeekStep::DeleteEntry).await
    }

    /// Freelancer: submits an OPEN (or DISPUTED) week with time in it for the client's
    /// review; its entries freeze. The client is notified; unanswered, it is approved when
    /// the review window closes.
    async fn submit_timesheet(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The timesheet.")] id: ID,
    ) -> async_graphql::Result<Timesheet> {
        week_step(ctx, &id, WeekStep::Submit).await
    }

    /// Client: approves a SUBMITTED week, which bills it: its price leaves escrow for the
    /// freelancer, less the order's fee. Approving twice (or at once) bills once; the others
    /// get CONFLICT.
    async fn approve_timesheet(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The timesheet.")] id: ID,
    ) -> async_graphql::Result<Timesheet> {
        week_step(ctx, &id, WeekStep::Approve).await
    }

    /// Client: disputes a SUBMITTED week with a reason: it goes back to the freelancer
    /// (DISPUTED) to amend its entries and submit it again. Nothing is billed. (To contest
    /// the contract itself, open a dispute on the order.)
    async fn dispute_timesheet(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The week and why you dispute it.")] input: DisputeTimesheetInput,
    ) -> async_graphql::Result<Timesheet> {
        week_step(ctx, &input.id, WeekStep::Dispute(&input.reason)).await
    }
}
