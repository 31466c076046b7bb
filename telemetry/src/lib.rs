//! Logs and traces, the same for both binaries.
//!
//! [`init`] installs the process's `tracing` subscriber: log lines on stderr (text or JSON,
//! filtered by `RUST_LOG`, default `info`) and, when OpenTelemetry export is configured by the
//! standard variables (OpenTelemetry specification, "Environment Variable Specification" and
//! "OTLP Exporter Configuration"), a layer that exports the services' spans over OTLP/HTTP:
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | collector base URL (`/v1/traces` is appended); unset (and no `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): no export |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the full traces URL, instead of the base |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `…_TRACES_PROTOCOL` | `http/protobuf` (default) or `http/json`; `grpc` is refused at start |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT` | extra request headers, export timeout (ms) |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | `service.name` (default: the binary's, `payment-api` or `relay-job`) and more resource attributes |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | sampler; default `parentbased_always_on` |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | the batch processor (ms, spans) |
//! | `OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none` | no export, whatever else is set |
//!
//! Exported spans are this workspace's own (targets `payment_*` and `relay_job`) at `debug` and
//! above, whatever `RUST_LOG` says: tracing does not depend on log verbosity, and log events
//! stay log lines (they are not copied into spans). With export off, the spans below the log
//! level are never created, so tracing costs nothing then.
//!
//! Spans are batched on the SDK's own thread; [`Telemetry::flush`] exports what is pending
//! (before a Lambda invocation returns) and [`Telemetry::shutdown`] before a process exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::prelude::*;

/// Name of the W3C Trace Context header (and gRPC metadata entry, Kafka record header).
pub const TRACEPARENT: &str = "traceparent";

/// Whether spans are exported (set once by [`init`]).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] turned OpenTelemetry export on in this process.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Export settings that can never work.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export settings (OTEL_EXPORTER_OTLP_*): {0}")]
pub struct TelemetryError(String);

/// The installed subscriber's exporter, if any: flush it before a Lambda invocation returns and
/// shut it down before the process exits. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still queued, waiting for the collector (at most the export timeout).
    /// Blocks: call it from a blocking context (`spawn_blocking`) inside a runtime.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "spans not exported");
        }
    }

    /// Exports what is queued and stops the exporter (blocks like [`Telemetry::flush`]).
    pub fn shutdown(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "span exporter shut down with an error");
        }
    }
}

/// Whether the standard variables ask for trace export: an OTLP endpoint is set and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
fn export_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let is = |name: &str, expected: &str| {
        std::env::var(name).is_ok_and(|value| value.trim().eq_ignore_ascii_case(expected))
    };
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

/// Targets whose spans are exported: this workspace's crates.
fn ours(target: &str) -> bool {
    target.starts_with("payment_") || target.starts_with("relay_job")
}

fn provider(service_name: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
    // The specification's default is http/protobuf; the exporter would pick JSON, since both
    // encodings are built in. A protocol given in the environment wins.
    let chosen = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some());
    if !chosen {
        exporter = exporter.with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    }
    let exporter = exporter
        .build()
        .map_err(|error| TelemetryError(error.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|attributes| attributes.contains("service.name="));
    if !named {
        resource = resource.with_service_name(service_name);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Installs the subscriber: log lines on stderr (`json` or text; `RUST_LOG`, default `info`)
/// and, when the `OTEL_*` variables ask for it (module docs), span export with
/// `service_name` as the default `service.name` and W3C Trace Context as the propagator.
///
/// # Errors
/// [`TelemetryError`] when export is asked for with settings that cannot work (for example
/// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, or an endpoint that is no URL); nothing is installed.
pub fn init(service_name: &'static str, json: bool) -> Result<Telemetry, TelemetryError> {
    let provider = export_configured()
        .then(|| provider(service_name))
        .transpose()?;
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service_name))
            .with_filter(FilterFn::new(|metadata| {
                metadata.is_span()
                    && ours(metadata.target())
                    && *metadata.level() <= tracing::Level::DEBUG
            }))
    });
    tracing_subscriber::registry()
        .with(log_lines(json))
        .with(spans)
        .init();
    if let Some(provider) = &provider {
        global::set_tracer_provider(provider.clone());
        global::set_text_map_propagator(TraceContextPropagator::new());
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(service_name, "exporting spans over OTLP");
    }
    Ok(Telemetry { provider })
}

/// Installs the log lines of [`init`] only, never exporting spans: for one-shot operator
/// commands.
pub fn init_logs(json: bool) {
    tracing_subscriber::registry().with(log_lines(json)).init();
}

/// Log lines on stderr, text or JSON, filtered by `RUST_LOG` (default `info`).
fn log_lines<S>(json: bool) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let lines = if json {
        lines.json().boxed()
    } else {
        lines.boxed()
    };
    lines.with_filter(filter)
}

/// The context a W3C `traceparent` value (and optional `tracestate`) describes, as a remote
/// parent; an empty context for a missing or invalid value.
pub fn remote_context(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
    let mut carrier = HashMap::new();
    if let Some(value) = traceparent {
        carrier.insert(TRACEPARENT.to_owned(), value.to_owned());
    }
    if let Some(value) = tracestate {
        carrier.insert("tracestate".to_owned(), value.to_owned());
    }
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` continue the trace of an incoming `traceparent` (W3C Trace Context), when
/// spans are exported and the value is valid; otherwise `span` starts a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    if exporting() && traceparent.is_some() {
        let _ = span.set_parent(remote_context(traceparent, tracestate));
    }
}

/// Names `span`'s OpenTelemetry span `name`, also after its context exists (a `tracing` record
/// of `otel.name` then no longer renames it), when spans are exported.
pub fn rename(span: &tracing::Span, name: String) {
    if exporting() {
        span.context().span().update_name(name);
    }
}

/// `00-<trace id>-<span id>-<flags>` (W3C Trace Context, version 00) of `context`.
pub fn traceparent_of(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// The `traceparent` of `span`'s OpenTelemetry context: `None` when spans are not exported (or
/// `span` is disabled), so callers keep their own trace context then.
pub fn span_traceparent(span: &tracing::Span) -> Option<String> {
    if !exporting() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| traceparent_of(&span_context))
}

/// An OpenTelemetry span in progress, outside `tracing`; it ends when dropped.
pub struct ActiveSpan(global::BoxedSpan);

impl std::fmt::Debug for ActiveSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ActiveSpan")
            .field(opentelemetry::trace::Span::span_context(&self.0))
            .finish()
    }
}

impl ActiveSpan {
    /// Marks the span failed, with `description` (ends with the span).
    pub fn fail(&mut self, description: String) {
        opentelemetry::trace::Span::set_status(
            &mut self.0,
            opentelemetry::trace::Status::error(description),
        );
    }
}

/// A span for sending one message (OpenTelemetry messaging semantic conventions: kind
/// PRODUCER, named `{destination} publish`) that continues the trace of `parent` (the message's
/// stored `traceparent`) and links to `link` (the span current when it is sent: the relay's
/// batch transaction), with `attributes`; and the `traceparent` to put in the message, so its
/// consumer continues this span. `None` when spans are not exported.
pub fn producer_span(
    destination: &str,
    parent: Option<&str>,
    link: &tracing::Span,
    attributes: &[(&'static str, String)],
) -> Option<(ActiveSpan, String)> {
    if !exporting() {
        return None;
    }
    let tracer = global::tracer("relay-job");
    let mut attributes: Vec<KeyValue> = attributes
        .iter()
        .map(|(key, value)| KeyValue::new(*key, value.clone()))
        .collect();
    attributes.push(KeyValue::new("messaging.operation.type", "send"));
    attributes.push(KeyValue::new(
        "messaging.destination.name",
        destination.to_owned(),
    ));
    let mut builder = tracer
        .span_builder(format!("{destination} publish"))
        .with_kind(opentelemetry::trace::SpanKind::Producer)
        .with_attributes(attributes);
    let linked = link.context().span().span_context().clone();
    if linked.is_valid() {
        builder = builder.with_links(vec![opentelemetry::trace::Link::with_context(linked)]);
    }
    let span = builder.start_with_context(&tracer, &remote_context(parent, None));
    let traceparent = traceparent_of(opentelemetry::trace::Span::span_context(&span));
    Some((ActiveSpan(span), traceparent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = remote_context(Some(value), None);
        let span = context.span();
        assert_eq!(traceparent_of(span.span_context()), value);
        assert!(span.span_context().is_remote());
    }

    #[test]
    fn invalid_values_give_no_parent() {
        for value in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            let context = remote_context(Some(value), None);
            assert!(!context.span().span_context().is_valid(), "{value}");
        }
    }

    #[test]
    fn only_our_crates_are_exported() {
        assert!(ours("payment_api::access"));
        assert!(ours("payment_db::session"));
        assert!(ours("relay_job::batch"));
        assert!(!ours("h2::codec"));
        assert!(!ours("tonic::transport"));
    }
}
