//! The REST mirror of `payments.v1.PaymentService` under `/v1`. Handlers only translate:
//! extract, call [`PaymentService`](crate::service::PaymentService), render.

pub mod extract;
pub mod problem;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::idempotency;
use crate::domain::payment::{AmountRequest, AuthorizeRequest, Payment, VoidRequest};
use crate::error::ApiError;
use crate::rest::problem::Problem;
use crate::service::WriteOutcome;
use crate::state::AppState;
use extract::{ApiJson, Merchant, OptionalApiJson, PaymentIdPath, Write};

/// Query of `GET /v1/payments`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size: default 20, capped at 100.
    pub page_size: Option<i64>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

impl ListQuery {
    /// Reads a URL query (`application/x-www-form-urlencoded`, as RFC 3986 §3.4 queries are).
    ///
    /// # Errors
    /// 400 `query_invalid` naming the parameter: an unknown or repeated parameter (an unknown
    /// name is input: sent masked and bounded), or a `page_size` that is not an integer;
    /// 400 `page_token_invalid` for an empty `page_token`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut query = Self::default();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let repeated = || {
                ApiError::malformed(
                    "query_invalid",
                    name.to_string(),
                    "a query parameter appears more than once",
                )
            };
            match name.as_ref() {
                "page_size" => {
                    let size = value.parse().map_err(|_| {
                        ApiError::malformed(
                            "query_invalid",
                            "page_size",
                            "page_size must be an integer",
                        )
                    })?;
                    if query.page_size.replace(size).is_some() {
                        return Err(repeated());
                    }
                }
                "page_token" => {
                    if value.is_empty() {
                        // Absent means the first page; an empty token is a client bug (an
                        // absent `next_page_token` sent back) that would restart the listing.
                        return Err(ApiError::malformed(
                            "page_token_invalid",
                            "page_token",
                            "page_token must come from next_page_token; leave it out for the first page",
                        ));
                    }
                    if query.page_token.replace(value.into_owned()).is_some() {
                        return Err(repeated());
                    }
                }
                _ => {
                    let name = crate::domain::pan::bounded_masked(&name, MAX_QUERY_NAME_CHARS);
                    return Err(ApiError::malformed(
                        "query_invalid",
                        name,
                        "unknown query parameter: this route takes page_size and page_token",
                    ));
                }
            }
        }
        Ok(query)
    }
}

/// Longest unknown query parameter name repeated in an error.
const MAX_QUERY_NAME_CHARS: usize = 64;

/// A page of payments.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentList {
    /// Payments, newest first.
    pub payments: Vec<Payment>,
    /// Cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Error responses of the write routes (RFC 9457 problem details).
#[derive(utoipa::IntoResponses)]
#[expect(
    dead_code,
    reason = "describes responses for the OpenAPI document; never built"
)]
enum WriteErrors {
    #[response(
        status = 400,
        description = "Malformed request (bad JSON, id or header)",
        content_type = "application/problem+json"
    )]
    Status400(Problem),
    #[response(
        status = 401,
        description = "Missing or bad API key",
        content_type = "application/problem+json"
    )]
    Status401(Problem),
    #[response(
        status = 404,
        description = "No such payment for this merchant",
        content_type = "application/problem+json"
    )]
    Status404(Problem),
    #[response(
        status = 409,
        description = "Illegal transition (`illegal_transition`); the same idempotency key is in flight (`idempotency_key_in_flight`); or the payment is busy: locked by another transaction past the lock timeout, or a lost race (`busy`). The last two carry `Retry-After`",
        content_type = "application/problem+json",
        headers(("Retry-After" = Option<u64>, description = "Seconds to wait before retrying; sent with `idempotency_key_in_flight` and `busy`"))
    )]
    Status409(Problem),
    #[response(
        status = 413,
        description = "Request larger than the limit",
        content_type = "application/problem+json"
    )]
    Status413(Problem),
    #[response(
        status = 415,
        description = "Body is not application/json",
        content_type = "application/problem+json"
    )]
    Status415(Problem),
    #[response(
        status = 422,
        description = "Invalid value, or idempotency key reused with another request",
        content_type = "application/problem+json"
    )]
    Status422(Problem),
    #[response(
        status = 429,
        description = "Too many requests for this merchant, or too many key lookups from this address (`rate_limited`)",
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u64, description = "Seconds to wait before retrying"),
            ("RateLimit-Policy" = Option<String>, description = "The merchant's budget of this class of call (draft-ietf-httpapi-ratelimit-headers), e.g. `\"writes\";q=200;w=2`: `q` units (the burst) refilled in `w` seconds; the classes are `writes` (authorize, capture, void, refund) and `reads` (get, list)"),
            ("RateLimit" = Option<String>, description = "What is left of it, e.g. `\"writes\";r=0;t=1`: `r` units now, the next one in `t` seconds")
        )
    )]
    Status429(Problem),
    #[response(
        status = 503,
        description = "Database unavailable, read-only (a failover) or past the statement timeout (`database_unavailable`); or the shared rate limiter unreachable with `RATE_LIMIT_FAIL_MODE=closed` (`rate_limiter_unavailable`)",
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    Status503(Problem),
    #[response(
        status = 500,
        description = "Internal error",
        content_type = "application/problem+json"
    )]
    Status500(Problem),
}

/// Error responses of the read routes (RFC 9457 problem details).
#[derive(utoipa::IntoResponses)]
#[expect(
    dead_code,
    reason = "describes responses for the OpenAPI document; never built"
)]
enum ReadErrors {
    #[response(
        status = 400,
        description = "Malformed id or query",
        content_type = "application/problem+json"
    )]
    Status400(Problem),
    #[response(
        status = 401,
        description = "Missing or bad API key",
        content_type = "application/problem+json"
    )]
    Status401(Problem),
    #[response(
        status = 404,
        description = "No such payment for this merchant",
        content_type = "application/problem+json"
    )]
    Status404(Problem),
    #[response(
        status = 422,
        description = "Invalid query value",
        content_type = "application/problem+json"
    )]
    Status422(Problem),
    #[response(
        status = 429,
        description = "Too many requests for this merchant, or too many key lookups from this address (`rate_limited`)",
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u64, description = "Seconds to wait before retrying"),
            ("RateLimit-Policy" = Option<String>, description = "The merchant's budget of this class of call (draft-ietf-httpapi-ratelimit-headers), e.g. `\"writes\";q=200;w=2`: `q` units (the burst) refilled in `w` seconds; the classes are `writes` (authorize, capture, void, refund) and `reads` (get, list)"),
            ("RateLimit" = Option<String>, description = "What is left of it, e.g. `\"writes\";r=0;t=1`: `r` units now, the next one in `t` seconds")
        )
    )]
    Status429(Problem),
    #[response(
        status = 503,
        description = "Database unavailable, read-only (a failover) or past the statement timeout (`database_unavailable`); or the shared rate limiter unreachable with `RATE_LIMIT_FAIL_MODE=closed` (`rate_limiter_unavailable`)",
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    Status503(Problem),
    #[response(
        status = 500,
        description = "Internal error",
        content_type = "application/problem+json"
    )]
    Status500(Problem),
}

/// The `/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/payments", post(authorize).get(list))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/void", post(void))
        .route("/v1/payments/{id}/refunds", post(refund))
}

/// The answer of a write. A 201 carries `Location: /v1/payments/{id}`: the payment created by
/// an authorization, or the payment a refund was added to (refunds are part of the payment).
fn written(status: StatusCode, outcome: WriteOutcome) -> Response {
    let location = (status == StatusCode::CREATED)
        .then(|| HeaderValue::from_str(&format!("/v1/payments/{}", outcome.payment.id)).ok())
        .flatten();
    let mut response = (status, Json(outcome.payment)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if outcome.replayed {
        response.headers_mut().insert(
            HeaderName::from_static(idempotency::REPLAYED_HEADER),
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// `POST /v1/payments`: authorize. 201 with the payment (also for a decline).
#[utoipa::path(
    post,
    path = "/v1/payments",
    tag = "payments",
    summary = "Authorize a payment",
    request_body(content = AuthorizeRequest, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; scoped per merchant and operation. A replay returns the original answer with `Idempotent-Replayed: true`. A key expires 24 hours after its first use (the server's `IDEMPOTENCY_KEY_TTL`): after that the same key is a new request.", example = "order-1234-attempt-1")),
    responses(
        (status = 201, description = "The payment: `authorized`, or `declined` with a reason", body = Payment, headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"), ("Location" = String, description = "`/v1/payments/{id}` of the payment"))),
        WriteErrors,
    ),
    security(("bearer" = []))
)]
pub async fn authorize(
    State(state): State<AppState>,
    Write(ctx): Write,
    ApiJson(body): ApiJson<AuthorizeRequest>,
) -> Result<Response, ApiError> {
    let outcome = state.service.authorize(ctx, body).await?;
    Ok(written(StatusCode::CREATED, outcome))
}

/// `POST /v1/payments/{id}/capture`: 200 with the payment.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/capture",
    tag = "payments",
    summary = "Capture an authorized payment (once, full or partial)",
    request_body(content = Option<AmountRequest>, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; scoped per merchant and operation. A replay returns the original answer with `Idempotent-Replayed: true`. A key expires 24 hours after its first use (the server's `IDEMPOTENCY_KEY_TTL`): after that the same key is a new request.", example = "order-1234-attempt-1"), ("id" = uuid::Uuid, Path, description = "Payment id: a UUID in its hyphenated form (RFC 9562), e.g. `0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e`")),
    responses(
        (status = 200, description = "The payment", body = Payment, headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"))),
        WriteErrors,
    ),
    security(("bearer" = []))
)]
pub async fn capture(
    State(state): State<AppState>,
    Write(ctx): Write,
    PaymentIdPath(id): PaymentIdPath,
    OptionalApiJson(body): OptionalApiJson<AmountRequest>,
) -> Result<Response, ApiError> {
    let outcome = state.service.capture(ctx, &id, body.amount_minor).await?;
    Ok(written(StatusCode::OK, outcome))
}

/// `POST /v1/payments/{id}/void`: 200 with the payment.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/void",
    tag = "payments",
    summary = "Void an authorized payment before capture",
    request_body(content = Option<VoidRequest>, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; scoped per merchant and operation. A replay returns the original answer with `Idempotent-Replayed: true`. A key expires 24 hours after its first use (the server's `IDEMPOTENCY_KEY_TTL`): after that the same key is a new request.", example = "order-1234-attempt-1"), ("id" = uuid::Uuid, Path, description = "Payment id: a UUID in its hyphenated form (RFC 9562), e.g. `0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e`")),
    responses(
        (status = 200, description = "The payment", body = Payment, headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"))),
        WriteErrors,
    ),
    security(("bearer" = []))
)]
pub async fn void(
    State(state): State<AppState>,
    Write(ctx): Write,
    PaymentIdPath(id): PaymentIdPath,
    OptionalApiJson(body): OptionalApiJson<VoidRequest>,
) -> Result<Response, ApiError> {
    let VoidRequest {} = body;
    let outcome = state.service.void(ctx, &id).await?;
    Ok(written(StatusCode::OK, outcome))
}

/// `POST /v1/payments/{id}/refunds`: 201 with the payment (a refund was created).
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/refunds",
    tag = "payments",
    summary = "Refund part or all of the captured amount",
    request_body(content = Option<AmountRequest>, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; scoped per merchant and operation. A replay returns the original answer with `Idempotent-Replayed: true`. A key expires 24 hours after its first use (the server's `IDEMPOTENCY_KEY_TTL`): after that the same key is a new request.", example = "order-1234-attempt-1"), ("id" = uuid::Uuid, Path, description = "Payment id: a UUID in its hyphenated form (RFC 9562), e.g. `0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e`")),
    responses(
        (status = 201, description = "The payment", body = Payment, headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"), ("Location" = String, description = "`/v1/payments/{id}` of the payment the refund belongs to"))),
        WriteErrors,
    ),
    security(("bearer" = []))
)]
pub async fn refund(
    State(state): State<AppState>,
    Write(ctx): Write,
    PaymentIdPath(id): PaymentIdPath,
    OptionalApiJson(body): OptionalApiJson<AmountRequest>,
) -> Result<Response, ApiError> {
    let outcome = state.service.refund(ctx, &id, body.amount_minor).await?;
    Ok(written(StatusCode::CREATED, outcome))
}

/// `GET /v1/payments/{id}`.
#[utoipa::path(
    get,
    path = "/v1/payments/{id}",
    tag = "payments",
    summary = "Get a payment",
    params(("id" = uuid::Uuid, Path, description = "Payment id: a UUID in its hyphenated form (RFC 9562), e.g. `0192f0c1-7a4e-7d2b-9c1e-2f3a4b5c6d7e`")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get_payment(
    State(state): State<AppState>,
    merchant: Merchant,
    PaymentIdPath(id): PaymentIdPath,
) -> Result<Json<Payment>, ApiError> {
    state.service.get(merchant.0, &id).await.map(Json)
}

/// `GET /v1/payments?page_size=&page_token=`.
#[utoipa::path(
    get,
    path = "/v1/payments",
    tag = "payments",
    summary = "List payments, newest first",
    params(
        ("page_size" = Option<i64>, Query, description = "Page size: 0 or absent means 20; above 100 is served as 100"),
        ("page_token" = Option<uuid::Uuid>, Query, description = "`next_page_token` of the previous page. Any other query parameter is refused (400 `query_invalid`, naming it).")
    ),
    responses(
        (status = 200, description = "A page of payments", body = PaymentList),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    merchant: Merchant,
    RawQuery(raw): RawQuery,
) -> Result<Json<PaymentList>, ApiError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let page = state
        .service
        .list(
            merchant.0,
            query.page_size.unwrap_or(0),
            query.page_token.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(Json(PaymentList {
        payments: page.payments,
        next_page_token: page.next_page_token,
    }))
}

/// Fallback for unknown paths: 404 problem+json.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Fallback for a known path with another method: 405 problem+json.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_name_the_parameter_they_refuse() {
        assert_eq!(
            ListQuery::parse(Some("page_size=5&page_token=abc")),
            Ok(ListQuery {
                page_size: Some(5),
                page_token: Some("abc".to_owned()),
            })
        );
        assert_eq!(ListQuery::parse(None), Ok(ListQuery::default()));
        for (raw, field) in [
            ("limit=1", "limit"),
            ("page_size=x", "page_size"),
            ("page_size=1&page_size=2", "page_size"),
            ("4111111111111111=1", "************1111"),
        ] {
            let error = ListQuery::parse(Some(raw)).unwrap_err();
            assert_eq!(
                (error.http_status().as_u16(), error.code(), error.field()),
                (400, "query_invalid", Some(field)),
                "{raw}"
            );
        }
        let empty = ListQuery::parse(Some("page_token=")).unwrap_err();
        assert_eq!(
            (empty.http_status().as_u16(), empty.code(), empty.field()),
            (400, "page_token_invalid", Some("page_token"))
        );
    }
}
