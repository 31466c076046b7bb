//! `payments`: one row per payment, locked (`FOR UPDATE`) by every write to it so that its
//! events commit in version order.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::payments;

/// A payment row. Amounts are ISO 4217 minor units.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg), treat_none_as_default_value = false)]
pub struct Payment {
    /// Payment id (UUIDv7).
    pub id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// `authorized`, `declined`, `captured`, `voided`, `partially_refunded` or `refunded`.
    pub status: String,
    /// Uppercase ISO 4217 alpha-3 code.
    pub currency: String,
    /// Amount asked for at authorization.
    pub amount_minor: i64,
    /// Amount authorized (0 when declined).
    pub authorized_minor: i64,
    /// Amount captured.
    pub captured_minor: i64,
    /// Amount refunded so far.
    pub refunded_minor: i64,
    /// Payment method token.
    pub payment_method: String,
    /// Merchant's free text.
    pub description: Option<String>,
    /// Merchant's key/value pairs (a JSON object of strings).
    pub metadata: serde_json::Value,
    /// Why the authorization was declined.
    pub decline_reason: Option<String>,
    /// 1 after authorization, +1 per write.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last write.
    pub updated_at: DateTime<Utc>,
}

/// A payment to insert (the authorization write).
pub type NewPayment = Payment;

/// The columns a later write changes.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = payments)]
pub struct PaymentChange<'a> {
    /// New status.
    pub status: &'a str,
    /// New captured total.
    pub captured_minor: i64,
    /// New refunded total.
    pub refunded_minor: i64,
    /// New version (old + 1).
    pub version: i64,
    /// Time of this write.
    pub updated_at: DateTime<Utc>,
}

/// Inserts a new payment.
///
/// # Errors
/// Database errors, including check violations.
pub async fn insert(conn: &mut AsyncPgConnection, payment: &NewPayment) -> QueryResult<()> {
    diesel::insert_into(payments::table)
        .values(payment)
        .execute(conn)
        .await
        .map(drop)
}

/// Loads a merchant's payment and locks its row until the transaction ends.
/// `None` when it does not exist or belongs to another merchant.
///
/// # Errors
/// Database errors.
pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::id.eq(id))
        .filter(payments::merchant_id.eq(merchant_id))
        .select(Payment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Loads a merchant's payment; `None` when it does not exist or belongs to another merchant.
///
/// # Errors
/// Database errors.
pub async fn find(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::id.eq(id))
        .filter(payments::merchant_id.eq(merchant_id))
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()
}

/// Lists a merchant's payments newest first: at most `limit` rows with ids below `before`
/// (the cursor) when given.
///
/// # Errors
/// Database errors.
pub async fn list(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Payment>> {
    let mut query = payments::table
        .filter(payments::merchant_id.eq(merchant_id))
        .select(Payment::as_select())
        .order(payments::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(payments::id.lt(before));
    }
    query.load(conn).await
}

/// Applies a later write's change to a payment.
///
/// # Errors
/// Database errors, including check violations (for example refunded above captured).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    change: &PaymentChange<'_>,
) -> QueryResult<()> {
    diesel::update(payments::table.find(id))
        .set(change)
        .execute(conn)
        .await
        .map(drop)
}
