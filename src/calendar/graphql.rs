//! The calendar over GraphQL.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::NaiveDate;

use super::service::{self, DayStatus};
use crate::graphql::{
    context::ContextExt,
    types::{parse_id, Date},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AvailabilityStatus {
    /// Free to book.
    Available,
    /// Blocked by the freelancer.
    Unavailable,
    /// Booked by an order.
    Booked,
}

impl From<DayStatus> for AvailabilityStatus {
    fn from(s: DayStatus) -> Self {
        match s {
            DayStatus::Available => Self::Available,
            DayStatus::Unavailable => Self::Unavailable,
            DayStatus::Booked => Self::Booked,
        }
    }
}

/// One day of a freelancer's calendar.
#[derive(SimpleObject)]
pub struct AvailabilityDay {
    pub date: Date,
    pub status: AvailabilityStatus,
}

fn days(rows: Vec<(NaiveDate, DayStatus)>) -> Vec<AvailabilityDay> {
    rows.into_iter()
        .map(|(date, status)| AvailabilityDay {
            date: Date(date),
            status: status.into(),
        })
        .collect()
}

#[derive(InputObject)]
pub struct SetAvailabilityDatesInput {
    /// Up to 366 days, none in the past.
    pub dates: Vec<Date>,
    /// True frees the days, false blocks them.
    pub available: bool,
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// Each day of `from..=to` (at most 366 days) of a freelancer's calendar.
    async fn availability(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        from: Date,
        to: Date,
    ) -> async_graphql::Result<Vec<AvailabilityDay>> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(days(service::read(ctx.app(), user_id, from.0, to.0).await?))
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Frees or blocks days of your calendar; returns those days as they now stand.
    async fn set_availability_dates(
        &self,
        ctx: &Context<'_>,
        input: SetAvailabilityDatesInput,
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
