//! Whether the database the relay is given has the schema it needs: every migration embedded in
//! `payment-db` applied. Checked by every command after it connects, so an unmigrated database
//! ends a run with exit 4 and the remedy ("run `payment-api migrate`") instead of an SQL error
//! about a missing table. The check asks the catalogue (`to_regclass`) and diesel's own
//! migrations table; it matches no error text. It applies no migration: that is
//! `payment-api migrate`'s job, run once per deployment.

use std::collections::HashSet;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Tracked {
    #[diesel(sql_type = Bool)]
    tracked: bool,
}

#[derive(diesel::QueryableByName)]
struct Applied {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Versions of the `payment-db` migrations not applied to this database (empty when current;
/// every version when the database was never migrated). Two catalogue queries.
///
/// # Errors
/// Database errors.
pub async fn pending_migrations(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<String>> {
    let tracked: Tracked = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS tracked",
    )
    .get_result(conn)
    .await?;
    let applied: HashSet<String> = if tracked.tracked {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        HashSet::new()
    };
    let embedded = MigrationSource::<Pg>::migrations(&payment_db::migrations::MIGRATIONS)
        .map_err(diesel::result::Error::QueryBuilderError)?;
    let mut pending: Vec<String> = embedded
        .iter()
        .map(|migration| migration.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .collect();
    pending.sort();
    Ok(pending)
}

/// The reason given when `pending` migrations are missing: names the remedy.
pub fn not_migrated(pending: &[String]) -> String {
    format!(
        "the database is not migrated ({} pending migration(s), first {}): run `payment-api migrate`",
        pending.len(),
        pending.first().map_or("?", String::as_str)
    )
}
