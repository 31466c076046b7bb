//! Builds the one-port server: REST under `/v1` and gRPC `payments.v1.PaymentService`
//! (HTTP/2) on the same listener, with graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use payment_db::DbPool;
use payment_proto::v1::payment_service_server::{PaymentServiceServer, SERVICE_NAME};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

use crate::domain::acquirer::SimulatedAcquirer;
use crate::grpc::GrpcApi;
use crate::grpc::status::CodecErrorLayer;
use crate::rest;
use crate::service::PaymentService;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Payment operations.
    pub service: PaymentService,
    /// Largest request in bytes, the same on every surface.
    pub body_limit: usize,
}

impl AppState {
    /// State over a pool with the simulated acquirer.
    pub fn new(pool: DbPool, body_limit: usize) -> Self {
        Self {
            service: PaymentService::new(pool, Arc::new(SimulatedAcquirer)),
            body_limit,
        }
    }
}

impl FromRef<AppState> for () {
    fn from_ref(_: &AppState) -> Self {}
}

/// The whole HTTP application: REST routes, the gRPC service and the fallback.
pub fn router(state: AppState) -> Router {
    let grpc = PaymentServiceServer::new(GrpcApi::new(state.service.clone()))
        .max_decoding_message_size(state.body_limit)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let grpc = tower::ServiceBuilder::new()
        .layer(CodecErrorLayer {
            limit_bytes: state.body_limit,
        })
        .service(grpc)
        .map_request(|request: http::Request<axum::body::Body>| {
            request.map(tonic::body::Body::new)
        });
    rest::router()
        .route_service(&format!("/{SERVICE_NAME}/{{*method}}"), grpc)
        .fallback(rest::not_found)
        .with_state(state)
        .layer(TraceLayer::new_for_http())
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
    axum::serve(listener, router)
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
