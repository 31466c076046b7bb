//! Builds the one-port server: REST under `/v1`, gRPC and gRPC-web (`payments.v1.PaymentService`,
//! `grpc.health.v1.Health`, server reflection v1 and v1alpha), `/openapi.json`, `/docs`,
//! `/healthz`, `/readyz` and `/metrics`, with CORS outermost so preflights never reach
//! authentication or a handler.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::get;
use payment_db::Database;
use payment_proto::v1::payment_service_server::PaymentServiceServer;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::server::NamedService;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::domain::acquirer::SimulatedAcquirer;
use crate::domain::idempotency;
use crate::grpc::GrpcApi;
use crate::grpc::status::CodecErrorLayer;
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::rate_limit::{MerchantLimiter, RateLimits};
use crate::service::PaymentService;
use crate::state::AppState;
use crate::{access, health, metrics, rest};

/// Settings of the server that are not the database's.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request in bytes, the same on every surface.
    pub body_limit: usize,
    /// Origins allowed to call from browsers (CORS); empty means none.
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// How often the gRPC health status re-checks the database.
    pub health_interval: Duration,
    /// Default per-merchant budgets of writes and reads (`None`: that class unlimited unless
    /// a merchant's override says otherwise).
    pub rate_limits: RateLimits,
    /// Where the per-merchant budgets live: `None` in process (per instance), `Some` in Redis
    /// (shared by every instance).
    pub redis: Option<crate::rate_limit::RedisSettings>,
    /// API-key lookup cache and per-client lookup limit.
    pub auth: crate::auth::AuthSettings,
    /// Proxies whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: crate::peer::TrustedProxies,
    /// How long an idempotency key replays its answer (`IDEMPOTENCY_KEY_TTL`, 24 h).
    pub idempotency_key_ttl: Duration,
}

impl ServerConfig {
    /// Defaults for a body limit: no CORS origins, health checked every second, no default
    /// rate limits, idempotency keys kept 24 h.
    pub fn new(body_limit: usize) -> Self {
        Self {
            body_limit,
            cors_allowed_origins: Vec::new(),
            health_interval: Duration::from_secs(1),
            rate_limits: RateLimits::default(),
            redis: None,
            auth: crate::auth::AuthSettings::default(),
            trusted_proxies: crate::peer::TrustedProxies::default(),
            idempotency_key_ttl: DEFAULT_IDEMPOTENCY_KEY_TTL,
        }
    }
}

/// `IDEMPOTENCY_KEY_TTL`'s default: 24 hours, as Stripe's idempotency keys.
pub const DEFAULT_IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Request headers a browser may send (gRPC-web, Connect and our own).
const ALLOWED_HEADERS: [&str; 11] = [
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "authorization",
    "idempotency-key",
    "traceparent",
    "connect-protocol-version",
    "connect-timeout-ms",
    "accept-encoding",
    access::INCOMING_REQUEST_ID_HEADER,
];

/// Response headers a browser may read: gRPC status and our own metadata.
const EXPOSED_HEADERS: [&str; 8] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    idempotency::REPLAYED_HEADER,
    access::REQUEST_ID_HEADER,
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
];

fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(Duration::from_secs(3600))
}

/// Wraps a tonic service for our router: gRPC-web translation outside, our codec-error mapping
/// inside.
fn grpc<S>(
    service: S,
    limit_bytes: usize,
) -> (
    String,
    impl tower::Service<
        http::Request<axum::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static,
)
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let path = format!("/{}/{{*method}}", S::NAME);
    let service = ServiceBuilder::new()
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(CodecErrorLayer { limit_bytes })
        .service(service);
    (path, service)
}

/// The whole HTTP application. Spawns the task that keeps gRPC health in step with the database.
///
/// # Errors
/// When the reflection descriptors or the metrics registry cannot be built (a bug).
pub fn router(
    db: Database,
    config: &ServerConfig,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    let limiter = match &config.redis {
        None => MerchantLimiter::local(config.rate_limits),
        Some(redis) => MerchantLimiter::redis(config.rate_limits, redis.clone())?,
    };
    let state = AppState {
        service: PaymentService::new(
            db.clone(),
            Arc::new(SimulatedAcquirer),
            config.auth,
            limiter,
            config.idempotency_key_ttl,
        ),
        body_limit: config.body_limit,
        metrics: Metrics::new()?,
    };
    let (reporter, health_service) = tonic_health::server::health_reporter();
    tokio::spawn(health::watch_database(reporter, db, config.health_interval));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(payment_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let payments = PaymentServiceServer::new(GrpcApi::new(state.service.clone()))
        .max_decoding_message_size(config.body_limit)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);

    let limit = config.body_limit;
    let (payments_path, payments) = grpc(payments, limit);
    let (health_path, health_service) = grpc(health_service, limit);
    let (reflection_v1_path, reflection_v1) = grpc(reflection_v1, limit);
    let (reflection_v1alpha_path, reflection_v1alpha) = grpc(reflection_v1alpha, limit);
    let app = rest::router()
        .route_service(&payments_path, payments)
        .route_service(&health_path, health_service)
        .route_service(&reflection_v1_path, reflection_v1)
        .route_service(&reflection_v1alpha_path, reflection_v1alpha)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(rest::not_found)
        .method_not_allowed_fallback(rest::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.trusted_proxies.clone()),
            crate::peer::record,
        ))
        .layer(cors(&config.cors_allowed_origins))
        .layer(axum::middleware::from_fn(access::layer));
    Ok(app)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and lets
/// in-flight requests finish.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: draining in-flight requests");
}
