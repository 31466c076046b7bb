//! RFC 9457 `application/problem+json` rendering of [`ApiError`].

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Base of the `type` URI of every problem; the stable code is appended.
pub const PROBLEM_TYPE_BASE: &str = "https://payment-service.dev/problems/";

/// An RFC 9457 problem details body with this API's extensions `code` and `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// URI identifying the problem type: [`PROBLEM_TYPE_BASE`] + `code`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary: the HTTP reason phrase.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human-readable explanation; never echoes input or internals.
    pub detail: String,
    /// Stable error code, the same as the gRPC `ErrorInfo.reason`.
    pub code: String,
    /// Path of the offending field or header, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<&ApiError> for Problem {
    fn from(error: &ApiError) -> Self {
        let status = error.http_status();
        Self {
            problem_type: format!("{PROBLEM_TYPE_BASE}{}", error.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: error.public_message(),
            code: error.code().to_owned(),
            field: error.field().map(str::to_owned),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = serde_json::to_vec(&Problem::from(&self)).unwrap_or_default();
        let mut response = (self.http_status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthenticated) {
            // RFC 6750 §3.
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited {
            policy: Some(policy),
        } = &self
        {
            // draft-ietf-httpapi-ratelimit-headers: the policy, and what is left of it (nothing).
            let fields = [
                (
                    "ratelimit-policy",
                    format!(
                        "\"{}\";q={};w={}",
                        policy.name, policy.quota, policy.window_secs
                    ),
                ),
                (
                    "ratelimit",
                    format!("\"{}\";r=0;t={}", policy.name, policy.reset_secs.max(1)),
                ),
            ];
            for (name, value) in fields {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        if let Some(wait) = self.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        response
    }
}
