//! `merchants`: the tenants of the API.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::merchants;

/// A merchant row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = merchants, check_for_backend(diesel::pg::Pg))]
pub struct Merchant {
    /// Merchant id.
    pub id: Uuid,
    /// Display name, 1..=200 characters.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A merchant to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = merchants)]
pub struct NewMerchant<'a> {
    /// Merchant id.
    pub id: Uuid,
    /// Display name, 1..=200 characters.
    pub name: &'a str,
}

impl NewMerchant<'_> {
    /// Inserts the merchant and returns the stored row.
    ///
    /// # Errors
    /// Database errors, including a check violation for a bad name length.
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<Merchant> {
        diesel::insert_into(merchants::table)
            .values(self)
            .returning(Merchant::as_returning())
            .get_result(conn)
            .await
    }
}

/// A merchant with how many of its keys are active.
#[derive(Debug, Clone)]
pub struct MerchantSummary {
    /// The merchant.
    pub merchant: Merchant,
    /// Keys not revoked.
    pub active_keys: i64,
}

/// Every merchant, oldest first, with its count of active keys.
///
/// # Errors
/// Database errors.
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<MerchantSummary>> {
    use crate::schema::api_keys;
    let merchants: Vec<Merchant> = merchants::table
        .order((merchants::created_at, merchants::id))
        .select(Merchant::as_select())
        .load(conn)
        .await?;
    let counts: Vec<(Uuid, i64)> = api_keys::table
        .filter(api_keys::revoked_at.is_null())
        .group_by(api_keys::merchant_id)
        .select((api_keys::merchant_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let counts: std::collections::HashMap<Uuid, i64> = counts.into_iter().collect();
    Ok(merchants
        .into_iter()
        .map(|merchant| MerchantSummary {
            active_keys: counts.get(&merchant.id).copied().unwrap_or(0),
            merchant,
        })
        .collect())
}

/// Whether merchant `id` exists.
///
/// # Errors
/// Database errors.
pub async fn exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(merchants::table.find(id)))
        .get_result(conn)
        .await
}
