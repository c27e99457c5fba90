//! The calendar over GraphQL.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::NaiveDate;

use super::{model::AvailabilityStatus, service};
use crate::graphql::{
    context::ContextExt,
    types::{parse_id, Date},
};

/// One day of a freelancer's calendar.
#[derive(SimpleObject)]
pub struct AvailabilityDay {
    /// The calendar day (`YYYY-MM-DD`, no time zone).
    pub date: Date,
    /// Whether the day can be booked.
    pub status: AvailabilityStatus,
}

fn days(rows: Vec<(NaiveDate, AvailabilityStatus)>) -> Vec<AvailabilityDay> {
    rows.into_iter()
        .map(|(date, status)| AvailabilityDay {
            date: Date(date),
            status,
        })
        .collect()
}

/// Days to free or block in your calendar.
#[derive(InputObject)]
pub struct SetAvailabilityDatesInput {
    /// 1 to 366 days, none in the past; repeats are ignored.
    pub dates: Vec<Date>,
    /// True frees the days, false blocks them. Days booked by an order cannot be freed
    /// (CONFLICT); cancelling the order frees them.
    pub available: bool,
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// Each day of `from..=to` (at most 366 days) of a freelancer's calendar. No sign-in
    /// needed; NOT_FOUND for unknown or banned users.
    async fn availability(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The freelancer.")] user_id: ID,
        #[graphql(desc = "The first day, inclusive.")] from: Date,
        #[graphql(desc = "The last day, inclusive: from `from` up to 365 days after it.")] to: Date,
    ) -> async_graphql::Result<Vec<AvailabilityDay>> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(days(service::read(ctx.app(), user_id, from.0, to.0).await?))
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Frees or blocks days of your calendar; returns those days as they now stand, in date
    /// order. CONFLICT when freeing a day an order booked.
    async fn set_availability_dates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days and whether to free or block them.")] input: SetAvailabilityDatesInput,
    ) -> async_graphql::Result<Vec<AvailabilityDay>> {
        let viewer = ctx.viewer()?.id();
        Ok(days(
            service::set_days(
                ctx.app(),
                viewer,
                input.dates.into_iter().map(|d| d.0).collect(),
                input.available,
            )
            .await?,
        ))
    }
}
