//! One payments client over REST, native gRPC or gRPC-web, so a workload can spread its calls
//! across surfaces and compare what each answers.

use payment_proto::v1 as pb;
use payment_proto::v1::payment_service_client::PaymentServiceClient;
use prost::Message;
use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// A surface of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Surface {
    /// REST under `/v1`.
    Rest,
    /// Native gRPC over HTTP/2.
    Grpc,
    /// gRPC-web over HTTP/1.1, as browsers send it.
    GrpcWeb,
}

impl Surface {
    /// Every surface.
    pub const ALL: [Self; 3] = [Self::Rest, Self::Grpc, Self::GrpcWeb];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rest => "REST",
            Self::Grpc => "gRPC",
            Self::GrpcWeb => "gRPC-web",
        }
    }
}

/// A payment as any surface returns it (amounts in minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    /// Payment id.
    pub id: String,
    /// snake_case status.
    pub status: String,
    /// Currency code.
    pub currency: String,
    /// Requested amount.
    pub amount_minor: i64,
    /// Captured amount.
    pub captured_minor: i64,
    /// Refunded amount.
    pub refunded_minor: i64,
    /// Per-payment version.
    pub version: i64,
    /// Whether the answer was a replay of an earlier request with the same key.
    pub replayed: bool,
}

/// A refused call: the stable error code, the same on every surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// Stable code (`amount_not_positive` …).
    pub code: String,
    /// HTTP status (REST) or gRPC status code number (gRPC, gRPC-web).
    pub status: i32,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.status)
    }
}

impl std::error::Error for CallError {}

/// A write or read to perform. Amounts are minor units; ids are payment UUIDs.
#[derive(Debug, Clone)]
pub enum Call {
    /// Authorize an amount.
    Authorize {
        /// Amount in minor units.
        amount_minor: i64,
        /// ISO 4217 code.
        currency: String,
        /// Payment method token.
        payment_method: String,
    },
    /// Capture (all when `amount_minor` is `None`).
    Capture {
        /// Payment id.
        id: String,
        /// Amount in minor units.
        amount_minor: Option<i64>,
    },
    /// Void.
    Void {
        /// Payment id.
        id: String,
    },
    /// Refund (the rest when `amount_minor` is `None`).
    Refund {
        /// Payment id.
        id: String,
        /// Amount in minor units.
        amount_minor: Option<i64>,
    },
    /// Read.
    Get {
        /// Payment id.
        id: String,
    },
}

/// A client of one server on one surface.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    api_key: String,
    http: reqwest::Client,
    grpc: PaymentServiceClient<Channel>,
}

fn status_name(status: i32) -> String {
    pb::PaymentStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("PAYMENT_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_default()
}

fn from_proto(payment: pb::Payment, replayed: bool) -> PaymentView {
    PaymentView {
        status: status_name(payment.status),
        id: payment.id,
        currency: payment.currency,
        amount_minor: payment.amount_minor,
        captured_minor: payment.captured_minor,
        refunded_minor: payment.refunded_minor,
        version: payment.version,
        replayed,
    }
}

fn from_json(body: &Value, replayed: bool) -> PaymentView {
    PaymentView {
        id: body["id"].as_str().unwrap_or_default().to_owned(),
        status: body["status"].as_str().unwrap_or_default().to_owned(),
        currency: body["currency"].as_str().unwrap_or_default().to_owned(),
        amount_minor: body["amount_minor"].as_i64().unwrap_or_default(),
        captured_minor: body["captured_minor"].as_i64().unwrap_or_default(),
        refunded_minor: body["refunded_minor"].as_i64().unwrap_or_default(),
        version: body["version"].as_i64().unwrap_or_default(),
        replayed,
    }
}

fn grpc_error(status: &tonic::Status) -> CallError {
    use tonic_types::StatusExt;
    CallError {
        code: status
            .get_details_error_info()
            .map(|info| info.reason)
            .unwrap_or_default(),
        status: status.code() as i32,
    }
}

impl Client {
    /// Connects to `base_url` (`http://host:port`) with `api_key`.
    ///
    /// # Errors
    /// When the gRPC channel cannot connect.
    pub async fn connect(base_url: &str, api_key: &str) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(base_url.to_owned())?.connect().await?;
        Ok(Self {
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            http: reqwest::Client::new(),
            grpc: PaymentServiceClient::new(channel),
        })
    }

    /// Performs `call` on `surface` with an optional idempotency key.
    ///
    /// # Errors
    /// [`CallError`] with the stable code when the server refuses; transport errors as
    /// `internal_transport`.
    pub async fn call(
        &self,
        surface: Surface,
        call: &Call,
        key: Option<&str>,
    ) -> Result<PaymentView, CallError> {
        match surface {
            Surface::Rest => self.rest(call, key).await,
            Surface::Grpc => self.native(call, key).await,
            Surface::GrpcWeb => self.web(call, key).await,
        }
    }

    async fn rest(&self, call: &Call, key: Option<&str>) -> Result<PaymentView, CallError> {
        let (method, path, body) = match call {
            Call::Authorize {
                amount_minor,
                currency,
                payment_method,
            } => (
                reqwest::Method::POST,
                "/v1/payments".to_owned(),
                Some(
                    json!({ "amount_minor": amount_minor, "currency": currency, "payment_method": payment_method }),
                ),
            ),
            Call::Capture { id, amount_minor } => (
                reqwest::Method::POST,
                format!("/v1/payments/{id}/capture"),
                Some(json!({ "amount_minor": amount_minor })),
            ),
            Call::Void { id } => (
                reqwest::Method::POST,
                format!("/v1/payments/{id}/void"),
                None,
            ),
            Call::Refund { id, amount_minor } => (
                reqwest::Method::POST,
                format!("/v1/payments/{id}/refunds"),
                Some(json!({ "amount_minor": amount_minor })),
            ),
            Call::Get { id } => (reqwest::Method::GET, format!("/v1/payments/{id}"), None),
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let transport = |_| CallError {
            code: "internal_transport".into(),
            status: 0,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let body: Value = response.json().await.map_err(transport)?;
        if status.is_success() {
            Ok(from_json(&body, replayed))
        } else {
            Err(CallError {
                code: body["code"].as_str().unwrap_or_default().to_owned(),
                status: i32::from(status.as_u16()),
            })
        }
    }

    fn request<T>(&self, message: T, key: Option<&str>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = MetadataValue::try_from(format!("Bearer {}", self.api_key)) {
            request.metadata_mut().insert("authorization", value);
        }
        if let Some(Ok(value)) = key.map(MetadataValue::try_from) {
            request.metadata_mut().insert("idempotency-key", value);
        }
        request
    }

    async fn native(&self, call: &Call, key: Option<&str>) -> Result<PaymentView, CallError> {
        let mut grpc = self.grpc.clone();
        let response = match call.clone() {
            Call::Authorize {
                amount_minor,
                currency,
                payment_method,
            } => {
                let message = pb::AuthorizeRequest {
                    amount_minor,
                    currency,
                    payment_method,
                    ..Default::default()
                };
                grpc.authorize(self.request(message, key)).await
            }
            Call::Capture { id, amount_minor } => {
                grpc.capture(self.request(
                    pb::CaptureRequest {
                        payment_id: id,
                        amount_minor,
                    },
                    key,
                ))
                .await
            }
            Call::Void { id } => {
                grpc.void(self.request(pb::VoidRequest { payment_id: id }, key))
                    .await
            }
            Call::Refund { id, amount_minor } => {
                grpc.refund(self.request(
                    pb::RefundRequest {
                        payment_id: id,
                        amount_minor,
                    },
                    key,
                ))
                .await
            }
            Call::Get { id } => {
                grpc.get_payment(self.request(pb::GetPaymentRequest { payment_id: id }, key))
                    .await
            }
        };
        let response = response.map_err(|status| grpc_error(&status))?;
        let replayed = response.metadata().get("idempotent-replayed").is_some();
        Ok(from_proto(response.into_inner(), replayed))
    }

    async fn web(&self, call: &Call, key: Option<&str>) -> Result<PaymentView, CallError> {
        let (method, body) = match call.clone() {
            Call::Authorize {
                amount_minor,
                currency,
                payment_method,
            } => (
                "Authorize",
                pb::AuthorizeRequest {
                    amount_minor,
                    currency,
                    payment_method,
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            Call::Capture { id, amount_minor } => (
                "Capture",
                pb::CaptureRequest {
                    payment_id: id,
                    amount_minor,
                }
                .encode_to_vec(),
            ),
            Call::Void { id } => ("Void", pb::VoidRequest { payment_id: id }.encode_to_vec()),
            Call::Refund { id, amount_minor } => (
                "Refund",
                pb::RefundRequest {
                    payment_id: id,
                    amount_minor,
                }
                .encode_to_vec(),
            ),
            Call::Get { id } => (
                "GetPayment",
                pb::GetPaymentRequest { payment_id: id }.encode_to_vec(),
            ),
        };
        let framed = grpc_web_frame(&body);
        let mut request = self
            .http
            .post(format!(
                "{}/payments.v1.PaymentService/{method}",
                self.base_url
            ))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("authorization", format!("Bearer {}", self.api_key))
            .body(framed);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let transport = |_| CallError {
            code: "internal_transport".into(),
            status: 0,
        };
        let response = request.send().await.map_err(transport)?;
        let headers = response.headers().clone();
        if let Some(status) =
            tonic::Status::from_header_map(&headers).filter(|s| s.code() != tonic::Code::Ok)
        {
            return Err(grpc_error(&status));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let (message, trailers) = split_frames(&bytes);
        if let Some(trailers) = trailers
            && let Some(code) = trailers
                .lines()
                .find_map(|l| l.trim().strip_prefix("grpc-status:"))
                .map(str::trim)
            && code != "0"
        {
            return Err(CallError {
                code: "grpc_web_error".into(),
                status: code.parse().unwrap_or(2),
            });
        }
        let payment =
            pb::Payment::decode(message.unwrap_or_default().as_slice()).map_err(|_| CallError {
                code: "decode".into(),
                status: 13,
            })?;
        Ok(from_proto(
            payment,
            headers.get("idempotent-replayed").is_some(),
        ))
    }
}

/// One gRPC-web data frame (flag 0, big-endian length) holding `message`.
pub fn grpc_web_frame(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0_u8];
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(message);
    framed
}

/// The `grpc-status` of a gRPC-web answer: from its headers (trailers-only errors), else from
/// the trailer frame of `body`; `None` when neither holds one.
pub fn grpc_web_status(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Option<u32> {
    let status = |value: &str| value.trim().parse().ok();
    if let Some(value) = headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
        return status(value);
    }
    split_frames(body).1.and_then(|trailers| {
        trailers
            .lines()
            .find_map(|line| line.trim().strip_prefix("grpc-status:"))
            .and_then(status)
    })
}

/// Splits gRPC-web frames into the message (flag 0) and the trailer block (flag 0x80).
pub fn split_frames(mut body: &[u8]) -> (Option<Vec<u8>>, Option<String>) {
    let (mut message, mut trailers) = (None, None);
    while let (Some(&flag), Some(len)) = (body.first(), body.get(1..5)) {
        let len = <[u8; 4]>::try_from(len).map_or(0, |bytes| u32::from_be_bytes(bytes) as usize);
        let Some(payload) = body.get(5..5 + len) else {
            break;
        };
        if flag & 0x80 == 0 {
            message = Some(payload.to_vec());
        } else {
            trailers = Some(String::from_utf8_lossy(payload).into_owned());
        }
        body = body.get(5 + len..).unwrap_or_default();
    }
    (message, trailers)
}
