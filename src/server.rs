//! The one place that builds the server: store, policy, token verification, the services behind
//! authentication, health checking, reflection and the per-RPC telemetry layer.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::{
    AccessEventApi, AccessScopeApi, Authenticate, BlockApi, ChangeFeed, ChildCoordinatorApi,
    ComplaintApi, Context, CoordinatorApi, GoalApi, MeasureApi, OrganisationApi, PlanApi,
    PlanChangeApi, PlanTransferApi, ReferralApi, ResponsibilityGroupApi, prune_changes,
};
use crate::auth::token::ProviderConfig;
use crate::auth::{Authorizer, DevKey, Guard, Policy, TokenVerifier, VerifierConfig};
use crate::domain::Error;
use crate::overload::{AdmissionLayer, CallerRate, CallerSlots, Limits};
use crate::proto;
use crate::proto::access_event_service_server::AccessEventServiceServer;
use tonic::codec::CompressionEncoding;

use crate::proto::access_scope_service_server::AccessScopeServiceServer;
use crate::proto::block_service_server::BlockServiceServer;
use crate::proto::child_coordinator_service_server::ChildCoordinatorServiceServer;
use crate::proto::complaint_service_server::ComplaintServiceServer;
use crate::proto::coordinator_service_server::CoordinatorServiceServer;
use crate::proto::goal_service_server::GoalServiceServer;
use crate::proto::measure_service_server::MeasureServiceServer;
use crate::proto::organisation_service_server::OrganisationServiceServer;
use crate::proto::plan_change_service_server::PlanChangeServiceServer;
use crate::proto::plan_service_server::PlanServiceServer;
use crate::proto::plan_transfer_service_server::PlanTransferServiceServer;
use crate::proto::referral_service_server::ReferralServiceServer;
use crate::proto::responsibility_group_service_server::ResponsibilityGroupServiceServer;
use crate::store::{DatabaseUrl, Store, StoreOptions};
use crate::telemetry::RpcTelemetryLayer;

/// Where the keys that sign tokens come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// The local development key at this path, created when missing: it signs for the three
    /// development issuers.
    DevKey(PathBuf),
    /// The identity providers, each with its issuer, kind of caller and JWKS file.
    Providers(Vec<ProviderConfig>),
}

/// Everything the server is built from.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The database.
    pub database_url: DatabaseUrl,
    /// The token signing keys.
    pub keys: KeySource,
    /// What tokens must say.
    pub verifier: VerifierConfig,
    /// Who may do what.
    pub policy: Policy,
    /// The largest request message accepted; larger ones are `RESOURCE_EXHAUSTED`.
    pub max_message_bytes: usize,
    /// How often the database is checked for the health service.
    pub health_interval: Duration,
    /// Whether server reflection is served.
    pub reflection: bool,
    /// The origins of browser clients (gRPC-Web) allowed across origins by CORS:
    /// `https://host[:port]` each. Empty: none.
    pub browser_origins: Vec<String>,
    /// TLS from these files, reloaded when they change; `None` for plaintext.
    pub tls: Option<crate::tls::TlsFiles>,
    /// What the server takes on before it refuses calls.
    pub limits: Limits,
    /// How the store connects and logs.
    pub store: StoreOptions,
    /// How long the change feed keeps changes, and how its streams run.
    pub changes: ChangeFeed,
}

/// A built server, ready to serve on a listener.
pub struct Server {
    store: Store,
    router: tonic::transport::server::Router<Layers>,
    health: HealthReporter,
    health_interval: Duration,
    callers: Arc<CallerRate>,
    changes: ChangeFeed,
    /// Turned true when shutdown begins, which ends the change feed's streams.
    stopping: tokio::sync::watch::Sender<bool>,
    /// TLS, when certificate and key files are configured.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

type HttpResponse = http::Response<tonic::body::Body>;

/// The layers around every service: CORS outermost (it answers a browser's preflight), then
/// gRPC-Web's translation to gRPC, then telemetry, so it records the final gRPC status.
type Layers = tower::layer::util::Stack<
    AdmissionLayer,
    tower::layer::util::Stack<
        tower::util::MapResponseLayer<fn(HttpResponse) -> HttpResponse>,
        tower::layer::util::Stack<
            RpcTelemetryLayer,
            tower::layer::util::Stack<
                tonic_web::GrpcWebLayer,
                tower::layer::util::Stack<
                    tower_http::cors::CorsLayer,
                    tower::layer::util::Identity,
                >,
            >,
        >,
    >,
>;

/// The names the health service reports on: the whole server ("") and each service.
const SERVICES: [&str; 15] = [
    "",
    proto::plan_service_server::SERVICE_NAME,
    proto::goal_service_server::SERVICE_NAME,
    proto::measure_service_server::SERVICE_NAME,
    proto::coordinator_service_server::SERVICE_NAME,
    proto::referral_service_server::SERVICE_NAME,
    proto::responsibility_group_service_server::SERVICE_NAME,
    proto::organisation_service_server::SERVICE_NAME,
    proto::complaint_service_server::SERVICE_NAME,
    proto::access_event_service_server::SERVICE_NAME,
    proto::block_service_server::SERVICE_NAME,
    proto::access_scope_service_server::SERVICE_NAME,
    proto::child_coordinator_service_server::SERVICE_NAME,
    proto::plan_change_service_server::SERVICE_NAME,
    proto::plan_transfer_service_server::SERVICE_NAME,
];

impl Server {
    /// Opens the store (applying migrations), loads the policy and keys, and builds the services.
    pub async fn build(config: ServerConfig) -> Result<Server, Error> {
        let store = Store::open_with(&config.database_url, config.store).await?;
        let authz = Arc::new(Authorizer::new(config.policy).await?);
        let verifier = Arc::new(match &config.keys {
            KeySource::DevKey(path) => {
                TokenVerifier::from_dev_key(&DevKey::load_or_create(path)?, config.verifier)
            }
            KeySource::Providers(providers) => {
                TokenVerifier::from_providers(providers, config.verifier)?
            }
        });
        let context = Context { store: store.clone(), guard: Guard::new(authz) };
        let callers = Arc::new(CallerRate::new(&config.limits));
        let slots = Arc::new(CallerSlots::new(&config.limits));
        let authenticate = Authenticate(verifier, callers.clone(), slots.clone());
        let limit = config.max_message_bytes;

        // Every service: requests up to the size limit (counted after decompression), and gzip
        // and zstd accepted on requests and offered on responses to clients that accept them.
        macro_rules! served {
            ($service:expr) => {
                $service
                    .max_decoding_message_size(limit)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Zstd)
            };
        }
        let plans = served!(PlanServiceServer::new(PlanApi(context.clone())));
        let goals = served!(GoalServiceServer::new(GoalApi(context.clone())));
        let measures = served!(MeasureServiceServer::new(MeasureApi(context.clone())));
        let coordinators = served!(CoordinatorServiceServer::new(CoordinatorApi(context.clone())));
        let referrals = served!(ReferralServiceServer::new(ReferralApi(context.clone())));
        let members =
            served!(ResponsibilityGroupServiceServer::new(ResponsibilityGroupApi(context.clone())));
        let organisations =
            served!(OrganisationServiceServer::new(OrganisationApi(context.clone())));
        let complaints = served!(ComplaintServiceServer::new(ComplaintApi(context.clone())));
        let access_events = served!(AccessEventServiceServer::new(AccessEventApi(context.clone())));
        let blocks = served!(BlockServiceServer::new(BlockApi(context.clone())));
        let scopes = served!(AccessScopeServiceServer::new(AccessScopeApi(context.clone())));
        let child_coordinators =
            served!(ChildCoordinatorServiceServer::new(ChildCoordinatorApi(context.clone())));
        let transfers = served!(PlanTransferServiceServer::new(PlanTransferApi(context.clone())));
        let (stopping, stopping_streams) = tokio::sync::watch::channel(false);
        let changes = PlanChangeApi::new(context, slots, config.changes.streams, stopping_streams);
        let changes = served!(PlanChangeServiceServer::new(changes));

        let (health, health_service) = tonic_health::server::health_reporter();
        // Reflection in both versions: grpcurl and buf curl speak v1; Postman, grpcui and
        // Evans still speak v1alpha.
        let reflecting = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let (reflection, reflection_v1alpha) = match config.reflection {
            true => (
                Some(reflecting().build_v1().map_err(Error::internal)?),
                Some(reflecting().build_v1alpha().map_err(Error::internal)?),
            ),
            false => (None, None),
        };

        let limits = &config.limits;
        let router = tonic::transport::Server::builder()
            .max_concurrent_streams(Some(limits.max_streams_per_connection))
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            // gRPC-Web comes over HTTP/1.1 from browsers too.
            .accept_http1(true)
            .layer(cors(&config.browser_origins)?)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(RpcTelemetryLayer::default())
            .layer(tower::util::MapResponseLayer::new(
                codec_refusals_as_the_api_promises as fn(HttpResponse) -> HttpResponse,
            ))
            .layer(AdmissionLayer::new(limits))
            .add_service(health_service)
            .add_optional_service(reflection)
            .add_optional_service(reflection_v1alpha)
            .add_service(InterceptedService::new(plans, authenticate.clone()))
            .add_service(InterceptedService::new(goals, authenticate.clone()))
            .add_service(InterceptedService::new(measures, authenticate.clone()))
            .add_service(InterceptedService::new(coordinators, authenticate.clone()))
            .add_service(InterceptedService::new(referrals, authenticate.clone()))
            .add_service(InterceptedService::new(members, authenticate.clone()))
            .add_service(InterceptedService::new(organisations, authenticate.clone()))
            .add_service(InterceptedService::new(complaints, authenticate.clone()))
            .add_service(InterceptedService::new(access_events, authenticate.clone()))
            .add_service(InterceptedService::new(blocks, authenticate.clone()))
            .add_service(InterceptedService::new(scopes, authenticate.clone()))
            .add_service(InterceptedService::new(child_coordinators, authenticate.clone()))
            .add_service(InterceptedService::new(transfers, authenticate.clone()))
            .add_service(InterceptedService::new(changes, authenticate));
        let health_interval = config.health_interval;
        // Files that do not load stop the start, naming the file.
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let changes = config.changes;
        Ok(Server { store, router, health, health_interval, callers, changes, stopping, tls })
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight calls finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let watcher =
            tokio::spawn(watch_database(self.store.clone(), self.health, self.health_interval));
        let pruner = tokio::spawn(prune_changes(self.store.clone(), self.changes));
        // Streams never end by themselves: shutdown ends them, then waits for the other calls.
        let stopping = self.stopping;
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        let callers = self.callers.clone();
        let forgetter = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                callers.forget_idle();
            }
        });
        let served = match self.tls {
            Some(acceptor) => {
                let incoming = crate::tls::incoming(listener, acceptor);
                self.router.serve_with_incoming_shutdown(incoming, shutdown).await
            }
            None => {
                // Without TCP_NODELAY, small responses wait on delayed ACKs: about 40 ms a call.
                let incoming = TcpIncoming::from(listener)
                    .with_nodelay(Some(true))
                    .with_keepalive(Some(Duration::from_secs(60)));
                self.router.serve_with_incoming_shutdown(incoming, shutdown).await
            }
        };
        watcher.abort();
        forgetter.abort();
        pruner.abort();
        // The calls have ended; the access log's last batch is made durable before the store
        // closes.
        self.store.close().await;
        served.map_err(Error::internal)
    }
}

/// CORS for browser clients of `origins`: a preflight from one of them is answered, and the
/// page may read the gRPC status trailers (`grpc-status`, `grpc-message`,
/// `grpc-status-details-bin`, which carries `google.rpc.BadRequest`). Other origins get no CORS
/// headers, so a browser keeps their pages from calling. An origin that is not
/// `http(s)://host[:port]` is refused.
fn cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, Error> {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
    let mut allowed = Vec::with_capacity(origins.len());
    for origin in origins {
        let uri: http::Uri = origin.parse().map_err(|_| bad_origin(origin))?;
        let scheme_fits = matches!(uri.scheme_str(), Some("https" | "http"));
        let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/") && !origin.ends_with('/');
        if !scheme_fits || uri.host().is_none() || !bare {
            return Err(bad_origin(origin));
        }
        allowed.push(http::HeaderValue::from_str(origin).map_err(|_| bad_origin(origin))?);
    }
    let header = HeaderName::from_static;
    Ok(tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::list(allowed))
        .allow_methods([http::Method::POST])
        .allow_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("traceparent"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(600)))
}

fn bad_origin(origin: &str) -> Error {
    Error::invalid("browser-origins", format!("{origin:?} is not an origin, https://host[:port]"))
}

/// Reports the services NOT_SERVING while the database does not answer, SERVING when it does.
async fn watch_database(store: Store, health: HealthReporter, interval: Duration) {
    let mut serving = None;
    loop {
        let up = tokio::time::timeout(Duration::from_secs(2), store.ping()).await.unwrap_or(false);
        if serving != Some(up) {
            let status = if up {
                ServingStatus::Serving
            } else {
                tracing::warn!("database unreachable: reporting NOT_SERVING");
                ServingStatus::NotServing
            };
            for service in SERVICES {
                health.set_service_status(service, status).await;
            }
            serving = Some(up);
        }
        tokio::time::sleep(interval).await;
    }
}

/// How the codec's and the transport's refusals of a request are answered instead, before any
/// handler runs: the gRPC status tonic gives (`None`: any), the start of its message, and the
/// status and message the API promises. Each is something the client sent or did, so none may
/// stay INTERNAL or UNKNOWN, and none names the server's types.
const REFUSALS: [(Option<&str>, &str, &str, &str); 6] = [
    // A message over the size limit: RESOURCE_EXHAUSTED, as gRPC itself uses for it.
    (
        Some("11"),
        "Error, decoded message length too large",
        "8",
        "the request message is too large",
    ),
    // Bytes that are not a valid message of the method (a cut-off varint, invalid UTF-8 in a
    // string, a wrong wire type).
    (
        Some("13"),
        "failed to decode Protobuf message",
        "3",
        "the request is not a valid protobuf message of this method",
    ),
    // A body that ends inside a message's frame.
    (Some("13"), "Unexpected EOF decoding stream", "3", "the request ends inside a message frame"),
    // A body that holds no message at all.
    (Some("13"), "Missing request message", "3", "the request holds no message"),
    // A frame whose compressed-flag is neither 0 nor 1. (A flag of 1 without a grpc-encoding
    // stays INTERNAL: the gRPC compression spec demands it.)
    (
        Some("13"),
        "protocol error: received message with invalid compression flag",
        "3",
        "the request frame's compressed-flag is neither 0 nor 1",
    ),
    // The request's stream broke off: the client reset it (whatever the reason code it gave)
    // or closed the connection.
    (None, "h2 protocol error", "1", crate::telemetry::CANCELLED_MESSAGE),
];

/// Rewrites the codec's and the transport's refusals of a request (`REFUSALS`) into the codes
/// the API promises. Our handlers never answer OUT_OF_RANGE or UNKNOWN, and their INTERNAL
/// says only "internal error", so only tonic's own refusals match.
fn codec_refusals_as_the_api_promises(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    let Some(status) = headers.get("grpc-status").and_then(|s| s.to_str().ok()) else {
        return response;
    };
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode_spaces)
        .unwrap_or_default();
    if let Some(&(_, _, code, text)) = REFUSALS.iter().find(|(from, start, _, _)| {
        from.is_none_or(|from| from == status) && message.starts_with(start)
    }) {
        headers.insert("grpc-status", http::HeaderValue::from_static(code));
        headers.insert("grpc-message", http::HeaderValue::from_static(text));
    }
    response
}

/// A grpc-message as tonic percent-encodes it, with its spaces (the only escape the starts in
/// `REFUSALS` hold) decoded.
fn percent_decode_spaces(message: &str) -> String {
    message.replace("%20", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: &str, message: &str) -> (String, String) {
        let mut response = HttpResponse::new(tonic::body::Body::empty());
        response.headers_mut().insert("grpc-status", status.parse().unwrap());
        response.headers_mut().insert("grpc-message", message.parse().unwrap());
        let response = codec_refusals_as_the_api_promises(response);
        let get = |name| response.headers()[name].to_str().unwrap().to_owned();
        (get("grpc-status"), get("grpc-message"))
    }

    #[test]
    fn a_broken_off_request_is_cancelled_not_unknown() {
        let (code, message) =
            refused("2", "h2%20protocol%20error:%20error%20reading%20a%20body%20from%20connection");
        assert_eq!(code, "1");
        assert!(message.contains("cancelled"), "{message}");
    }

    #[test]
    fn each_refusal_is_rewritten_and_nothing_else() {
        for (from, start, to, text) in REFUSALS {
            for from in from.map_or(vec!["2", "13", "14"], |from| vec![from]) {
                let rewritten = refused(from, &start.replace(' ', "%20"));
                assert_eq!(rewritten, (to.to_owned(), text.to_owned()));
            }
        }
        // The compressed-flag without an encoding stays INTERNAL, as the gRPC spec demands.
        let flag = "protocol%20error:%20received%20message%20with%20compressed-flag%20but%20no";
        assert_eq!(refused("13", flag).0, "13");
        // Our own answers pass unchanged.
        assert_eq!(refused("13", "internal%20error"), ("13".into(), "internal%20error".into()));
        assert_eq!(refused("5", "plan%20not%20found").0, "5");
    }
}
