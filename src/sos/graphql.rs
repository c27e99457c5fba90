//! SOS over GraphQL: `raiseSos`, the `sosRaised` subscription (admins) and the `SosAlert`
//! type (admins list and handle alerts through `admin::graphql`).

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

pub use super::model::SosStatus;
use super::{
    model::SosRow,
    service::{self, Raise},
};
use crate::{
    events::topic,
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{connection, decode_event_cursor, page_request, ListConnection},
        subscription::topic_events,
        types::{parse_id, GeoPoint, GeoPointInput},
    },
    order::{graphql::Order, loaders::OrderById},
    profile::graphql::User,
};

pub struct SosAlert {
    row: Arc<SosRow>,
    event_cursor: Option<i64>,
}

impl SosAlert {
    pub fn new(row: SosRow) -> Self {
        Self {
            row: Arc::new(row),
            event_cursor: None,
        }
    }

    async fn admin(ctx: &Context<'_>, id: Option<Uuid>) -> async_graphql::Result<Option<User>> {
        match id {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
}

/// An emergency raised by a party of an order. Seen by its raiser and admins.
#[Object]
impl SosAlert {
    /// Opaque alert id; admins pass it to `acknowledgeSos` and `resolveSos`.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The order it was raised on.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        let row = ctx
            .loader()
            .load_one(OrderById(self.row.order_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(Order))
    }
    /// Who raised it.
    async fn raised_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.row.raised_by).await
    }
    /// Where the raiser was, exactly.
    async fn location(&self) -> GeoPoint {
        GeoPoint {
            lat: self.row.latitude,
            lng: self.row.longitude,
        }
    }
    /// What the raiser said, if anything.
    async fn message(&self) -> Option<&str> {
        self.row.message.as_deref()
    }
    /// OPEN, then ACKNOWLEDGED by an admin, then RESOLVED.
    async fn status(&self) -> SosStatus {
        self.row.status
    }
    /// The admin who acknowledged it.
    async fn acknowledged_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Self::admin(ctx, self.row.acknowledged_by).await
    }
    /// When an admin acknowledged it.
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.row.acknowledged_at
    }
    /// The admin who resolved it.
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Self::admin(ctx, self.row.resolved_by).await
    }
    /// When an admin resolved it.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.row.resolved_at
    }
    /// How it was resolved.
    async fn resolution_note(&self) -> Option<&str> {
        self.row.resolution_note.as_deref()
    }
    /// When it was raised.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// Set on subscription deliveries: pass it as `after` to resume from here.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|seq| seq.to_string())
    }
}

/// SOS alerts, newest first (`sosAlerts`, admins only).
pub async fn alerts(
    ctx: &Context<'_>,
    status: Option<SosStatus>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<SosAlert>> {
    let request = page_request(ctx, first, after.as_deref())?;
    let page = service::page(ctx.app(), status, &request).await?;
    Ok(connection(page, |row| row.id, SosAlert::new))
}

/// An SOS to raise.
#[derive(InputObject)]
pub struct RaiseSosInput {
    /// An order you are the client or the freelancer of, in PAYMENT_CONFIRMED, IN_PROGRESS,
    /// SUBMITTED or REVISION_REQUESTED.
    pub order_id: ID,
    /// Where you are now.
    pub location: GeoPointInput,
    /// What is happening (up to 1000 characters).
    pub message: Option<String>,
}

#[derive(Default)]
pub struct SosMutation;

#[Object]
impl SosMutation {
    /// Alerts the platform's admins at once that you need help on an order under way. While
    /// your alert on that order is unresolved, raising again answers it unchanged. FORBIDDEN
    /// for anyone but the order's client and freelancer; CONFLICT when the order is not under
    /// way; NOT_FOUND when it is not yours.
    async fn raise_sos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, where you are, and what is happening.")] input: RaiseSosInput,
    ) -> async_graphql::Result<SosAlert> {
        let viewer = ctx.viewer()?;
        let order_id = parse_id(&input.order_id, "orderId")?;
        let row = service::raise(
            ctx.app(),
            &viewer.user,
            Raise {
                order_id,
                lat: input.location.lat,
                lng: input.location.lng,
                message: input.message,
            },
        )
        .await?;
        Ok(SosAlert::new(row))
    }
}

#[derive(Default)]
pub struct SosSubscription;

#[Subscription]
impl SosSubscription {
    /// New SOS alerts as they are raised (admins only). Pass the last `eventCursor` you saw as
    /// `after` to first receive what you missed.
    async fn sos_raised(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The last `eventCursor` you received; later alerts are sent first.")] after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SosAlert>>> {
        ctx.admin()?;
        let after = decode_event_cursor(after.as_deref())?;
        let stream = topic_events(ctx.app().clone(), topic::admin_sos(), after).filter_map(|event| async move {
            let event = match event {
                Ok(event) => event,
                Err(e) => return Some(Err(e.into())),
            };
            if event.kind != service::SOS_RAISED {
                return None;
            }
            let row = event.decode::<SosRow>()?;
            Some(Ok(SosAlert {
                row,
                event_cursor: event.seq,
            }))
        });
        Ok(stream)
    }
}
