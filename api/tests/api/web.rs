//! gRPC-web from a browser's point of view (K01, and the gRPC-web part of K02): CORS
//! preflights, gRPC-web frames in binary and text mode over HTTP/1.1, status and metadata
//! visible to the page.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use payment_proto::v1 as pb;
use prost::Message;

use crate::harness::*;

const REQUESTED_HEADERS: &str =
    "content-type,x-grpc-web,x-user-agent,grpc-timeout,authorization,idempotency-key";

/// A gRPC-web answer: status, message, our metadata and the decoded message, if any.
#[derive(Debug)]
struct WebAnswer {
    http_status: u16,
    grpc_status: String,
    headers: reqwest::header::HeaderMap,
    message: Option<Vec<u8>>,
}

pub fn frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = vec![0_u8];
    framed.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

/// Splits gRPC-web frames: data frames (flag 0) and the trailer frame (flag 0x80).
fn parse_frames(mut body: &[u8]) -> (Option<Vec<u8>>, Option<String>) {
    let (mut data, mut trailers) = (None, None);
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = body[5..5 + len].to_vec();
        if flag & 0x80 != 0 {
            trailers = Some(String::from_utf8(payload).unwrap());
        } else {
            data = Some(payload);
        }
        body = &body[5 + len..];
    }
    (data, trailers)
}

/// base64 in 4-character groups: gRPC-web-text may concatenate separately padded chunks.
fn decode_text(body: &[u8]) -> Vec<u8> {
    body.chunks(4)
        .flat_map(|group| STANDARD.decode(group).unwrap())
        .collect()
}

async fn call(
    app: &TestApp,
    method: &str,
    message: &impl Message,
    text: bool,
    origin: Option<&str>,
) -> WebAnswer {
    let framed = frame(message);
    let (content_type, body) = if text {
        (
            "application/grpc-web-text",
            STANDARD.encode(framed).into_bytes(),
        )
    } else {
        ("application/grpc-web+proto", framed)
    };
    let mut request = app
        .http
        .post(app.url(&format!("/payments.v1.PaymentService/{method}")))
        .header("content-type", content_type)
        .header("accept", content_type)
        .header("x-grpc-web", "1")
        .header("x-user-agent", "grpc-web-javascript/0.1")
        .header("authorization", format!("Bearer {}", app.api_key))
        .body(body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let http_status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.unwrap();
    let raw = if text {
        decode_text(&raw)
    } else {
        raw.to_vec()
    };
    let (message, trailers) = parse_frames(&raw);
    let grpc_status = match headers.get("grpc-status") {
        Some(status) => status.to_str().unwrap().to_owned(),
        None => trailers
            .unwrap_or_default()
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("grpc-status:")
                    .map(|s| s.trim().to_owned())
            })
            .unwrap_or_default(),
    };
    WebAnswer {
        http_status,
        grpc_status,
        headers,
        message,
    }
}

fn header_list(headers: &reqwest::header::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| {
            value
                .to_str()
                .unwrap()
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn preflights_are_answered_before_auth_for_allowed_origins_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                app.url("/payments.v1.PaymentService/Authorize"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", REQUESTED_HEADERS)
            .send()
    };
    let allowed = preflight(ALLOWED_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ALLOWED_ORIGIN
    );
    let allowed_headers = header_list(allowed.headers(), "access-control-allow-headers");
    for requested in REQUESTED_HEADERS.split(',') {
        assert!(
            allowed_headers.contains(&requested.to_owned()),
            "{requested} not in {allowed_headers:?}"
        );
    }
    assert!(
        allowed.headers().get("www-authenticate").is_none(),
        "no authentication ran"
    );

    let denied = preflight("http://evil.example").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_web_calls_in_binary_and_text_mode_expose_status_and_metadata() {
    let app = TestApp::spawn().await;
    for text in [false, true] {
        let invalid = call(
            &app,
            "Authorize",
            &authorize_message(0, "USD", "pm_card_visa"),
            text,
            Some(ALLOWED_ORIGIN),
        )
        .await;
        assert_eq!(
            (invalid.http_status, invalid.grpc_status.as_str()),
            (200, "3"),
            "text={text}: {invalid:?}"
        );
        assert_eq!(
            invalid.headers["access-control-allow-origin"],
            ALLOWED_ORIGIN
        );
        let exposed = header_list(&invalid.headers, "access-control-expose-headers");
        for name in [
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
            "idempotent-replayed",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
        ] {
            assert!(
                exposed.contains(&name.to_owned()),
                "{name} not exposed: {exposed:?}"
            );
        }

        let ok = call(
            &app,
            "Authorize",
            &authorize_message(250, "EUR", "pm_card_visa"),
            text,
            Some(ALLOWED_ORIGIN),
        )
        .await;
        assert_eq!(ok.grpc_status, "0", "text={text}: {ok:?}");
        let payment = pb::Payment::decode(ok.message.unwrap().as_slice()).unwrap();
        assert_eq!(
            (payment.status(), payment.amount_minor),
            (pb::PaymentStatus::Authorized, 250)
        );
        let fetched = call(
            &app,
            "GetPayment",
            &pb::GetPaymentRequest {
                payment_id: payment.id.clone(),
            },
            text,
            Some(ALLOWED_ORIGIN),
        )
        .await;
        assert_eq!(
            pb::Payment::decode(fetched.message.unwrap().as_slice()).unwrap(),
            payment
        );
    }
    assert_eq!(app.footprint().await[0], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_web_messages_at_and_over_the_limit() {
    let app = TestApp::spawn().await;
    let sized = |target: usize| {
        let mut message = authorize_message(100, "USD", "pm_card_visa");
        let mut entry = 0;
        while message.encoded_len() < target {
            message
                .metadata
                .insert(format!("k{entry:02}"), "v".repeat(500));
            entry += 1;
        }
        message
    };
    let over_message = sized(TEST_BODY_LIMIT + 1);
    assert!(over_message.encoded_len() > TEST_BODY_LIMIT);
    let over = call(&app, "Authorize", &over_message, false, None).await;
    assert_eq!(
        over.grpc_status, "8",
        "RESOURCE_EXHAUSTED over gRPC-web: {over:?}"
    );
    let mut small = authorize_message(100, "USD", "pm_card_visa");
    small.description = Some("fits".into());
    assert_eq!(
        call(&app, "Authorize", &small, false, None)
            .await
            .grpc_status,
        "0"
    );
    assert_eq!(app.footprint().await, [1, 2, 1, 0]);
}
