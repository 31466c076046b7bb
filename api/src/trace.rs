//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` stored with
//! each outbox event so consumers can join the request's trace.

/// Name of the header / gRPC metadata entry.
pub use payment_telemetry::TRACEPARENT;

/// The `traceparent` to store with a request's event: when spans are exported, the context of
/// the current span (the request's server span, whose trace continues the caller's), so the
/// relay's produce span and the consumer join the very trace the API exported; otherwise
/// [`child_traceparent`] of the incoming value.
pub fn event_traceparent(incoming: Option<&[u8]>) -> String {
    payment_telemetry::span_traceparent(&tracing::Span::current())
        .unwrap_or_else(|| child_traceparent(incoming))
}

/// Returns a `traceparent` for work done on behalf of a request: the incoming trace id and
/// flags with a new span id when `incoming` is a valid version-00 value, otherwise a new
/// sampled trace.
pub fn child_traceparent(incoming: Option<&[u8]>) -> String {
    let span: [u8; 8] = rand::random();
    let span = hex::encode(span);
    if let Some((trace_id, flags)) = incoming.and_then(parse) {
        return format!("00-{trace_id}-{span}-{flags}");
    }
    let trace: [u8; 16] = rand::random();
    format!("00-{}-{span}-01", hex::encode(trace))
}

/// Splits a valid `00-<trace id>-<parent id>-<flags>` value into trace id and flags.
fn parse(value: &[u8]) -> Option<(&str, &str)> {
    let value = std::str::from_utf8(value).ok()?;
    let mut parts = value.split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = parts.next().is_none()
        && version == "00"
        && lower_hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && lower_hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && lower_hex(flags, 2);
    valid.then_some((trace_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_incoming_trace() {
        let incoming = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let child = child_traceparent(Some(incoming));
        assert!(child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(child.ends_with("-01"));
        assert!(!child.contains("00f067aa0ba902b7"));
    }

    #[test]
    fn starts_a_trace_for_missing_or_invalid_values() {
        for incoming in [
            None,
            Some(&b"garbage"[..]),
            Some(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ] {
            let value = child_traceparent(incoming);
            assert!(parse(value.as_bytes()).is_some(), "{value}");
        }
    }
}
