//! Prometheus metrics at `/metrics` (text format 0.0.4): request count and latency per surface,
//! route and status; database pool use; API-key lookups that reached the database; rate-limit
//! decisions Redis could not take (`rate_limiter_errors_total`); outbox
//! backlog and oldest pending age (read from the
//! database at scrape time, so every API replica reports the same backlog).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::state::AppState;

/// The metrics of one server; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    outbox: IntGaugeVec,
    key_lookups: prometheus::IntGauge,
    limiter_errors: prometheus::IntCounter,
}

impl Metrics {
    /// Registers every metric in a new registry.
    ///
    /// # Errors
    /// When a metric definition is invalid (a bug).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Requests by surface (rest, grpc, grpc-web), route or method, and status",
            ),
            &["surface", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Request latency in seconds by surface and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["surface", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_backlog",
                "Outbox: pending events, dead events, oldest pending age in ms",
            ),
            &["measure"],
        )?;
        let key_lookups = prometheus::IntGauge::new(
            "auth_key_database_lookups",
            "API-key lookups that reached the database since start (cache misses within the per-client limit)",
        )?;
        let limiter_errors = prometheus::IntCounter::new(
            "rate_limiter_errors_total",
            "Rate-limit decisions Redis did not answer in time or answered with an error (then RATE_LIMIT_FAIL_MODE applied)",
        )?;
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool.clone()),
            Box::new(outbox.clone()),
            Box::new(key_lookups.clone()),
            Box::new(limiter_errors.clone()),
        ] {
            registry.register(collector)?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            pool,
            outbox,
            key_lookups,
            limiter_errors,
        })
    }
}

/// The surface of a request from its content type: `grpc-web`, `grpc` or `rest`.
pub fn surface(request: &Request) -> &'static str {
    match request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(ct) if ct.starts_with("application/grpc-web") => "grpc-web",
        Some(ct) if ct.starts_with("application/grpc") => "grpc",
        _ => "rest",
    }
}

/// Every gRPC method this server serves, as `/{package}.{Service}/{Method}`: read from the
/// descriptor sets of the payment, health and reflection services, so the label set is fixed
/// by the protos and cannot grow with requests.
static GRPC_METHODS: std::sync::LazyLock<std::collections::HashSet<String>> =
    std::sync::LazyLock::new(|| {
        use prost::Message as _;
        [
            payment_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ]
        .into_iter()
        .filter_map(|bytes| prost_types::FileDescriptorSet::decode(bytes).ok())
        .flat_map(|set| set.file)
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.service.into_iter().flat_map(move |service| {
                let prefix = format!("/{package}.{}/", service.name());
                service
                    .method
                    .into_iter()
                    .map(move |method| format!("{prefix}{}", method.name()))
            })
        })
        .collect()
    });

/// The route label of a request: the REST route template, or the gRPC method when this server
/// has it; anything else (unknown paths, services or methods) is `unmatched`, so requests can
/// never add label values.
pub fn route_label(request: &Request, surface: &str) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(path) if surface == "rest" => path.as_str().to_owned(),
        Some(_) if GRPC_METHODS.contains(request.uri().path()) => request.uri().path().to_owned(),
        _ => "unmatched".to_owned(),
    }
}

/// Middleware recording count and latency of every request.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let surface = surface(&request);
    // Arbitrary paths never become labels or log fields (see `route_label`).
    let route = route_label(&request, surface);
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = if surface == "rest" {
        response.status().as_u16().to_string()
    } else {
        // Errors end in the headers (trailers-only); a success's grpc-status 0 is in trailers.
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_owned()
    };
    let metrics = &state.metrics;
    metrics
        .requests
        .with_label_values(&[surface, route.as_str(), status.as_str()])
        .inc();
    metrics
        .latency
        .with_label_values(&[surface, route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
        .extensions_mut()
        .insert(crate::access::RouteLabel(route));
    response
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let metrics = &state.metrics;
    metrics
        .key_lookups
        .set(i64::try_from(state.service.key_lookups()).unwrap_or(i64::MAX));
    // The limiter counts; the counter follows it at each scrape (it only ever grows).
    let limiter_errors = &state.metrics.limiter_errors;
    limiter_errors.inc_by(
        state
            .service
            .rate_limiter_errors()
            .saturating_sub(limiter_errors.get()),
    );
    let status = state.service.database().pool().status();
    let in_use = status.size.saturating_sub(status.available);
    for (label, value) in [
        ("max", status.max_size),
        ("open", status.size),
        ("in_use", in_use),
        ("idle", status.available),
    ] {
        metrics
            .pool
            .with_label_values(&[label])
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    let backlog: Result<_, ApiError> = state
        .service
        .database()
        .transaction(async |conn| Ok(payment_db::outbox::backlog(conn).await?))
        .await;
    if let Ok(backlog) = backlog {
        metrics
            .outbox
            .with_label_values(&["pending"])
            .set(backlog.pending);
        metrics
            .outbox
            .with_label_values(&["dead"])
            .set(backlog.dead);
        metrics
            .outbox
            .with_label_values(&["oldest_pending_age_ms"])
            .set(backlog.oldest_pending_age_ms);
    }
    let mut body = Vec::new();
    if TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut body)
        .is_err()
    {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
