//! Balances and ledger entries over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, Object, SimpleObject, ID,
};
use chrono::{DateTime, Utc};

use super::{
    model::{self, AccountRow, EntryRow, TransactionRow},
    service,
};
use crate::{
    error::AppError,
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{decode_cursor, encode_cursor, page_size, split_page, wants_total, Total},
    },
    order::{graphql::Order, loaders::OrderById},
};

/// Your money in one currency.
#[derive(SimpleObject)]
pub struct Balance {
    /// ISO 4217 code of both amounts.
    pub currency: String,
    /// Yours to withdraw, in minor units: cleared earnings and refunds of orders you paid for.
    pub available_cents: i64,
    /// Released earnings still clearing, in minor units; they become available once 24 hours
    /// have passed since the order completed.
    pub pending_cents: i64,
}

/// Which of your balances an entry moved.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum BalanceKind {
    /// The balance you can withdraw.
    Available,
    /// Released earnings that have not cleared yet.
    Pending,
}

/// What the ledger transaction behind an entry records.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum LedgerTransactionKind {
    /// A payment entered escrow.
    Fund,
    /// Escrow went to the freelancer and the platform fee.
    Release,
    /// Escrow went back to the client.
    Refund,
    /// Pending earnings became available.
    Clear,
}

pub struct LedgerEntry {
    entry: EntryRow,
    transaction: Arc<TransactionRow>,
    account: Arc<AccountRow>,
}

/// One movement on one of your balances: your side of a balanced double-entry ledger
/// transaction.
#[Object]
impl LedgerEntry {
    /// Opaque id of the entry.
    async fn id(&self) -> ID {
        ID(self.entry.id.to_string())
    }
    /// Positive when money came in, negative when it went out; minor units of `currency`.
    async fn amount_cents(&self) -> i64 {
        self.entry.amount_cents
    }
    /// ISO 4217 code of the balance that moved.
    async fn currency(&self) -> &str {
        &self.account.currency
    }
    /// Which of your balances moved.
    async fn balance(&self) -> BalanceKind {
        match self.account.kind.as_str() {
            "USER_PENDING" => BalanceKind::Pending,
            _ => BalanceKind::Available,
        }
    }
    /// What the movement was part of.
    async fn kind(&self) -> LedgerTransactionKind {
        match self.transaction.kind.as_str() {
            "RELEASE" => LedgerTransactionKind::Release,
            "REFUND" => LedgerTransactionKind::Refund,
            "CLEAR" => LedgerTransactionKind::Clear,
            _ => LedgerTransactionKind::Fund,
        }
    }
    /// The ledger transaction this entry belongs to.
    async fn transaction_id(&self) -> ID {
        ID(self.transaction.id.to_string())
    }
    /// A note for people, e.g. "Escrow released (800 bps fee)".
    async fn memo(&self) -> &str {
        &self.transaction.memo
    }
    /// The order the money moved for; null for movements not tied to an order.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        let Some(id) = self.transaction.order_id else {
            return Ok(None);
        };
        let row = ctx.loader().load_one(OrderById(id)).await.map_err(shared_error)?;
        Ok(row.map(Order))
    }
    /// When the money moved (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.entry.created_at
    }
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Your balances, one per currency you have had money in (empty until money first moves
    /// for you). UNAUTHORIZED when signed out.
    async fn my_balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Balance>> {
        let viewer = ctx.viewer()?.id();
        Ok(service::balances(&ctx.app().db, viewer)
            .await?
            .into_iter()
            .map(|(currency, available_cents, pending_cents)| Balance {
                currency,
                available_cents,
                pending_cents,
            })
            .collect())
    }

    /// The movements on your balances, newest first. UNAUTHORIZED when signed out.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, LedgerEntry, Total, EmptyFields>> {
        let viewer = ctx.viewer()?.id();
        let size = page_size(first, ctx.app().config.limits.max_page_size)?;
        let before = after
            .as_deref()
            .map(|c| {
                decode_cursor(c, "after").and_then(|k| {
                    k.parse::<i64>()
                        .map_err(|_| AppError::field("after", "is not a cursor from this list"))
                })
            })
            .transpose()?;
        let mut conn = ctx.app().db.conn().await.map_err(AppError::from)?;
        let rows = model::entries_of(&mut conn, viewer, before, size as i64 + 1)
            .await
            .map_err(AppError::from)?;
        let (rows, more) = split_page(rows, size);
        let total = if wants_total(ctx) {
            model::count_entries_of(&mut conn, viewer)
                .await
                .map_err(AppError::from)?
        } else {
            0
        };
        let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
        connection
            .edges
            .extend(rows.into_iter().map(|(entry, transaction, account)| {
                Edge::new(
                    encode_cursor(&entry.id.to_string()),
                    LedgerEntry {
                        entry,
                        transaction: Arc::new(transaction),
                        account: Arc::new(account),
                    },
                )
            }));
        Ok(connection)
    }
}
