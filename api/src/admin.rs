//! `payment-api admin`: merchants and API keys.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use payment_db::models::{NewApiKey, NewMerchant};
use secrecy::SecretString;
use uuid::Uuid;

use crate::auth;

/// A created merchant and its first key (shown once).
#[derive(Debug)]
pub struct CreatedMerchant {
    /// Merchant id.
    pub merchant_id: Uuid,
    /// The API key; never stored in clear.
    pub api_key: SecretString,
}

/// Creates a merchant and one API key in one transaction.
///
/// # Errors
/// Database errors, including a check violation when `name` is empty or over 200 characters.
pub async fn create_merchant(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<CreatedMerchant, diesel::result::Error> {
    let merchant_id = Uuid::now_v7();
    let key = auth::generate_key();
    conn.transaction(async move |conn| {
        NewMerchant {
            id: merchant_id,
            name,
        }
        .insert(conn)
        .await?;
        NewApiKey {
            id: Uuid::now_v7(),
            merchant_id,
            key_hash: &key.hash,
            key_prefix: &key.prefix,
        }
        .insert(conn)
        .await?;
        Ok(CreatedMerchant {
            merchant_id,
            api_key: key.secret,
        })
    })
    .await
}
