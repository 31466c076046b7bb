//! Health: `grpc.health.v1` (tonic-health) following database reachability, and the HTTP
//! probes `/healthz` (the process is alive) and `/readyz` (database reachable and migrated).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use payment_db::Database;
use payment_proto::v1::payment_service_server::PaymentServiceServer;
use serde_json::json;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::error::ApiError;
use crate::grpc::GrpcApi;
use crate::state::AppState;

/// Whether the database answers and has every migration applied.
pub async fn database_ready(db: &Database) -> bool {
    let current: Result<bool, ApiError> = db
        .transaction(async |conn| Ok(payment_db::migrations::is_current(conn).await?))
        .await;
    matches!(current, Ok(true))
}

/// Keeps the gRPC health status of `""` (the server) and `payments.v1.PaymentService` in step
/// with [`database_ready`], checking every `interval`. Runs until the process ends.
pub async fn watch_database(reporter: HealthReporter, db: Database, interval: Duration) {
    // Known but not serving until the first check passes (rather than unknown, NOT_FOUND).
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter
        .set_not_serving::<PaymentServiceServer<GrpcApi>>()
        .await;
    let mut last = None;
    loop {
        let status = if database_ready(&db).await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            tracing::info!(?status, "health changed");
            reporter.set_service_status("", status).await;
            match status {
                ServingStatus::Serving => {
                    reporter
                        .set_serving::<PaymentServiceServer<GrpcApi>>()
                        .await
                }
                _ => {
                    reporter
                        .set_not_serving::<PaymentServiceServer<GrpcApi>>()
                        .await
                }
            }
            last = Some(status);
        }
        tokio::time::sleep(interval).await;
    }
}

/// `GET /healthz`: 200 while the process serves.
pub async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// `GET /readyz`: 200 when the database answers and is migrated, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if database_ready(state.service.database()).await {
        (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({ "status": "unavailable", "database": "unreachable or not migrated" }),
            ),
        )
            .into_response()
    }
}
