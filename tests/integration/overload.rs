//! Overload is refused, not queued without end, and a call that runs too long changes nothing:
//! the limits of `samvirke::overload`, each tried against a call the test holds up by locking
//! what it must write.

use std::num::NonZeroU32;
use std::time::Duration;

use samvirke::domain::organisation::OrgRole;
use samvirke::overload::Limits;
use samvirke::proto;
use samvirke::store::Backend;
use sqlx::Executor;
use tonic::Code;
use tonic_types::StatusExt;

use super::common::*;

/// A server with `limits`, a plan in it, and its name.
async fn server_with(backend: Backend, limits: Limits) -> (TestServer, String) {
    let server = TestServer::start_with(backend, |config| config.limits = limits).await;
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    (server, plan)
}

/// Holds what a change of `plan` must write: SQLite's write lock, or the plan's row on
/// PostgreSQL. Released when the returned connection is dropped or rolled back.
async fn hold_writes(server: &TestServer, plan: &str) -> sqlx::pool::PoolConnection<sqlx::Any> {
    let mut conn = server.db_connection().await;
    match server.backend {
        Backend::Sqlite => {
            conn.execute("BEGIN IMMEDIATE").await.unwrap();
        }
        Backend::Postgres => {
            let id = plan.strip_prefix("plans/").unwrap();
            conn.execute("BEGIN").await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM plans WHERE id = '{id}' FOR UPDATE"
            )))
            .await
            .unwrap();
        }
    }
    conn
}

/// A change of what is important to the patient, by the patient.
async fn rename(
    server: &TestServer,
    plan: &str,
    etag: &str,
    text: &str,
) -> Result<(), tonic::Status> {
    server
        .plans(Some(&Who::Citizen(PATIENT)))
        .update_plan(important_to_me(plan, etag, text))
        .await
        .map(|_| ())
}

/// What is important to the patient, as the plan says now.
async fn important(server: &TestServer, plan: &str) -> String {
    server.get_plan(&staff(), plan).await.sections.unwrap_or_default().important_to_me
}

fn retry_delay(status: &tonic::Status) -> Duration {
    status
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .unwrap_or_else(|| panic!("{status:?} carries no RetryInfo"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_deadline_is_deadline_exceeded_and_changes_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let limits = Limits { deadline: Duration::from_secs(1), ..Limits::default() };
        let (server, plan) = server_with(backend, limits).await;
        let before = server.get_plan(&staff(), &plan).await;
        let mut held = hold_writes(&server, &plan).await;
        let started = std::time::Instant::now();
        let refused = rename(&server, &plan, &before.etag, "Kari Late").await.unwrap_err();
        assert_eq!(refused.code(), Code::DeadlineExceeded, "{backend:?}: {refused:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{backend:?}: the deadline held");
        held.execute("ROLLBACK").await.unwrap();
        drop(held);
        // The refused change was rolled back: the plan is as it was, and takes a change.
        let after = server.get_plan(&staff(), &plan).await;
        assert_eq!(after.etag, before.etag, "{backend:?}");
        assert_eq!(important(&server, &plan).await, "", "{backend:?}");
        rename(&server, &plan, &after.etag, "Kari Again").await.unwrap();
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_limit_in_flight_are_refused_unavailable_with_a_retry_delay() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let limits = Limits { max_concurrent_calls: 1, ..Limits::default() };
        let (server, plan) = server_with(backend, limits).await;
        let before = server.get_plan(&staff(), &plan).await;
        let mut held = hold_writes(&server, &plan).await;
        let slow = {
            let (server, plan, etag) = (server.clone(), plan.clone(), before.etag.clone());
            tokio::spawn(async move { rename(&server, &plan, &etag, "Kari Slow").await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let refused = server
            .plans(Some(&Who::Citizen(PATIENT)))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable, "{backend:?}: {refused:?}");
        assert!(retry_delay(&refused) > Duration::ZERO);
        held.execute("ROLLBACK").await.unwrap();
        drop(held);
        // The call in flight was not harmed by the refusal.
        slow.await.unwrap().unwrap();
        assert_eq!(important(&server, &plan).await, "Kari Slow");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_past_its_rate_is_refused_resource_exhausted_and_others_are_not() {
    let limits = Limits {
        caller_rate: NonZeroU32::new(1),
        caller_burst: NonZeroU32::new(3).unwrap(),
        ..Limits::default()
    };
    let (server, plan) = server_with(Backend::Sqlite, limits).await;
    let patient = Who::Citizen(PATIENT);
    let get = |who: &Who| {
        let mut client = server.plans(Some(who));
        let name = plan.clone();
        async move { client.get_plan(proto::GetPlanRequest { name, revision: 0 }).await }
    };
    for _ in 0..3 {
        get(&patient).await.unwrap();
    }
    let refused = get(&patient).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let wait = retry_delay(&refused);
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
    // Another caller has a bucket of their own; the first is let in again after the delay.
    get(&staff()).await.unwrap();
    tokio::time::sleep(wait).await;
    get(&patient).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_per_connection_are_announced_to_the_client() {
    // The limit is HTTP/2's own: the server announces it, and a client holds further calls on
    // that connection until one ends, so 8 calls through a limit of 2 all succeed.
    let limits = Limits { max_streams_per_connection: 2, ..Limits::default() };
    let (server, plan) = server_with(Backend::Sqlite, limits).await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut client = server.plans(Some(&Who::Citizen(PATIENT)));
        let name = plan.clone();
        calls.spawn(
            async move { client.get_plan(proto::GetPlanRequest { name, revision: 0 }).await },
        );
    }
    while let Some(call) = calls.join_next().await {
        call.unwrap().unwrap();
    }
    server.stop().await;
}

/// Calls held open by `who`: each sends its headers and the start of a body it never
/// finishes, as a hostile client would. They end when the returned connection is dropped.
async fn stalled_calls(
    server: &TestServer,
    who: &Who,
    calls: usize,
) -> (h2::client::SendRequest<bytes::Bytes>, Vec<h2::SendStream<bytes::Bytes>>) {
    let mut client = raw_h2(server).await;
    let mut held = Vec::new();
    for _ in 0..calls {
        let (_answer, mut body) = client.send_request(raw_get_plan(server, who), false).unwrap();
        // A message of 64 bytes announced, one sent.
        body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 64, 0x0a]), false).unwrap();
        held.push(body);
        client = client.ready().await.unwrap();
    }
    (client, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_cannot_hold_every_slot_of_the_server() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Room for 4 calls in all, 2 of them one caller's.
        let limits =
            Limits { max_concurrent_calls: 4, max_calls_per_caller: 2, ..Limits::default() };
        let (server, plan) = server_with(backend, limits).await;
        let patient = Who::Citizen(PATIENT);
        let stalled = stalled_calls(&server, &patient, 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let get = |who: Who| {
            let mut client = server.plans(Some(&who));
            let name = plan.clone();
            async move { client.get_plan(proto::GetPlanRequest { name, revision: 0 }).await }
        };
        let refused = get(patient.clone()).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{backend:?}: {refused:?}");
        assert!(retry_delay(&refused) > Duration::ZERO);
        // Others are served meanwhile: the caller holds 2 of the 4 places, not all.
        get(staff()).await.unwrap();
        let stranger = get(Who::Citizen(OTHER_PATIENT)).await.unwrap_err();
        assert_eq!(stranger.code(), Code::NotFound, "{backend:?}: {stranger:?}");
        drop(stalled);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The caller's places were given back with the calls.
        get(patient.clone()).await.unwrap();
        server.stop().await;
    }
}
