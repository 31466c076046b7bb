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
