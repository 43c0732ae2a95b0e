//! Health checking follows the database; reflection lists the contract.

use std::net::SocketAddr;
use std::time::Duration;

use samvirke::domain::organisation::OrgRole;
use samvirke::store::Backend;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tonic::Code;
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
            "samvirke.v1.AccessScopeService",
            "samvirke.v1.ChildCoordinatorService",
            "grpc.health.v1.Health",
        ] {
            assert!(names.iter().any(|n| n == service), "{service} not in {names:?}");
        }
        // The older reflection, which Postman, grpcui and Evans speak, lists the same.
        use tonic_reflection::pb::v1alpha;
        let request = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let mut replies = v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel())
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.message().await.unwrap().unwrap();
        let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
            reply.message_response
        else {
            panic!("unexpected v1alpha reflection reply");
        };
        // Each version lists itself as the reflection service; the rest is the same.
        let contract = |names: Vec<String>| -> Vec<String> {
            names.into_iter().filter(|n| !n.starts_with("grpc.reflection.")).collect()
        };
        let alpha = list.service.into_iter().map(|s| s.name).collect();
        assert_eq!(contract(alpha), contract(names));
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
    drop_schema(&schema).await;
}

/// What one call of the load below was answered.
#[derive(Debug)]
enum Answer {
    Read(Code),
    Wrote(Result<String, Code>),
}

/// Reads and writes one plan until `until`, a reader and a writer at once; the writer changes
/// the display name to a new value each time, reading the etag afresh.
async fn load(server: &TestServer, plan: &str, until: std::time::Instant) -> Vec<Answer> {
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    let reader = {
        let (server, plan) = (server.clone(), plan.to_owned());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while std::time::Instant::now() < until {
                let got = server
                    .plans(Some(&Who::Citizen(PATIENT)))
                    .get_plan(samvirke::proto::GetPlanRequest { name: plan.clone(), revision: 0 })
                    .await;
                answers.push(Answer::Read(got.map_or_else(|s| s.code(), |_| Code::Ok)));
            }
            answers
        })
    };
    let mut answers = Vec::new();
    let mut n = 0;
    while std::time::Instant::now() < until {
        n += 1;
        let name = format!("Kari {n}");
        let read = server
            .plans(Some(&staff))
            .get_plan(samvirke::proto::GetPlanRequest { name: plan.to_owned(), revision: 0 })
            .await;
        let Ok(read) = read else {
            answers.push(Answer::Read(read.unwrap_err().code()));
            continue;
        };
        let etag = read.into_inner().plan.unwrap().etag;
        let wrote = server
            .plans(Some(&Who::Citizen(PATIENT)))
            .update_plan(important_to_me(plan, &etag, &name))
            .await;
        answers.push(Answer::Wrote(wrote.map(|_| name).map_err(|s| s.code())));
    }
    answers.extend(reader.await.unwrap());
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_off_mid_load_answers_unavailable_and_loses_no_acknowledged_write() {
    let (url, schema) = fresh_postgres_schema().await;
    let (start, end) = host_port(&url);
    let mut proxy = Proxy::start(url[start..end].to_owned(), "127.0.0.1:0".parse().unwrap()).await;
    // Named, so the test can end this server's sessions and no other test's.
    let name = format!("samvirke-{schema}");
    let proxied = format!("{}{}{}&application_name={name}", &url[..start], proxy.addr, &url[end..]);
    let server = TestServer::start_with(Backend::Postgres, |config| {
        config.database_url = samvirke::store::DatabaseUrl(proxied);
    })
    .await;
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;

    // Four faults, each while a reader and a writer are at work: the connection cut twice,
    // and twice the sessions ended by the database (SQLSTATE 57P01, as a restart does).
    let mut answers = Vec::new();
    for round in 0..4 {
        let until = std::time::Instant::now() + Duration::from_millis(1500);
        let working = {
            let (server, plan) = (server.clone(), plan.clone());
            tokio::spawn(async move { load(&server, &plan, until).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        if round % 2 == 0 {
            let (upstream, addr) = proxy.cut().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            proxy = Proxy::start(upstream, addr).await;
        } else {
            let mut admin =
                <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_url()).await.unwrap();
            let ended: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(&name)
            .fetch_all(&mut admin)
            .await
            .unwrap();
            assert!(!ended.is_empty(), "the server had no sessions to end");
        }
        answers.extend(working.await.unwrap());
    }

    // Every answer is one a client can act on: never INTERNAL or UNKNOWN.
    let odd: Vec<&Answer> = answers
        .iter()
        .filter(|a| {
            let code = match a {
                Answer::Read(code) | Answer::Wrote(Err(code)) => *code,
                Answer::Wrote(Ok(_)) => Code::Ok,
            };
            !matches!(code, Code::Ok | Code::Unavailable | Code::Aborted)
        })
        .collect();
    assert!(odd.is_empty(), "answers a client cannot act on: {odd:?}");
    assert!(
        answers.iter().any(|a| matches!(
            a,
            Answer::Read(Code::Unavailable) | Answer::Wrote(Err(Code::Unavailable))
        )),
        "the cuts were never noticed: {answers:?}"
    );
    // Every acknowledged write is in the plan's history, and the service recovered by itself.
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter_map(|a| if let Answer::Wrote(Ok(name)) = a { Some(name) } else { None })
        .collect();
    assert!(!acknowledged.is_empty());
    let mut last = Err(Code::Unknown);
    for _ in 0..50 {
        let patient = Who::Citizen(PATIENT);
        last = server
            .update_plan(&patient, &staff, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_default().important_to_me = "Kari Last".into();
            })
            .await
            .map(|p| p.revision)
            .map_err(|s| s.code());
        if last.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let revisions = last.expect("the service recovered");
    let mut written = std::collections::HashSet::new();
    for revision in 1..=revisions {
        let past = server
            .plans(Some(&staff))
            .get_plan(samvirke::proto::GetPlanRequest { name: plan.clone(), revision })
            .await
            .unwrap()
            .into_inner();
        written.insert(past.plan.unwrap().sections.unwrap_or_default().important_to_me);
    }
    let lost: Vec<&&String> = acknowledged.iter().filter(|n| !written.contains(**n)).collect();
    assert!(lost.is_empty(), "acknowledged writes missing from the history: {lost:?}");
    server.stop().await;
    drop(proxy);
    drop_schema(&schema).await;
}

/// Production may turn reflection off: the contract's methods still serve, reflection answers
/// UNIMPLEMENTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_can_be_turned_off() {
    for backend in [samvirke::store::Backend::Sqlite, samvirke::store::Backend::Postgres] {
        let server = TestServer::start_with(backend, |c| c.reflection = false).await;
        wait_for(&server, ServingStatus::Serving).await;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let refused = ServerReflectionClient::new(server.channel())
            .server_reflection_info(tokio_stream::once(request))
            .await;
        assert_eq!(refused.unwrap_err().code(), tonic::Code::Unimplemented, "{backend:?}");
        server.stop().await;
    }
}
