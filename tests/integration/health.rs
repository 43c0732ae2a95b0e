//! Health checking follows the database; reflection lists the contract.

use std::net::SocketAddr;
use std::time::Duration;

use samvirke::store::Backend;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use super::common::*;

async fn status(server: &TestServer, service: &str) -> ServingStatus {
    let response = HealthClient::new(server.channel())
        .check(HealthCheckRequest { service: service.into() })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(response.status).unwrap()
}

async fn wait_for(server: &TestServer, wanted: ServingStatus) {
    for _ in 0..100 {
        if status(server, "").await == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health never became {wanted:?}");
}

on_both_backends! {
    async fn serving_and_reflected(server: TestServer) {
        wait_for(&server, ServingStatus::Serving).await;
        assert_eq!(status(&server, "samvirke.v1.PlanService").await, ServingStatus::Serving);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new(server.channel())
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("unexpected reflection reply");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for service in [
            "samvirke.v1.PlanService",
            "samvirke.v1.ResponsibilityGroupService",
            "samvirke.v1.OrganisationService",
            "grpc.health.v1.Health",
        ] {
            assert!(names.iter().any(|n| n == service), "{service} not in {names:?}");
        }
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore, to make the database
/// unreachable without touching the shared server.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    tasks: JoinSet<()>,
}

impl Proxy {
    async fn start(upstream: String, addr: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        let target = upstream.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { addr, upstream, tasks }
    }

    /// Drops the listener and every proxied connection.
    async fn cut(mut self) -> (String, SocketAddr) {
        self.tasks.shutdown().await;
        (self.upstream, self.addr)
    }
}

/// The host:port of a postgres://user@host:port/db URL.
fn host_port(url: &str) -> (usize, usize) {
    let start = url.find('@').expect("a postgres url with a user") + 1;
    let end = start + url[start..].find('/').expect("a postgres url with a database");
    (start, end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_serving_while_the_database_is_unreachable() {
    let (url, schema) = fresh_postgres_schema().await;
    let (start, end) = host_port(&url);
    let proxy = Proxy::start(url[start..end].to_owned(), "127.0.0.1:0".parse().unwrap()).await;
    let proxied = format!("{}{}{}", &url[..start], proxy.addr, &url[end..]);
    let server = TestServer::start_with(Backend::Postgres, |config| {
        config.database_url = samvirke::store::DatabaseUrl(proxied);
    })
    .await;
    wait_for(&server, ServingStatus::Serving).await;

    let (upstream, addr) = proxy.cut().await;
    wait_for(&server, ServingStatus::NotServing).await;
    assert_eq!(status(&server, "samvirke.v1.PlanService").await, ServingStatus::NotServing);

    let _restored = Proxy::start(upstream, addr).await;
    wait_for(&server, ServingStatus::Serving).await;
    server.stop().await;
    let mut conn =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_url()).await.unwrap();
    sqlx::Executor::execute(
        &mut conn,
        sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")),
    )
    .await
    .unwrap();
}
