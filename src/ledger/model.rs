//! Rows and queries of the ledger.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    page::{Page, PageRequest},
    schema::{ledger_accounts, ledger_entries, ledger_transactions},
    text_enum::pg_enum,
};

pg_enum! {
    /// Which account money sits in (`ledger_accounts.kind`); see the module doc of `ledger`.
    pub enum AccountKind {
        /// What a user can withdraw.
        UserAvailable = "USER_AVAILABLE",
        /// A user's released earnings that have not cleared yet.
        UserPending = "USER_PENDING",
        /// Orders' money held by the platform between funding and settlement.
        PlatformEscrow = "PLATFORM_ESCROW",
        /// The platform's fees.
        PlatformFees = "PLATFORM_FEES",
        /// Outside the platform: payers' and payees' banks and cards.
        External = "EXTERNAL",
    }
}

pg_enum! {
    /// What the ledger transaction behind an entry records.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "LedgerTransactionKind")]
    pub enum TransactionKind {
        /// A payment entered escrow.
        Fund = "FUND",
        /// Escrow went to the freelancer and the platform fee.
        Release = "RELEASE",
        /// Escrow went back to the client.
        Refund = "REFUND",
        /// Pending earnings became available.
        Clear = "CLEAR",
        /// Available earnings left for the user's connected account (a Stripe transfer).
        Payout = "PAYOUT",
        /// A payment-provider call Stripe finally refused (a transfer, a card refund): the
        /// amount came back to the user's available balance.
        Reversal = "REVERSAL",
        /// A card dispute took an order's money back out of escrow.
        Chargeback = "CHARGEBACK",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ledger_accounts, check_for_backend(diesel::pg::Pg))]
pub struct AccountRow {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub kind: AccountKind,
    pub currency: String,
    pub balance_cents: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ledger_transactions, check_for_backend(diesel::pg::Pg))]
pub struct TransactionRow {
    pub id: Uuid,
    pub kind: TransactionKind,
    pub idempotency_key: String,
    pub order_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::pg::Pg))]
pub struct EntryRow {
    pub id: i64,
    pub transaction_id: Uuid,
    pub account_id: Uuid,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ledger_entries)]
pub struct NewEntry {
    pub transaction_id: Uuid,
    pub account_id: Uuid,
    pub amount_cents: i64,
}

/// The id of an account, created on first use.
pub async fn account_id(
    conn: &mut AsyncPgConnection,
    owner_id: Option<Uuid>,
    kind: AccountKind,
    currency: &str,
) -> QueryResult<Uuid> {
    if let Some(id) = find_account(conn, owner_id, kind, currency).await? {
        return Ok(id);
    }
    diesel::insert_into(ledger_accounts::table)
        .values(AccountRow {
            id: Uuid::now_v7(),
            owner_id,
            kind,
            currency: currency.to_owned(),
            balance_cents: 0,
            created_at: Utc::now(),
        })
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    find_account(conn, owner_id, kind, currency)
        .await?
        .ok_or(diesel::result::Error::NotFound)
}

async fn find_account(
    conn: &mut AsyncPgConnection,
    owner_id: Option<Uuid>,
    kind: AccountKind,
    currency: &str,
) -> QueryResult<Option<Uuid>> {
    let mut query = ledger_accounts::table
        .filter(ledger_accounts::kind.eq(kind))
        .filter(ledger_accounts::currency.eq(currency.to_owned()))
        .select(ledger_accounts::id)
        .into_boxed();
    query = match owner_id {
        Some(owner) => query.filter(ledger_accounts::owner_id.eq(owner)),
        None => query.filter(ledger_accounts::owner_id.is_null()),
    };
    query.first::<Uuid>(conn).await.optional()
}

/// Inserts a transaction unless its idempotency key is taken; true when inserted.
pub async fn insert_transaction(conn: &mut AsyncPgConnection, row: &TransactionRow) -> QueryResult<bool> {
    let inserted = diesel::insert_into(ledger_transactions::table)
        .values(row)
        .on_conflict(ledger_transactions::idempotency_key)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

pub async fn insert_entries(conn: &mut AsyncPgConnection, entries: &[NewEntry]) -> QueryResult<()> {
    diesel::insert_into(ledger_entries::table)
        .values(entries)
        .execute(conn)
        .await
        .map(drop)
}

/// A user's accounts, by currency then kind.
pub async fn accounts_of(conn: &mut AsyncPgConnection, owner_id: Uuid) -> QueryResult<Vec<AccountRow>> {
    ledger_accounts::table
        .filter(ledger_accounts::owner_id.eq(owner_id))
        .order((ledger_accounts::currency, ledger_accounts::kind))
        .select(AccountRow::as_select())
        .load(conn)
        .await
}

/// An entry on one of a user's accounts, with its transaction and the account.
pub type EntryLine = (EntryRow, TransactionRow, AccountRow);

/// A page of the entries on a user's accounts, newest first (keyed by entry id).
pub async fn entries_page(
    conn: &mut AsyncPgConnection,
    owner_id: Uuid,
    request: &PageRequest<i64>,
) -> QueryResult<Page<EntryLine>> {
    request
        .fetch(
            conn,
            async |c, before, limit| entries_of(c, owner_id, before.copied(), limit).await,
            async |c| count_entries_of(c, owner_id).await,
        )
        .await
}

/// Up to `limit` entries on a user's accounts, newest first, strictly older than `before`.
async fn entries_of(
    conn: &mut AsyncPgConnection,
    owner_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EntryLine>> {
    let mut query = ledger_entries::table
        .inner_join(ledger_transactions::table)
        .inner_join(ledger_accounts::table)
        .filter(ledger_accounts::owner_id.eq(owner_id))
        .order(ledger_entries::id.desc())
        .limit(limit)
        .select((
            EntryRow::as_select(),
            TransactionRow::as_select(),
            AccountRow::as_select(),
        ))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(ledger_entries::id.lt(before));
    }
    query.load(conn).await
}

/// How many entries a user's accounts have.
async fn count_entries_of(conn: &mut AsyncPgConnection, owner_id: Uuid) -> QueryResult<i64> {
    ledger_entries::table
        .inner_join(ledger_accounts::table)
        .filter(ledger_accounts::owner_id.eq(owner_id))
        .count()
        .get_result(conn)
        .await
}
