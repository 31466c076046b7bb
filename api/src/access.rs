//! Request identity and the access log, the same on REST, gRPC and gRPC-web.
//!
//! Every request gets a request id: the caller's `X-Request-Id` when it is a safe token (1 to
//! [`MAX_REQUEST_ID_CHARS`] characters of `A-Z a-z 0-9 - _ . :`, holding no card number),
//! otherwise a new UUID v7. The id
//! goes back in the `Request-Id` response header (gRPC: response metadata `request-id`) of every
//! answer, errors and CORS preflights included, and is a field of the `request` span, so every
//! log line written while the request runs carries it. When the request ends, one access-log
//! line at `info`: method, route template (REST) or gRPC method, surface, HTTP status, gRPC
//! status when the answer carries one in its headers, latency in ms, request id and merchant id.
//! Never a header value, a body or a key.
//!
//! The `request` span is also the request's OpenTelemetry server span when spans are exported
//! (`payment_telemetry`): it continues the caller's W3C `traceparent` / `tracestate` (HTTP
//! header or gRPC metadata, the same thing on the wire), is named `METHOD route` (REST) or the
//! gRPC method path, and records the HTTP status (an error status for 5xx, OpenTelemetry HTTP
//! semantic conventions).

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use payment_telemetry::TRACEPARENT;
use tracing::Instrument as _;
use uuid::Uuid;

/// Response header (and gRPC metadata key) carrying the request id.
pub const REQUEST_ID_HEADER: &str = "request-id";

/// Request header whose value, when safe, becomes the request id.
pub const INCOMING_REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest incoming request id kept; a longer one is replaced by a new id.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// The request id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The route label of an answered request (REST route template, gRPC method path, or
/// `unmatched`), put in the response's extensions by [`crate::metrics::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLabel(pub String);

/// Records the authenticated merchant on the current request's span (the access-log line and
/// every later log line of the request then carry `merchant_id`).
pub fn record_merchant(merchant: Uuid) {
    tracing::Span::current().record("merchant_id", tracing::field::display(merchant));
}

/// The caller's request id when it is a safe token, else `None`.
fn incoming(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(INCOMING_REQUEST_ID_HEADER)?
        .to_str()
        .ok()?;
    let safe = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && !crate::domain::pan::contains_card_number(value);
    safe.then(|| value.to_owned())
}

/// Middleware (outermost): assigns the request id, runs the request inside its span, sets
/// `Request-Id` on the answer and writes the access-log line.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = incoming(&request).unwrap_or_else(|| Uuid::now_v7().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let surface = crate::metrics::surface(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        merchant_id = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        http.request.method = tracing::field::Empty,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // The OpenTelemetry fields are recorded only when spans are exported, so log lines (which
    // show a span's recorded fields) stay as they are.
    let exporting = payment_telemetry::exporting();
    if exporting {
        span.record("otel.kind", "server");
        span.record("http.request.method", tracing::field::display(&method));
    }
    {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        payment_telemetry::continue_trace(&span, header(TRACEPARENT), header("tracestate"));
    }
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |route| route.0.as_str());
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let status = response.status().as_u16();
    if exporting {
        // OpenTelemetry span names: `METHOD route` over HTTP, `package.Service/Method` for RPC.
        let name = match (surface, route.strip_prefix('/')) {
            ("rest", _) | (_, None) => format!("{method} {route}"),
            (_, Some(rpc)) => rpc.to_owned(),
        };
        payment_telemetry::rename(&span, name);
        span.record("http.route", route);
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
    span.in_scope(|| {
        tracing::info!(
            http.method = %method,
            http.route = route,
            surface,
            http.status = status,
            grpc.status = grpc_status,
            latency_ms = format_args!("{latency_ms:.2}"),
            "request"
        );
    });
    response
}
