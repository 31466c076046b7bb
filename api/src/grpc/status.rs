//! [`ApiError`] → `tonic::Status`, and the layer that gives tonic's own codec-level
//! rejections (oversized or undecodable messages) the same codes and details as ours.

use std::collections::HashMap;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::error::{ApiError, ERROR_DOMAIN};

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        error.log();
        let mut details = ErrorDetails::with_error_info(error.code(), ERROR_DOMAIN, HashMap::new());
        if let Some(field) = error.field() {
            details.add_bad_request_violation(field, error.public_message());
        }
        if let Some(wait) = error.retry_after() {
            details.set_retry_info(Some(wait));
        }
        Status::with_error_details(error.grpc_code(), error.public_message(), details)
    }
}

/// Rewrites tonic's codec-level errors, which are produced before our handlers run:
/// a message over the size limit (tonic: OUT_OF_RANGE, or RESOURCE_EXHAUSTED when found while
/// decompressing) becomes our `payload_too_large` (RESOURCE_EXHAUSTED), and a message that
/// does not decode (tonic: INTERNAL) becomes `malformed_message` (INVALID_ARGUMENT), so bad
/// input never looks like a server fault. Our own errors pass through untouched.
#[derive(Debug, Clone, Copy)]
pub struct CodecErrorLayer {
    /// The size limit in bytes, for the message.
    pub limit_bytes: usize,
}

impl<S> Layer<S> for CodecErrorLayer {
    type Service = CodecErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CodecErrors {
            inner,
            limit_bytes: self.limit_bytes,
        }
    }
}

/// Service of [`CodecErrorLayer`].
#[derive(Debug, Clone)]
pub struct CodecErrors<S> {
    inner: S,
    limit_bytes: usize,
}

fn rewrite(code: Code, message: &str, limit_bytes: usize) -> Option<ApiError> {
    let too_large = (code == Code::OutOfRange && message.contains("message length too large"))
        || (code == Code::ResourceExhausted && message.contains("exceeded while decompressing"));
    if too_large {
        return Some(ApiError::PayloadTooLarge { limit_bytes });
    }
    if code == Code::Internal && (message.contains("decode") || message.contains("Decode")) {
        return Some(ApiError::malformed(
            "malformed_message",
            "",
            "the request message could not be decoded",
        ));
    }
    None
}

impl<S, B, ResBody> Service<Request<B>> for CodecErrors<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let limit_bytes = self.limit_bytes;
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            // Codec errors end the call in the headers ("trailers-only"); handler answers and
            // streamed bodies carry grpc-status in trailers and are left alone.
            let Some(status) = Status::from_header_map(response.headers()) else {
                return Ok(response);
            };
            let Some(error) = rewrite(status.code(), status.message(), limit_bytes) else {
                return Ok(response);
            };
            let (mut parts, body) = response.into_parts();
            let replacement = Status::from(error);
            for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                parts.headers.remove(name);
            }
            let mut headers = http::HeaderMap::new();
            if replacement.add_header(&mut headers).is_ok() {
                parts.headers.extend(headers);
            } else {
                parts
                    .headers
                    .insert("grpc-status", HeaderValue::from(replacement.code() as i32));
            }
            Ok(Response::from_parts(parts, body))
        })
    }
}
