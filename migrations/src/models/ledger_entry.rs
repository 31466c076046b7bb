//! `ledger_entries`: append-only double-entry lines. The database refuses updates and
//! deletes, and checks at commit that each transaction's debits equal its credits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::ledger_entries;

/// A ledger entry row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::pg::Pg))]
pub struct LedgerEntry {
    /// Entry id (ever-increasing).
    pub id: i64,
    /// Groups the entries of one write; equals its outbox event id.
    pub transaction_id: Uuid,
    /// Payment the entry belongs to.
    pub payment_id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// Ledger account name.
    pub account: String,
    /// `debit` or `credit`.
    pub direction: String,
    /// Amount in ISO 4217 minor units, > 0.
    pub amount_minor: i64,
    /// Uppercase ISO 4217 alpha-3 code.
    pub currency: String,
    /// Time of the write.
    pub created_at: DateTime<Utc>,
}

/// A ledger entry to insert. It owns its values (account and direction names are constants), so
/// a fixed-size batch of entries has a `'static` query id and diesel caches its statement.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
pub struct NewLedgerEntry {
    /// Groups the entries of one write; equals its outbox event id.
    pub transaction_id: Uuid,
    /// Payment the entry belongs to.
    pub payment_id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// Ledger account name.
    pub account: &'static str,
    /// `debit` or `credit`.
    pub direction: &'static str,
    /// Amount in ISO 4217 minor units, > 0.
    pub amount_minor: i64,
    /// Uppercase ISO 4217 alpha-3 code.
    pub currency: String,
    /// Time of the write.
    pub created_at: DateTime<Utc>,
}

/// Inserts the entries of one write, one debit/credit pair per statement: an insert of a
/// fixed-size array is prepared once per connection and cached (one round trip per pair), whereas
/// an insert of a slice is prepared anew every time (two round trips).
///
/// # Errors
/// Database errors; an unbalanced set fails at commit.
pub async fn insert_pairs(
    conn: &mut AsyncPgConnection,
    pairs: Vec<[NewLedgerEntry; 2]>,
) -> QueryResult<()> {
    for pair in pairs {
        diesel::insert_into(ledger_entries::table)
            .values(pair)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Lists a payment's entries in insertion order.
///
/// # Errors
/// Database errors.
pub async fn for_payment(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::payment_id.eq(payment_id))
        .order(ledger_entries::id.asc())
        .select(LedgerEntry::as_select())
        .load(conn)
        .await
}
