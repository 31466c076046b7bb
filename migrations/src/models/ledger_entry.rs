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

/// A ledger entry to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ledger_entries)]
pub struct NewLedgerEntry<'a> {
    /// Groups the entries of one write; equals its outbox event id.
    pub transaction_id: Uuid,
    /// Payment the entry belongs to.
    pub payment_id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// Ledger account name.
    pub account: &'a str,
    /// `debit` or `credit`.
    pub direction: &'a str,
    /// Amount in ISO 4217 minor units, > 0.
    pub amount_minor: i64,
    /// Uppercase ISO 4217 alpha-3 code.
    pub currency: &'a str,
    /// Time of the write.
    pub created_at: DateTime<Utc>,
}

/// The insert values of one entry, owning their text.
type OwnedValues = (
    diesel::dsl::Eq<ledger_entries::transaction_id, Uuid>,
    diesel::dsl::Eq<ledger_entries::payment_id, Uuid>,
    diesel::dsl::Eq<ledger_entries::merchant_id, Uuid>,
    diesel::dsl::Eq<ledger_entries::account, String>,
    diesel::dsl::Eq<ledger_entries::direction, String>,
    diesel::dsl::Eq<ledger_entries::amount_minor, i64>,
    diesel::dsl::Eq<ledger_entries::currency, String>,
    diesel::dsl::Eq<ledger_entries::created_at, DateTime<Utc>>,
);

impl NewLedgerEntry<'_> {
    fn owned(&self) -> OwnedValues {
        use ledger_entries::dsl as l;
        (
            l::transaction_id.eq(self.transaction_id),
            l::payment_id.eq(self.payment_id),
            l::merchant_id.eq(self.merchant_id),
            l::account.eq(self.account.to_owned()),
            l::direction.eq(self.direction.to_owned()),
            l::amount_minor.eq(self.amount_minor),
            l::currency.eq(self.currency.to_owned()),
            l::created_at.eq(self.created_at),
        )
    }
}

/// Inserts the entries of one write.
///
/// A write posts debit/credit pairs, so entries go in as pairs: an insert of a fixed-size array
/// has a static query id and diesel caches its prepared statement (one round trip per insert),
/// whereas an insert of a slice is prepared anew every time (two round trips).
///
/// # Errors
/// Database errors; an unbalanced set fails at commit.
pub async fn insert_all(
    conn: &mut AsyncPgConnection,
    entries: &[NewLedgerEntry<'_>],
) -> QueryResult<()> {
    let pairs = entries.chunks_exact(2);
    let odd = pairs.remainder();
    for pair in pairs {
        if let [debit, credit] = pair {
            // Owned values: a cached statement's query id must be `'static`.
            diesel::insert_into(ledger_entries::table)
                .values([debit.owned(), credit.owned()])
                .execute(conn)
                .await?;
        }
    }
    if !odd.is_empty() {
        diesel::insert_into(ledger_entries::table)
            .values(odd)
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
