//! Logs, traces and metrics. Log lines go to stderr; when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans and metrics are exported over OTLP too (the standard OTel env vars apply). Each RPC gets
//! one server span, named and attributed by the OTel RPC conventions and continuing the caller's
//! W3C trace, and one measurement of `rpc.server.call.duration` (seconds). The stable RPC
//! conventions are the default; `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup` adds the experimental
//! ones this server emitted before (`rpc.server.duration` in milliseconds, `rpc.system`,
//! `rpc.service`, `rpc.grpc.status_code`), for dashboards still built on them (`Conventions`).
//! Nothing about a plan's content or a person's identity is recorded: only the method, the
//! status code and the timing.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the OTLP exporters alive; `shutdown` flushes what they hold.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Installs the global subscriber: `RUST_LOG`-filtered log lines to stderr, and OTLP export
/// when configured. Call once, inside the Tokio runtime.
pub fn init() -> Result<Telemetry, Box<dyn std::error::Error + Send + Sync>> {
    // PostgreSQL's notices (a migration table that already exists) are not news at info.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        tracing_subscriber::registry().with(fmt).try_init()?;
        return Ok(Telemetry { tracer: None, meter: None });
    }
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("samvirke").build();
    let spans = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
    let tracer = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let metrics = opentelemetry_otlp::MetricExporter::builder().with_tonic().build()?;
    let meter =
        SdkMeterProvider::builder().with_periodic_exporter(metrics).with_resource(resource).build();
    opentelemetry::global::set_tracer_provider(tracer.clone());
    opentelemetry::global::set_meter_provider(meter.clone());
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer.tracer("samvirke"))
        .with_filter(EnvFilter::new("info"));
    tracing_subscriber::registry().with(fmt).with(otel).try_init()?;
    Ok(Telemetry { tracer: Some(tracer), meter: Some(meter) })
}

impl Telemetry {
    /// Flushes and stops the exporters. Blocking, so it runs off the async workers.
    pub async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(tracer) = self.tracer
                && let Err(e) = tracer.shutdown()
            {
                eprintln!("flushing traces failed: {e}");
            }
            if let Some(meter) = self.meter
                && let Err(e) = meter.shutdown()
            {
                eprintln!("flushing metrics failed: {e}");
            }
        })
        .await;
    }
}

/// Which OTel RPC conventions telemetry follows, by `OTEL_SEMCONV_STABILITY_OPT_IN` as the
/// conventions ask of instrumentations that move to the stable ones (semconv, "RPC"): the stable
/// conventions, and with `rpc/dup` the experimental ones beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conventions {
    /// `rpc.server.call.duration` (s), `rpc.system.name`, `rpc.method` (the full name),
    /// `rpc.response.status_code` (the status's name) and `error.type`.
    Stable,
    /// The stable conventions, and the experimental ones beside them: `rpc.server.duration`
    /// (ms), `rpc.system`, `rpc.service`, `rpc.grpc.status_code`.
    StableAndExperimental,
}

impl Conventions {
    /// The conventions a value of `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list)
    /// asks for.
    pub fn opted_in(value: Option<&str>) -> Conventions {
        let dup = value.is_some_and(|v| v.split(',').any(|item| item.trim() == "rpc/dup"));
        if dup { Conventions::StableAndExperimental } else { Conventions::Stable }
    }

    fn from_env() -> Conventions {
        Conventions::opted_in(std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN").ok().as_deref())
    }
}

/// The instruments an RPC's duration is measured on.
#[derive(Clone)]
struct Instruments {
    conventions: Conventions,
    /// `rpc.server.call.duration`, seconds.
    call_duration: Histogram<f64>,
    /// `rpc.server.duration`, milliseconds: with the experimental conventions alone.
    duration: Option<Histogram<f64>>,
}

/// Tower layer giving every RPC its server span and duration measurement.
#[derive(Clone)]
pub struct RpcTelemetryLayer {
    instruments: Instruments,
}

impl Default for RpcTelemetryLayer {
    fn default() -> Self {
        let conventions = Conventions::from_env();
        let meter = opentelemetry::global::meter("samvirke");
        let call_duration = meter
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("Measures the duration of inbound remote procedure calls.")
            .build();
        let duration = (conventions == Conventions::StableAndExperimental).then(|| {
            meter
                .f64_histogram("rpc.server.duration")
                .with_unit("ms")
                .with_description("duration of inbound RPCs")
                .build()
        });
        RpcTelemetryLayer { instruments: Instruments { conventions, call_duration, duration } }
    }
}

impl<S> tower::Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry { inner, instruments: self.instruments.clone() }
    }
}

/// The service `RpcTelemetryLayer` wraps around the router.
#[derive(Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    instruments: Instruments,
}

/// gRPC's status codes by number, as the conventions name them (`rpc.response.status_code`).
const STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The name of status `code`; `_OTHER` for a number gRPC does not define.
fn status_name(code: i32) -> &'static str {
    usize::try_from(code).ok().and_then(|i| STATUS_NAMES.get(i)).copied().unwrap_or("_OTHER")
}

/// The server-side codes the conventions count as errors: faults, not the client's mistakes.
fn is_server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// The attributes of a measurement of the stable conventions: `rpc` is the method's full name,
/// or `UNKNOWN` for a path the server does not serve (`_OTHER`, as the conventions say).
fn stable_attributes(rpc: &str, code: i32) -> Vec<KeyValue> {
    let method = if rpc == UNKNOWN { "_OTHER" } else { rpc };
    let mut attributes = vec![
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", method.to_owned()),
        KeyValue::new("rpc.response.status_code", status_name(code)),
    ];
    if is_server_error(code) {
        attributes.push(KeyValue::new("error.type", status_name(code)));
    }
    attributes
}

/// The attributes of a measurement of the experimental conventions.
fn experimental_attributes(service: &str, method: &str, code: i32) -> Vec<KeyValue> {
    vec![
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", service.to_owned()),
        KeyValue::new("rpc.method", method.to_owned()),
        KeyValue::new("rpc.grpc.status_code", i64::from(code)),
    ]
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// What to record once the RPC's status is known.
struct Finish {
    span: Span,
    start: Instant,
    rpc: &'static str,
    service: String,
    method: String,
    instruments: Instruments,
}

/// gRPC's CANCELLED: the client went away before the response ended.
const CANCELLED: i32 = 1;

impl Finish {
    fn record(self, code: i32) {
        let seconds = self.start.elapsed().as_secs_f64();
        let millis = seconds * 1000.0;
        self.span.record("rpc.response.status_code", status_name(code));
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", status_name(code));
        }
        let instruments = &self.instruments;
        instruments.call_duration.record(seconds, &stable_attributes(self.rpc, code));
        if let Some(duration) = &instruments.duration {
            self.span.record("rpc.grpc.status_code", code);
            duration.record(millis, &experimental_attributes(&self.service, &self.method, code));
        }
        self.span.in_scope(|| {
            tracing::info!(
                rpc.method = %self.method,
                rpc.grpc.status_code = code,
                duration_ms = millis,
                "rpc finished"
            );
        });
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

impl<S, R> tower::Service<http::Request<tonic::body::Body>> for RpcTelemetry<S>
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    R: Body + Unpin,
{
    type Response = http::Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // Only the server's own methods are named: any other path is "unknown", so a client
        // cannot write what it likes (an identity number, megabytes) into logs, span names
        // or metric labels.
        let rpc = known_rpc(request.uri().path());
        let (service, method) = rpc.split_once('/').unwrap_or((UNKNOWN, UNKNOWN));
        let experimental = self.instruments.conventions == Conventions::StableAndExperimental;
        let span = tracing::info_span!(
            "rpc",
            otel.name = %rpc,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            rpc.system.name = "grpc",
            rpc.method = if rpc == UNKNOWN { "_OTHER" } else { rpc },
            rpc.response.status_code = tracing::field::Empty,
            rpc.system = tracing::field::Empty,
            rpc.service = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        if experimental {
            span.record("rpc.system", "grpc");
            span.record("rpc.service", service);
        }
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(request.headers()))
        });
        // No OTel layer installed (tests, plain logging) is fine: nothing to continue.
        let _ = span.set_parent(parent);
        let finish = Finish {
            span: span.clone(),
            start: Instant::now(),
            rpc,
            service: service.to_owned(),
            method: method.to_owned(),
            instruments: self.instruments.clone(),
        };
        let operation: std::sync::Arc<str> = if rpc == UNKNOWN { "".into() } else { rpc.into() };
        // tonic reads a request the client reset as one that ended early; the body says
        // which it was.
        let broke = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watch = broke.clone();
        let request =
            request.map(|inner| tonic::body::Body::new(WatchedBody { inner, broke: watch }));
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            // A call the client resets before its response begins is dropped here: recorded
            // CANCELLED, as one dropped while its response streams is.
            let mut unfinished = Unfinished(Some(finish));
            let logged = crate::store::logged_as(operation, future);
            let mut response = tracing::Instrument::instrument(logged, span).await?;
            if broke.load(std::sync::atomic::Ordering::Relaxed) {
                let headers = response.headers_mut();
                headers.insert("grpc-status", http::HeaderValue::from_static("1"));
                headers.insert("grpc-message", http::HeaderValue::from_static(CANCELLED_MESSAGE));
            }
            let finish = unfinished.0.take();
            // An error comes as trailers-only: the status is in the headers already.
            let finish = match (grpc_status(response.headers()), finish) {
                (Some(code), Some(finish)) => {
                    finish.record(code);
                    None
                }
                (_, finish) => finish,
            };
            Ok(response.map(|inner| ObservedBody { inner, finish }))
        })
    }
}

/// The name telemetry gives a call's path: the method's full name (`samvirke.v1.PlanService/
/// GetPlan`) when the server serves it, `UNKNOWN` otherwise.
fn known_rpc(path: &str) -> &'static str {
    static KNOWN: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(served_methods);
    KNOWN.get(path.trim_start_matches('/')).copied().unwrap_or(UNKNOWN)
}

/// What telemetry calls a path the server does not serve.
const UNKNOWN: &str = "unknown";

/// Every method of every service the server serves, from the contract's descriptors and those
/// of the health and reflection services it adds: `package.Service/Method` each.
fn served_methods() -> std::collections::HashSet<&'static str> {
    use prost::Message;
    let mut methods = std::collections::HashSet::new();
    for set in [crate::proto::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else { continue };
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    let name = format!("{}.{}/{}", file.package(), service.name(), method.name());
                    methods.insert(&*Box::leak(name.into_boxed_str()));
                }
            }
        }
    }
    methods.insert("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    methods.insert("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    methods
}

/// What a call the client reset or abandoned mid-request answers, were anyone to hear it.
pub(crate) const CANCELLED_MESSAGE: &str =
    "the client cancelled the request before it arrived whole";

/// A request body that notes when reading it failed: the client reset the stream or went
/// away.
struct WatchedBody<B> {
    inner: B,
    broke: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<B: Body + Unpin> Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.broke.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A call's measurement until its response begins; recorded CANCELLED if the call is dropped
/// first.
struct Unfinished(Option<Finish>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(finish) = self.0.take() {
            finish.record(CANCELLED);
        }
    }
}

/// A response body that records the RPC's status when its trailers pass, or CANCELLED when it
/// is dropped before they do.
pub struct ObservedBody<B> {
    inner: B,
    finish: Option<Finish>,
}

impl<B: Body + Unpin> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
            && let Some(finish) = self.finish.take()
        {
            finish.record(grpc_status(trailers).unwrap_or(0));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for ObservedBody<B> {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.record(CANCELLED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_body_that_breaks_off_is_noted() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        struct Broken;
        impl Body for Broken {
            type Data = bytes::Bytes;
            type Error = std::io::Error;
            fn poll_frame(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<bytes::Bytes>, std::io::Error>>> {
                Poll::Ready(Some(Err(std::io::ErrorKind::ConnectionReset.into())))
            }
        }
        let broke = Arc::new(AtomicBool::new(false));
        let mut body = WatchedBody { inner: Broken, broke: broke.clone() };
        let waker = std::task::Waker::noop();
        let polled = Pin::new(&mut body).poll_frame(&mut Context::from_waker(waker));
        assert!(matches!(polled, Poll::Ready(Some(Err(_)))));
        assert!(broke.load(Ordering::Relaxed));
    }

    #[test]
    fn the_stable_rpc_conventions_unless_rpc_dup_asks_for_both() {
        assert_eq!(Conventions::opted_in(None), Conventions::Stable);
        assert_eq!(Conventions::opted_in(Some("http,rpc")), Conventions::Stable);
        let both = Conventions::StableAndExperimental;
        assert_eq!(Conventions::opted_in(Some("http, rpc/dup")), both);
        assert_eq!(Conventions::opted_in(Some("rpc,rpc/dup")), both);

        let text = |attributes: Vec<KeyValue>| -> Vec<String> {
            attributes.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect()
        };
        let found = stable_attributes("samvirke.v1.PlanService/GetPlan", 5);
        assert_eq!(
            text(found),
            [
                "rpc.system.name=grpc",
                "rpc.method=samvirke.v1.PlanService/GetPlan",
                "rpc.response.status_code=NOT_FOUND",
            ]
        );
        let fault = text(stable_attributes(UNKNOWN, 13));
        assert_eq!(fault[1], "rpc.method=_OTHER");
        assert_eq!(fault[3], "error.type=INTERNAL");
        assert_eq!(status_name(16), "UNAUTHENTICATED");
        assert_eq!(status_name(99), "_OTHER");
        let old = text(experimental_attributes("samvirke.v1.PlanService", "GetPlan", 0));
        assert_eq!(old[3], "rpc.grpc.status_code=0");
    }

    #[test]
    fn only_served_methods_are_named() {
        for path in [
            "/samvirke.v1.PlanService/GetPlan",
            "/samvirke.v1.AccessEventService/ListAccessEvents",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(known_rpc(path), &path[1..]);
        }
        for path in [
            "/samvirke.v1.PlanService/pid-01818000010",
            "/x/",
            "/samvirke.v1.PlanService/GetPlan/",
            "/samvirke.v1.PlanService/getplan",
        ] {
            assert_eq!(known_rpc(path), UNKNOWN, "{path}");
        }
    }
}
