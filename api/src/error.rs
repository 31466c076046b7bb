//! The one error type of the API and its two exhaustive mappings: to gRPC status codes
//! (<https://grpc.github.io/grpc/core/md_doc_statuscodes.html>) and to HTTP statuses with an
//! RFC 9457 `application/problem+json` body (see [`crate::rest::problem`]).
//!
//! Every variant has a stable, snake_case `code` that clients may branch on; REST sends it as
//! `code` in the problem body and gRPC as the `reason` of a `google.rpc.ErrorInfo` detail.
//! Messages are written here or by validators, never copied from input, Rust types or a
//! parser, and never contain secrets. Internal details go to the log only.

use std::borrow::Cow;

use axum::http::StatusCode;
use payment_db::db_error::DbFailure;
use tonic::Code;

/// `google.rpc.ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "payment-service";

/// The wait suggested by [`ApiError::retry_after`]: one second, the period of the per-merchant
/// rate limit (rates are per second) and longer than a write's usual transaction.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Everything a request can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read: unparseable JSON, a malformed id or header.
    /// gRPC INVALID_ARGUMENT, HTTP 400.
    #[error("{message}")]
    Malformed {
        /// Stable code, e.g. `malformed_json`.
        code: &'static str,
        /// Path of the offending field or header, when there is one.
        field: Option<String>,
        /// Safe, bounded message.
        message: Cow<'static, str>,
    },
    /// A REST body that is not `application/json`. gRPC INVALID_ARGUMENT, HTTP 415.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// A well-formed request with an invalid value. gRPC INVALID_ARGUMENT, HTTP 422.
    #[error("{message}")]
    InvalidField {
        /// Stable code, e.g. `amount_not_positive`.
        code: &'static str,
        /// Path of the offending field, e.g. `amount_minor` or `metadata`.
        field: Cow<'static, str>,
        /// Safe, bounded message.
        message: Cow<'static, str>,
    },
    /// Missing, malformed, unknown or revoked API key. gRPC UNAUTHENTICATED, HTTP 401.
    #[error("a valid API key is required: send `Authorization: Bearer <key>`")]
    Unauthenticated,
    /// No such payment for this merchant (including other merchants' payments).
    /// gRPC NOT_FOUND, HTTP 404.
    #[error("not found")]
    NotFound,
    /// The operation is not allowed in the payment's current status.
    /// gRPC FAILED_PRECONDITION, HTTP 409.
    #[error("cannot {operation} a payment whose status is {status}")]
    IllegalTransition {
        /// The refused operation (`capture`, `void`, `refund`).
        operation: &'static str,
        /// The payment's current status.
        status: &'static str,
    },
    /// The idempotency key was used before with a different request.
    /// gRPC FAILED_PRECONDITION, HTTP 422.
    #[error("this idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    /// A request with the same idempotency key is still being processed; retry later.
    /// gRPC ABORTED, HTTP 409.
    #[error("a request with this idempotency key is in progress; retry later")]
    IdempotencyKeyInFlight,
    /// The request is larger than the configured limit (after decompression).
    /// gRPC RESOURCE_EXHAUSTED, HTTP 413.
    #[error("the request is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit_bytes: usize,
    },
    /// A known REST path called with another method. gRPC UNIMPLEMENTED, HTTP 405.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// Another transaction holds the payment: the write waited `lock_timeout` for its row lock
    /// (SQLSTATE `55P03`), or lost a race ([`WRITE_ATTEMPTS`](crate::service::WRITE_ATTEMPTS)
    /// times: `40001` / `40P01`). Nothing was written; retry later. gRPC ABORTED, HTTP 409.
    #[error("the payment is being changed by another request; retry later")]
    Busy(BusyCause),
    /// Too many requests: the merchant's budget (with its [`RatePolicy`]) or the client
    /// address's key-lookup budget (`None`). gRPC RESOURCE_EXHAUSTED, HTTP 429.
    #[error("too many requests; retry later")]
    RateLimited {
        /// The merchant budget that was spent, for the `RateLimit` fields.
        policy: Option<RatePolicy>,
    },
    /// The shared rate limiter (Redis) did not answer in time and is set to fail closed.
    /// Nothing was written; retry later. gRPC UNAVAILABLE, HTTP 503.
    #[error("the rate limiter is temporarily unavailable; retry later")]
    RateLimiterUnavailable,
    /// The database cannot be reached, is going away or read-only (a failover), or did not
    /// answer within `statement_timeout`. gRPC UNAVAILABLE, HTTP 503.
    #[error("the service is temporarily unavailable; retry later")]
    DatabaseUnavailable,
    /// Anything else. gRPC INTERNAL, HTTP 500. The string is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A [`ApiError::InvalidField`] with a static message.
    pub fn invalid(
        code: &'static str,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::InvalidField {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`ApiError::Malformed`] about one field or header; an empty `field` means the
    /// request as a whole (no `field` is sent then).
    pub fn malformed(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        let field: String = field.into();
        Self::Malformed {
            code,
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
        }
    }

    /// An [`ApiError::Internal`] carrying a detail for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { code, .. } | Self::InvalidField { code, .. } => code,
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthenticated => "unauthenticated",
            Self::NotFound => "not_found",
            Self::IllegalTransition { .. } => "illegal_transition",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::RateLimiterUnavailable => "rate_limiter_unavailable",
            Self::Busy(_) => "busy",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The field path the error is about, if any (never empty: a body-level error has none).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Malformed { field, .. } => field.as_deref(),
            Self::InvalidField { field, .. } => {
                Some(field.as_ref()).filter(|field| !field.is_empty())
            }
            Self::UnsupportedMediaType
            | Self::Unauthenticated
            | Self::NotFound
            | Self::IllegalTransition { .. }
            | Self::IdempotencyKeyReused
            | Self::IdempotencyKeyInFlight
            | Self::PayloadTooLarge { .. }
            | Self::MethodNotAllowed
            | Self::RateLimited { .. }
            | Self::RateLimiterUnavailable
            | Self::Busy(_)
            | Self::DatabaseUnavailable
            | Self::Internal(_) => None,
        }
    }

    /// The HTTP status of this error on the REST surface.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidField { .. } | Self::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::IllegalTransition { .. } | Self::IdempotencyKeyInFlight | Self::Busy(_) => {
                StatusCode::CONFLICT
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::DatabaseUnavailable | Self::RateLimiterUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code of this error.
    pub fn grpc_code(&self) -> Code {
        match self {
            Self::Malformed { .. } | Self::UnsupportedMediaType | Self::InvalidField { .. } => {
                Code::InvalidArgument
            }
            Self::Unauthenticated => Code::Unauthenticated,
            Self::NotFound => Code::NotFound,
            Self::IllegalTransition { .. } | Self::IdempotencyKeyReused => Code::FailedPrecondition,
            Self::IdempotencyKeyInFlight | Self::Busy(_) => Code::Aborted,
            Self::PayloadTooLarge { .. } | Self::RateLimited { .. } => Code::ResourceExhausted,
            Self::MethodNotAllowed => Code::Unimplemented,
            Self::DatabaseUnavailable | Self::RateLimiterUnavailable => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// How long a client should wait before retrying, for the errors a retry can cure:
    /// rate limited, idempotency key in flight, database unavailable. Sent as `Retry-After`
    /// (whole seconds, RFC 9110 §10.2.3) on REST and as a `google.rpc.RetryInfo` detail on gRPC.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited {
                policy: Some(policy),
            } => Some(std::time::Duration::from_secs(policy.reset_secs.max(1))),
            Self::RateLimited { policy: None }
            | Self::IdempotencyKeyInFlight
            | Self::Busy(_)
            | Self::DatabaseUnavailable
            | Self::RateLimiterUnavailable => Some(RETRY_AFTER),
            Self::Malformed { .. }
            | Self::UnsupportedMediaType
            | Self::InvalidField { .. }
            | Self::Unauthenticated
            | Self::NotFound
            | Self::IllegalTransition { .. }
            | Self::IdempotencyKeyReused
            | Self::PayloadTooLarge { .. }
            | Self::MethodNotAllowed
            | Self::Internal(_) => None,
        }
    }

    /// The message sent to clients: for [`ApiError::Internal`] a generic text.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    /// Logs what clients do not see (internal and availability errors).
    pub fn log(&self) {
        match self {
            Self::Internal(detail) => {
                tracing::error!(error.code = self.code(), error.detail = %detail, "request failed")
            }
            Self::DatabaseUnavailable => {
                tracing::warn!(error.code = self.code(), "database unavailable")
            }
            _ => tracing::debug!(error.code = self.code(), "request rejected"),
        }
    }
}

/// A merchant budget as the IETF `RateLimit-Policy` / `RateLimit` fields state it
/// (draft-ietf-httpapi-ratelimit-headers): `quota` units (the burst) per `window_secs` (the
/// time an empty budget takes to refill), and `reset_secs` until the next unit is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    /// The budget's name: `writes` or `reads` ([`crate::rate_limit::RateClass`]).
    pub name: &'static str,
    /// Units the budget holds (the burst).
    pub quota: u32,
    /// Seconds an empty budget takes to refill (`burst / per_second`, rounded up).
    pub window_secs: u64,
    /// Seconds until the next unit is available (at least 1).
    pub reset_secs: u64,
}

/// Why a write found the payment [busy](ApiError::Busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyCause {
    /// The transaction lost a race (SQLSTATE `40001` / `40P01`); the service runs it again.
    LostRace,
    /// The row lock was not granted within `lock_timeout` (SQLSTATE `55P03`).
    LockTimeout,
}

/// Database errors by SQLSTATE ([`DbFailure`]): unavailable, timed out or read-only → 503;
/// lost races and lock timeouts → [`ApiError::Busy`]; anything else → 500 (logged).
impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        if matches!(error, diesel::result::Error::NotFound) {
            return Self::NotFound;
        }
        match DbFailure::of(&error) {
            DbFailure::Unavailable | DbFailure::StatementTimeout => {
                tracing::warn!(
                    sqlstate = payment_db::db_error::sql_state(&error).unwrap_or("none"),
                    error = %error,
                    "database unavailable"
                );
                Self::DatabaseUnavailable
            }
            DbFailure::RetryTransaction => Self::Busy(BusyCause::LostRace),
            DbFailure::LockTimeout => Self::Busy(BusyCause::LockTimeout),
            DbFailure::Other => Self::internal(error),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %error, "cannot get a database connection");
        Self::DatabaseUnavailable
    }
}

impl From<payment_db::outbox::OutboxError> for ApiError {
    fn from(error: payment_db::outbox::OutboxError) -> Self {
        match error {
            payment_db::outbox::OutboxError::Database(error) => error.into(),
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<ApiError> {
        vec![
            ApiError::malformed("malformed_json", "", "x"),
            ApiError::UnsupportedMediaType,
            ApiError::invalid("amount_not_positive", "amount_minor", "x"),
            ApiError::Unauthenticated,
            ApiError::NotFound,
            ApiError::IllegalTransition {
                operation: "void",
                status: "captured",
            },
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInFlight,
            ApiError::PayloadTooLarge { limit_bytes: 10 },
            ApiError::MethodNotAllowed,
            ApiError::Busy(BusyCause::LockTimeout),
            ApiError::RateLimited { policy: None },
            ApiError::RateLimiterUnavailable,
            ApiError::DatabaseUnavailable,
            ApiError::internal("boom"),
        ]
    }

    #[test]
    fn the_mapping_table_of_the_architecture_holds() {
        let table: Vec<(Code, u16)> = all()
            .iter()
            .map(|e| (e.grpc_code(), e.http_status().as_u16()))
            .collect();
        assert_eq!(
            table,
            vec![
                (Code::InvalidArgument, 400),
                (Code::InvalidArgument, 415),
                (Code::InvalidArgument, 422),
                (Code::Unauthenticated, 401),
                (Code::NotFound, 404),
                (Code::FailedPrecondition, 409),
                (Code::FailedPrecondition, 422),
                (Code::Aborted, 409),
                (Code::ResourceExhausted, 413),
                (Code::Unimplemented, 405),
                (Code::Aborted, 409),
                (Code::ResourceExhausted, 429),
                (Code::Unavailable, 503),
                (Code::Unavailable, 503),
                (Code::Internal, 500),
            ]
        );
    }

    #[test]
    fn internal_details_are_never_public() {
        let error = ApiError::internal("relation \"payments\" does not exist");
        assert_eq!(error.public_message(), "internal error");
    }
}
