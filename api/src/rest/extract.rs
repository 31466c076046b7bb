//! Request extractors of the REST surface. Every rejection is an [`ApiError`], so the
//! framework's own plain-text rejections never reach clients.

use std::error::Error as _;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::idempotency;
use crate::error::ApiError;
use crate::rate_limit::RateClass;
use crate::service::WriteContext;
use crate::state::AppState;
use crate::trace;

/// Longest field path put in an error, in characters.
const MAX_FIELD_PATH_CHARS: usize = 100;

/// The authenticated merchant (`Authorization: Bearer <key>`) of a read: one unit of its
/// `reads` budget is spent.
#[derive(Debug, Clone, Copy)]
pub struct Merchant(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Merchant
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        authenticate(parts, &AppState::from_ref(state), RateClass::Read)
            .await
            .map(Merchant)
    }
}

async fn authenticate(parts: &Parts, state: &AppState, class: RateClass) -> Result<Uuid, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    let client = parts
        .extensions
        .get::<crate::peer::ClientAddr>()
        .copied()
        .unwrap_or(crate::peer::ClientAddr(None));
    state.service.authenticate(header, client, class).await
}

/// The `{id}` segment of a payment path. A segment that is not valid percent-encoded UTF-8
/// is a malformed id (400 problem+json), like any other id that is not a UUID.
#[derive(Debug, Clone)]
pub struct PaymentIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PaymentIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| Self(id))
            .map_err(|_| {
                ApiError::malformed(
                    "payment_id_invalid",
                    "payment_id",
                    "payment_id must be a UUID",
                )
            })
    }
}

/// The context of a write: the authenticated merchant (checked first, so a bad key is 401
/// before anything else; one unit of its `writes` budget is spent), then `Idempotency-Key`
/// (optional) and `traceparent`.
#[derive(Debug, Clone)]
pub struct Write(pub WriteContext);

impl<S: Send + Sync> FromRequestParts<S> for Write
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let merchant_id = authenticate(parts, &AppState::from_ref(state), RateClass::Write).await?;
        let header = |name: &str| parts.headers.get(name).map(|value| value.as_bytes());
        WriteContext::from_raw(
            merchant_id,
            header(idempotency::HEADER),
            header(trace::TRACEPARENT),
        )
        .map(Write)
    }
}

/// A JSON body read with this API's rules: `Content-Type: application/json` (415 otherwise),
/// at most the configured body limit after decompression (413), syntax errors 400,
/// wrong types, unknown, duplicate or missing fields 422 with the field path.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`], but an empty body (with any or no content type) means `T::default()`.
#[derive(Debug)]
pub struct OptionalApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T>
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        check_content_type(request.headers())?;
        let bytes = read_body(request, AppState::from_ref(state).body_limit).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalApiJson<T>
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type_ok = check_content_type(request.headers());
        let bytes = read_body(request, AppState::from_ref(state).body_limit).await?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        content_type_ok?;
        parse_json(&bytes).map(OptionalApiJson)
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

async fn read_body(request: Request, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    let too_large = ApiError::PayloadTooLarge { limit_bytes: limit };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|error| {
            let mut source = error.source();
            let mut over_limit = false;
            while let Some(cause) = source {
                over_limit |= cause.is::<http_body_util::LengthLimitError>();
                source = cause.source();
            }
            if over_limit {
                too_large
            } else {
                ApiError::malformed("body_unreadable", "", "the request body could not be read")
            }
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: the typed pass stops at the first unknown or mistyped field, so a
    // truncated or broken body would otherwise be answered as a field error.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|_| ApiError::malformed("malformed_json", "", "the body is not valid JSON"))?;
    // Every body is a JSON object: serde's derived structs would also read an array of the
    // fields in order (`[100,"USD","pm_card_visa"]`), which the API does not allow.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::invalid(
            "field_invalid_type",
            "",
            "the body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    deserializer
        .end()
        .map_err(|_| ApiError::malformed("malformed_json", "", "the body is not valid JSON"))?;
    Ok(value)
}

/// Maps a serde error to our codes without echoing input, parser positions or Rust types.
fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let path = error.path().to_string();
    let inner = error.inner();
    if matches!(
        inner.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ApiError::malformed("malformed_json", "", "the body is not valid JSON");
    }
    let message = inner.to_string();
    // serde names our own fields in backticks for missing/duplicate fields: safe to repeat.
    let named = |prefix: &str| -> Option<String> {
        let rest = message.strip_prefix(prefix)?;
        let name = rest.split('`').nth(1)?;
        Some(join_path(&path, name))
    };
    if let Some(field) = named("missing field") {
        return ApiError::invalid(
            "field_required",
            bounded(field),
            "a required field is missing",
        );
    }
    if let Some(field) = named("duplicate field") {
        return ApiError::invalid(
            "field_duplicated",
            bounded(field),
            "a field appears more than once",
        );
    }
    if message.starts_with("unknown field") {
        // The path already ends with the unknown name, which is input: `bounded` masks it.
        return ApiError::invalid(
            "field_unknown",
            bounded(root_or(path)),
            "the body contains a field that is not part of the API",
        );
    }
    ApiError::invalid(
        "field_invalid_type",
        bounded(root_or(path)),
        "a field has the wrong type: amounts are integers in minor units, text fields are strings",
    )
}

fn root_or(path: String) -> String {
    if path == "." { String::new() } else { path }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == "." || parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// A field path as it may be sent (paths hold input such as metadata keys): cut to
/// [`MAX_FIELD_PATH_CHARS`], card numbers masked.
fn bounded(path: String) -> String {
    crate::domain::pan::bounded_masked(&path, MAX_FIELD_PATH_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::AuthorizeRequest;

    fn reject(body: &str) -> ApiError {
        parse_json::<AuthorizeRequest>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn json_mistakes_get_our_codes_and_no_echo() {
        let base = r#""currency":"USD","payment_method":"pm_card_visa""#;
        for (body, status, code, field) in [
            (
                format!(r#"{{"amount_minor":"100",{base}}}"#),
                422,
                "field_invalid_type",
                Some("amount_minor"),
            ),
            (
                format!(r#"{{"amount_minor":1e2,{base}}}"#),
                422,
                "field_invalid_type",
                Some("amount_minor"),
            ),
            (
                format!(r#"{{"amount_minor":100.5,{base}}}"#),
                422,
                "field_invalid_type",
                Some("amount_minor"),
            ),
            (
                r#"{"amount_minor":100,"payment_method":"pm_card_visa"}"#.to_owned(),
                422,
                "field_required",
                Some("currency"),
            ),
            (
                format!(r#"{{"amount_minor":1,{base},"zzz_secret":1}}"#),
                422,
                "field_unknown",
                Some("zzz_secret"),
            ),
            (
                format!(r#"{{"amount_minor":1,{base},"metadata":{{"4111111111111111":1}}}}"#),
                422,
                "field_invalid_type",
                Some("metadata.************1111"),
            ),
            (
                format!(r#"{{"amount_minor":1,"amount_minor":2,{base}}}"#),
                422,
                "field_duplicated",
                Some("amount_minor"),
            ),
            (
                format!(r#"{{"amount_minor":1,{base}"#),
                400,
                "malformed_json",
                None,
            ),
            (
                format!(r#"{{"amount_minor":1,{base},"x":1"#),
                400,
                "malformed_json",
                None,
            ),
            (r#"{"x":1,}"#.to_owned(), 400, "malformed_json", None),
            (
                r#"[100,"USD","pm_card_visa"]"#.to_owned(),
                422,
                "field_invalid_type",
                None,
            ),
            (" null".to_owned(), 422, "field_invalid_type", None),
            (
                format!(r#"{{"amount_minor":1,{base}}} trailing"#),
                400,
                "malformed_json",
                None,
            ),
        ] {
            let error = reject(&body);
            assert_eq!(
                (error.http_status().as_u16(), error.code(), error.field()),
                (status, code, field),
                "{body}"
            );
            let message = error.public_message();
            for leak in ["i64", "line", "column", "zzz_secret", "100.5", "\"100\""] {
                assert!(!message.contains(leak), "{message} leaks {leak}");
            }
        }
    }
}
