//! Logs, traces and metrics. Log lines go to stderr; when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans and metrics are exported over OTLP too (the standard OTel env vars apply). Each RPC gets
//! one server span, named and attributed by the OTel RPC conventions and continuing the caller's
//! W3C trace, and one measurement of `rpc.server.duration`. Nothing about a plan's content or a
//! person's identity is recorded: only the method, the status code and the timing.

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

/// Tower layer giving every RPC its server span and duration measurement.
#[derive(Clone)]
pub struct RpcTelemetryLayer {
    duration: Histogram<f64>,
}

impl Default for RpcTelemetryLayer {
    fn default() -> Self {
        let duration = opentelemetry::global::meter("samvirke")
            .f64_histogram("rpc.server.duration")
            .with_unit("ms")
            .with_description("duration of inbound RPCs")
            .build();
        RpcTelemetryLayer { duration }
    }
}

impl<S> tower::Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry { inner, duration: self.duration.clone() }
    }
}

/// The service `RpcTelemetryLayer` wraps around the router.
#[derive(Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    duration: Histogram<f64>,
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
    service: String,
    method: String,
    duration: Histogram<f64>,
}

/// gRPC's CANCELLED: the client went away before the response ended.
const CANCELLED: i32 = 1;

impl Finish {
    fn record(self, code: i32) {
        let millis = self.start.elapsed().as_secs_f64() * 1000.0;
        self.span.record("rpc.grpc.status_code", code);
        // The server-side codes the conventions count as errors: faults, not client mistakes.
        if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
            self.span.record("otel.status_code", "ERROR");
        }
        self.duration.record(
            millis,
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", self.service),
                KeyValue::new("rpc.method", self.method.clone()),
                KeyValue::new("rpc.grpc.status_code", i64::from(code)),
            ],
        );
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
        let span = tracing::info_span!(
            "rpc",
            otel.name = %rpc,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(request.headers()))
        });
        // No OTel layer installed (tests, plain logging) is fine: nothing to continue.
        let _ = span.set_parent(parent);
        let finish = Finish {
            span: span.clone(),
            start: Instant::now(),
            service: service.to_owned(),
            method: method.to_owned(),
            duration: self.duration.clone(),
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
