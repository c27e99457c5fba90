//! Balances and ledger entries over GraphQL.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{
    model::{AccountKind, AccountRow, EntryRow, TransactionKind, TransactionRow},
    service,
};
use crate::{
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{connection, list_cost, page_request, ListConnection},
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

// Not `AccountKind` itself: a user's entries only ever move their own two accounts, and the
// schema names them from the user's side.
/// Which of your balances an entry moved.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum BalanceKind {
    /// The balance you can withdraw.
    Available,
    /// Released earnings that have not cleared yet.
    Pending,
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
        match self.account.kind {
            AccountKind::UserPending => BalanceKind::Pending,
            _ => BalanceKind::Available,
        }
    }
    /// What the movement was part of.
    async fn kind(&self) -> TransactionKind {
        self.transaction.kind
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
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<LedgerEntry>> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::entries(&ctx.app().db, viewer, &request).await?;
        Ok(connection(
            page,
            |(entry, _, _)| entry.id,
            |(entry, transaction, account)| LedgerEntry {
                entry,
                transaction: Arc::new(transaction),
                account: Arc::new(account),
            },
        ))
    }
}
