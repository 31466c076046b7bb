//! The payment operations both surfaces call. Each write runs in ONE PostgreSQL transaction:
//! idempotency check (under a transaction-scoped advisory lock), row lock, transition,
//! balanced ledger entries, exactly one schema-valid outbox event, idempotency record.
//!
//! Writes run in their own task, so a client that disconnects or times out never abandons a
//! transaction half-way on a pooled connection: the write commits or rolls back as a whole,
//! and a retry with the same idempotency key gets its answer.

use std::sync::Arc;
use tracing::Instrument as _;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use payment_db::Database;
use payment_db::models::{
    NewIdempotencyRecord, NewLedgerEntry, PaymentChange, idempotency_record, ledger_entry, payment,
};
use payment_events::{CloudEvent, EventType, PaymentEventData};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::acquirer::{Acquirer, Decision};
use crate::domain::idempotency::{self, IdempotencyKey};
use crate::domain::ledger::{self, Posting};
use crate::domain::lifecycle::{self, PaymentStatus};
use crate::domain::money;
use crate::domain::payment::{AuthorizeCommand, AuthorizeRequest, Payment};
use crate::error::{ApiError, BusyCause};
use crate::rate_limit::{MerchantLimiter, RateClass};

/// How many times a write's transaction runs at most when the database reports a lost race.
pub const WRITE_ATTEMPTS: u32 = 3;
/// Pause before the second run of a write's transaction (doubled before the third).
pub const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);

/// Default page size of [`PaymentService::list`].
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page size of [`PaymentService::list`]; larger requests are capped.
pub const MAX_PAGE_SIZE: usize = 100;

/// Who is writing, and how: the authenticated merchant, the optional idempotency key and the
/// W3C `traceparent` to store with the event.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// Authenticated merchant.
    pub merchant_id: Uuid,
    /// Idempotency key, scoped per merchant and operation.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Trace context propagated to the event's Kafka headers.
    pub traceparent: String,
}

impl WriteContext {
    /// Builds the context from the raw `idempotency-key` and `traceparent` values, which REST
    /// headers and gRPC metadata carry alike.
    ///
    /// # Errors
    /// `idempotency_key_invalid` (HTTP 400, INVALID_ARGUMENT).
    pub fn from_raw(
        merchant_id: Uuid,
        idempotency_key: Option<&[u8]>,
        traceparent: Option<&[u8]>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            merchant_id,
            idempotency_key: idempotency_key.map(IdempotencyKey::parse).transpose()?,
            traceparent: crate::trace::event_traceparent(traceparent),
        })
    }
}

/// The answer of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The payment after the write (for a replay: as it was after the original write).
    pub payment: Payment,
    /// `true` when this is the stored answer of an earlier request with the same key.
    pub replayed: bool,
}

/// One page of [`PaymentService::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPage {
    /// Payments, newest first.
    pub payments: Vec<Payment>,
    /// Cursor of the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// A validated write, as fingerprinted for idempotency.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
enum WriteCommand {
    Authorize(AuthorizeCommand),
    Change { payment_id: Uuid, change: Change },
}

/// A later write to an existing payment; amounts in minor units, `None` meaning "the rest".
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    Capture { amount_minor: Option<i64> },
    Void,
    Refund { amount_minor: Option<i64> },
}

impl Change {
    fn operation(self) -> &'static str {
        match self {
            Self::Capture { .. } => "capture",
            Self::Void => "void",
            Self::Refund { .. } => "refund",
        }
    }

    /// The lifecycle rule of this change applied to the payment as it is.
    fn transition(self, current: &Payment) -> Result<lifecycle::Transition, ApiError> {
        let (status, amounts) = (current.status, current.amounts());
        match self {
            Self::Capture { amount_minor } => lifecycle::capture(status, amounts, amount_minor),
            Self::Void => lifecycle::void(status, amounts),
            Self::Refund { amount_minor } => lifecycle::refund(status, amounts, amount_minor),
        }
    }
}

impl WriteCommand {
    fn operation(&self) -> &'static str {
        match self {
            Self::Authorize(_) => "authorize",
            Self::Change { change, .. } => change.operation(),
        }
    }
}

/// Payment operations over a database (pool and transaction settings) and an acquirer.
/// Cheap to clone.
#[derive(Clone)]
pub struct PaymentService {
    db: Database,
    acquirer: Arc<dyn Acquirer>,
    authenticator: Arc<crate::auth::Authenticator>,
    limiter: MerchantLimiter,
    idempotency_key_ttl: std::time::Duration,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService").finish_non_exhaustive()
    }
}

/// Parses the text form of a UUID as RFC 9562 §4 writes it and JSON Schema's `format: uuid`
/// checks: 32 hex digits (either case) in groups of 8-4-4-4-12 joined by hyphens. The other
/// forms `uuid` would read (no hyphens, braces, `urn:uuid:`) are refused, so the server accepts
/// exactly what the API document allows.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    (raw.len() == 36)
        .then(|| Uuid::try_parse(raw).ok())
        .flatten()
}

/// Parses a payment id ([`parse_uuid`]).
///
/// # Errors
/// [`ApiError::Malformed`] `payment_id_invalid` (HTTP 400, INVALID_ARGUMENT).
pub fn parse_payment_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw).ok_or_else(|| {
        ApiError::malformed(
            "payment_id_invalid",
            "payment_id",
            "payment_id must be a UUID",
        )
    })
}

fn check_optional_amount(amount_minor: Option<i64>) -> Result<(), ApiError> {
    amount_minor
        .map_or(Ok(0), |amount| {
            money::check_positive(amount, "amount_minor")
        })
        .map(drop)
}

impl PaymentService {
    /// Creates the service; `limiter` applies per merchant to every call.
    pub fn new(
        db: Database,
        acquirer: Arc<dyn Acquirer>,
        auth: crate::auth::AuthSettings,
        limiter: MerchantLimiter,
        idempotency_key_ttl: std::time::Duration,
    ) -> Self {
        Self {
            db,
            acquirer,
            authenticator: Arc::new(crate::auth::Authenticator::new(auth)),
            limiter,
            idempotency_key_ttl,
        }
    }

    /// Authenticates an `Authorization` header value sent from `client` (its lookups are
    /// cached and limited per client, [`crate::auth::Authenticator`]) and spends one unit of
    /// the merchant's `class` budget ([`MerchantLimiter`]); both surfaces call this first.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`], [`ApiError::RateLimited`] (HTTP 429, RESOURCE_EXHAUSTED:
    /// the merchant's budget, or the client's lookup budget), [`ApiError::DatabaseUnavailable`],
    /// [`ApiError::RateLimiterUnavailable`] (Redis down and the limiter set to fail closed).
    pub async fn authenticate(
        &self,
        header: Option<&[u8]>,
        client: crate::peer::ClientAddr,
        class: RateClass,
    ) -> Result<Uuid, ApiError> {
        let principal = self
            .authenticator
            .authenticate(&self.db, header, client.0)
            .await?;
        crate::access::record_merchant(principal.merchant);
        self.limiter
            .check(principal.merchant, class, &principal.rate_limits)
            .await?;
        Ok(principal.merchant)
    }

    /// Rate-limit decisions the shared limiter (Redis) could not take in time since start.
    pub fn rate_limiter_errors(&self) -> u64 {
        self.limiter.errors()
    }

    /// Database lookups of API keys made so far (cache misses that passed the limit).
    pub fn key_lookups(&self) -> u64 {
        self.authenticator.lookups()
    }

    /// The database, for health checks and metrics.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Authorizes a payment. A decline is a success that stores a `declined` payment and a
    /// `payment.declined` event, with no ledger entries.
    ///
    /// # Errors
    /// Validation errors of [`AuthorizeRequest::validate`], `payment_method_unknown`,
    /// idempotency errors, [`ApiError::DatabaseUnavailable`], [`ApiError::Internal`].
    pub async fn authorize(
        &self,
        ctx: WriteContext,
        request: AuthorizeRequest,
    ) -> Result<WriteOutcome, ApiError> {
        let command = request.validate()?;
        self.write(ctx, WriteCommand::Authorize(command)).await
    }

    /// Captures an authorized payment, fully (`amount_minor` = `None`) or partially, once.
    ///
    /// # Errors
    /// `payment_id_invalid`, `amount_not_positive`, `amount_exceeds_authorized`,
    /// [`ApiError::NotFound`], [`ApiError::IllegalTransition`], idempotency and database errors.
    pub async fn capture(
        &self,
        ctx: WriteContext,
        payment_id: &str,
        amount_minor: Option<i64>,
    ) -> Result<WriteOutcome, ApiError> {
        self.change(ctx, payment_id, Change::Capture { amount_minor })
            .await
    }

    /// Voids an authorized payment before capture.
    ///
    /// # Errors
    /// `payment_id_invalid`, [`ApiError::NotFound`], [`ApiError::IllegalTransition`],
    /// idempotency and database errors.
    pub async fn void(
        &self,
        ctx: WriteContext,
        payment_id: &str,
    ) -> Result<WriteOutcome, ApiError> {
        self.change(ctx, payment_id, Change::Void).await
    }

    /// Refunds part (`Some`) or the rest (`None`) of the captured amount.
    ///
    /// # Errors
    /// `payment_id_invalid`, `amount_not_positive`, `amount_exceeds_refundable`,
    /// [`ApiError::NotFound`], [`ApiError::IllegalTransition`], idempotency and database errors.
    pub async fn refund(
        &self,
        ctx: WriteContext,
        payment_id: &str,
        amount_minor: Option<i64>,
    ) -> Result<WriteOutcome, ApiError> {
        self.change(ctx, payment_id, Change::Refund { amount_minor })
            .await
    }

    /// A later write: the payment id is parsed and a given amount checked before any
    /// transaction, so malformed input writes nothing.
    async fn change(
        &self,
        ctx: WriteContext,
        payment_id: &str,
        change: Change,
    ) -> Result<WriteOutcome, ApiError> {
        let payment_id = parse_payment_id(payment_id)?;
        if let Change::Capture { amount_minor } | Change::Refund { amount_minor } = change {
            check_optional_amount(amount_minor)?;
        }
        self.write(ctx, WriteCommand::Change { payment_id, change })
            .await
    }

    /// Returns one of the merchant's payments.
    ///
    /// # Errors
    /// `payment_id_invalid`, [`ApiError::NotFound`] (also for other merchants' payments),
    /// database errors.
    pub async fn get(&self, merchant_id: Uuid, payment_id: &str) -> Result<Payment, ApiError> {
        let payment_id = parse_payment_id(payment_id)?;
        self.db
            .transaction::<_, ApiError, _>(async |conn| {
                Ok(payment::find(conn, merchant_id, payment_id).await?)
            })
            .await?
            .ok_or(ApiError::NotFound)?
            .try_into()
    }

    /// Lists the merchant's payments newest first. `page_size` 0 means 20; above 100 is capped
    /// at 100. `page_token` is the `next_page_token` of the previous page, or empty.
    ///
    /// # Errors
    /// `page_size_invalid` for a negative size, `page_token_invalid`, database errors.
    pub async fn list(
        &self,
        merchant_id: Uuid,
        page_size: i64,
        page_token: &str,
    ) -> Result<PaymentPage, ApiError> {
        if page_size < 0 {
            return Err(ApiError::invalid(
                "page_size_invalid",
                "page_size",
                "page_size must not be negative",
            ));
        }
        let size = match usize::try_from(page_size).unwrap_or(MAX_PAGE_SIZE) {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let before = if page_token.is_empty() {
            None
        } else {
            Some(parse_uuid(page_token).ok_or_else(|| {
                ApiError::malformed(
                    "page_token_invalid",
                    "page_token",
                    "page_token must come from next_page_token",
                )
            })?)
        };
        // One extra row tells whether another page exists.
        let limit = i64::try_from(size + 1).unwrap_or(i64::MAX);
        let mut rows: Vec<_> = self
            .db
            .transaction::<_, ApiError, _>(async |conn| {
                Ok(payment::list(conn, merchant_id, before, limit).await?)
            })
            .await?;
        let more = rows.len() > size;
        rows.truncate(size);
        let next_page_token = if more {
            rows.last().map(|row| row.id.to_string())
        } else {
            None
        };
        let payments = rows
            .into_iter()
            .map(Payment::try_from)
            .collect::<Result<_, _>>()?;
        Ok(PaymentPage {
            payments,
            next_page_token,
        })
    }

    async fn write(
        &self,
        ctx: WriteContext,
        command: WriteCommand,
    ) -> Result<WriteOutcome, ApiError> {
        let fingerprint = idempotency::fingerprint(command.operation(), &command)?;
        let service = self.clone();
        // The task keeps the request's span, so its log lines carry the request id.
        tokio::spawn(
            async move { service.write_retrying(ctx, command, fingerprint).await }
                .in_current_span(),
        )
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs the write's transaction, again from the start when the database reports that it
    /// lost a race (`40001` serialization_failure, `40P01` deadlock_detected): at most
    /// [`WRITE_ATTEMPTS`] times, [`RETRY_PAUSE`] times the attempt number apart. Then the
    /// answer is [`ApiError::Busy`] (409 / ABORTED, retryable).
    async fn write_retrying(
        &self,
        ctx: WriteContext,
        command: WriteCommand,
        fingerprint: Vec<u8>,
    ) -> Result<WriteOutcome, ApiError> {
        let mut attempt = 1;
        loop {
            match self
                .write_in_transaction(&ctx, &command, &fingerprint)
                .await
            {
                Err(ApiError::Busy(BusyCause::LostRace)) if attempt < WRITE_ATTEMPTS => {
                    tracing::info!(attempt, "transaction lost a race: running it again");
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn write_in_transaction(
        &self,
        ctx: &WriteContext,
        command: &WriteCommand,
        fingerprint: &[u8],
    ) -> Result<WriteOutcome, ApiError> {
        let acquirer = Arc::clone(&self.acquirer);
        // Records created at or before this no longer answer: the key is free again.
        let expired_at = payment_db::retention::cutoff(self.idempotency_key_ttl);
        self.db
            .transaction(async move |conn| {
                let operation = command.operation();
                if let Some(key) = &ctx.idempotency_key {
                    if !idempotency_record::try_lock(conn, ctx.merchant_id, operation, key.as_str())
                        .await?
                    {
                        return Err(ApiError::IdempotencyKeyInFlight);
                    }
                    let found =
                        idempotency_record::find(conn, ctx.merchant_id, operation, key.as_str())
                            .await?;
                    if found
                        .as_ref()
                        .is_some_and(|record| record.created_at <= expired_at)
                    {
                        // Expired: a new request. Deleted in this transaction, so a refusal
                        // below leaves the old record as it was.
                        idempotency_record::delete(conn, ctx.merchant_id, operation, key.as_str())
                            .await?;
                    } else if let Some(record) = found {
                        if record.request_hash != fingerprint {
                            return Err(ApiError::IdempotencyKeyReused);
                        }
                        let payment =
                            serde_json::from_value(record.response).map_err(ApiError::internal)?;
                        return Ok(WriteOutcome {
                            payment,
                            replayed: true,
                        });
                    }
                }
                let payment = execute(conn, acquirer.as_ref(), ctx, command).await?;
                if let Some(key) = &ctx.idempotency_key {
                    let response = serde_json::to_value(&payment).map_err(ApiError::internal)?;
                    NewIdempotencyRecord {
                        merchant_id: ctx.merchant_id,
                        operation,
                        idempotency_key: key.as_str(),
                        request_hash: fingerprint,
                        payment_id: payment.id,
                        response: &response,
                    }
                    .insert(conn)
                    .await?;
                }
                Ok(WriteOutcome {
                    payment,
                    replayed: false,
                })
            })
            .await
    }
}

/// Applies one validated write on the locked payment and records its ledger entries and event.
async fn execute(
    conn: &mut AsyncPgConnection,
    acquirer: &dyn Acquirer,
    ctx: &WriteContext,
    command: &WriteCommand,
) -> Result<Payment, ApiError> {
    let now = Utc::now();
    let (row, event_type, event_amount, postings) = match command {
        WriteCommand::Authorize(command) => {
            let decision = acquirer.authorize(
                &command.payment_method,
                command.amount_minor,
                command.currency.code(),
            )?;
            let (status, authorized, reason, event_type, postings) = match decision {
                Decision::Approved => (
                    PaymentStatus::Authorized,
                    command.amount_minor,
                    None,
                    EventType::Authorized,
                    vec![ledger::hold(command.amount_minor)],
                ),
                Decision::Declined(reason) => (
                    PaymentStatus::Declined,
                    0,
                    Some(reason),
                    EventType::Declined,
                    Vec::new(),
                ),
            };
            let row = payment_db::models::Payment {
                id: Uuid::now_v7(),
                merchant_id: ctx.merchant_id,
                status: status.as_str().to_owned(),
                currency: command.currency.code().to_owned(),
                amount_minor: command.amount_minor,
                authorized_minor: authorized,
                captured_minor: 0,
                refunded_minor: 0,
                payment_method: command.payment_method.clone(),
                description: command.description.clone(),
                metadata: serde_json::to_value(&command.metadata).map_err(ApiError::internal)?,
                decline_reason: reason.map(|reason| reason.as_str().to_owned()),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            payment::insert(conn, &row).await?;
            (row, event_type, command.amount_minor, postings)
        }
        WriteCommand::Change { payment_id, change } => {
            let row = locked(conn, ctx.merchant_id, *payment_id).await?;
            let transition = change.transition(&Payment::try_from(row.clone())?)?;
            apply(conn, row, transition, now).await?
        }
    };
    record(
        conn,
        &row,
        event_type,
        event_amount,
        &postings,
        &ctx.traceparent,
    )
    .await?;
    row.try_into()
}

async fn locked(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    payment_id: Uuid,
) -> Result<payment_db::models::Payment, ApiError> {
    payment::find_for_update(conn, merchant_id, payment_id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Stores a transition on the locked row; returns the new row and what to record.
async fn apply(
    conn: &mut AsyncPgConnection,
    mut row: payment_db::models::Payment,
    transition: lifecycle::Transition,
    now: chrono::DateTime<Utc>,
) -> Result<(payment_db::models::Payment, EventType, i64, Vec<Posting>), ApiError> {
    row.status = transition.status.as_str().to_owned();
    row.captured_minor = transition.amounts.captured_minor;
    row.refunded_minor = transition.amounts.refunded_minor;
    row.version = row
        .version
        .checked_add(1)
        .ok_or_else(|| ApiError::internal("version overflow"))?;
    row.updated_at = now;
    payment::update(
        conn,
        row.id,
        &PaymentChange {
            status: &row.status,
            captured_minor: row.captured_minor,
            refunded_minor: row.refunded_minor,
            version: row.version,
            updated_at: now,
        },
    )
    .await?;
    Ok((
        row,
        transition.event_type,
        transition.event_amount_minor,
        transition.postings,
    ))
}

/// Inserts the balanced ledger entries and the one outbox event of a write.
async fn record(
    conn: &mut AsyncPgConnection,
    row: &payment_db::models::Payment,
    event_type: EventType,
    event_amount: i64,
    postings: &[Posting],
    traceparent: &str,
) -> Result<(), ApiError> {
    let event_id = Uuid::now_v7();
    let pairs: Vec<[NewLedgerEntry; 2]> = postings
        .iter()
        .map(|posting| {
            [(posting.debit, "debit"), (posting.credit, "credit")].map(|(account, direction)| {
                NewLedgerEntry {
                    transaction_id: event_id,
                    payment_id: row.id,
                    merchant_id: row.merchant_id,
                    account: account.as_str(),
                    direction,
                    amount_minor: posting.amount_minor,
                    currency: row.currency.clone(),
                    created_at: row.updated_at,
                }
            })
        })
        .collect();
    ledger_entry::insert_pairs(conn, pairs).await?;
    let event = CloudEvent::new(
        event_id,
        event_type,
        row.version,
        row.updated_at,
        PaymentEventData {
            payment_id: row.id,
            merchant_id: row.merchant_id,
            status: row.status.clone(),
            currency: row.currency.clone(),
            amount_minor: event_amount,
            authorized_minor: row.authorized_minor,
            captured_minor: row.captured_minor,
            refunded_minor: row.refunded_minor,
            decline_reason: row.decline_reason.clone(),
        },
    );
    payment_db::outbox::insert_event(conn, &event, traceparent).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_in_the_hyphenated_form_only() {
        let id = "0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e";
        assert_eq!(parse_uuid(id).unwrap().to_string(), id);
        assert!(parse_uuid(&id.to_uppercase()).is_some());
        for other in [
            "0192f0c17a4e7d2b9c1e2f3a4b5c6d7e",
            "{0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e}",
            "urn:uuid:0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e",
            "0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7",
            "",
        ] {
            assert!(parse_uuid(other).is_none(), "{other}");
            assert_eq!(
                parse_payment_id(other).unwrap_err().code(),
                "payment_id_invalid"
            );
        }
    }
}
