//! The state every HTTP handler and middleware shares. Its own module, so the server that builds
//! it and the route modules that read it do not import each other.

use crate::metrics::Metrics;
use crate::service::PaymentService;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Payment operations.
    pub service: PaymentService,
    /// Largest request in bytes, the same on every surface.
    pub body_limit: usize,
    /// Prometheus metrics.
    pub metrics: Metrics,
}
