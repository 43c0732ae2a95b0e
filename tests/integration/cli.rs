//! The `samvirke` binary as a newcomer uses it: grant, serve, mint tokens, call, stop.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use samvirke::proto;
use samvirke::proto::plan_service_client::PlanServiceClient;
use tonic::transport::Channel;

use super::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_samvirke");

fn samvirke(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn with_token(
    channel: Channel,
    token: String,
) -> PlanServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, impl tonic::service::Interceptor>,
> {
    PlanServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        Ok(request)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_session_on_the_embedded_default() {
    let dir = std::env::temp_dir().join(format!("samvirke-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();

    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/sample.csv");
    let (ok, _, err) = samvirke(&dir, &["organisations", "import", sample.to_str().unwrap()]);
    assert!(ok && err.contains("imported"), "import failed: {err}");

    let (ok, _, err) = samvirke(
        &dir,
        &[
            "grant",
            "--org",
            MUNICIPALITY,
            "--subject",
            "personnel:unit-staff",
            "--role",
            "unit_staff",
        ],
    );
    assert!(ok, "grant failed: {err}");

    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_owned();
    let stderr = server.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    });

    let (ok, staff_token, _) =
        samvirke(&dir, &["token", "--sub", "unit-staff", "--org", MUNICIPALITY]);
    assert!(ok);
    assert_eq!(staff_token.lines().count(), 1, "the token alone on stdout");
    let (ok, patient_token, _) = samvirke(&dir, &["token", "--pid", PATIENT]);
    assert!(ok);
    let (ok, _, err) = samvirke(&dir, &["token", "--pid", "01818010084"]);
    assert!(!ok && err.contains("pid") && !err.contains("01818010084"), "{err}");
    let (ok, _, _) = samvirke(&dir, &["token", "--sub", "someone"]);
    assert!(!ok, "--sub without --org must fail");
    // The README's citizens: numbers of the synthetic population, each its own.
    let (ok, first, _) = samvirke(&dir, &["synthetic-id"]);
    let (_, second, _) = samvirke(&dir, &["synthetic-id", "1"]);
    let first = samvirke::domain::ids::NationalId::parse("n", first.trim()).unwrap();
    assert!(ok && first.is_synthetic() && first.expose() != second.trim());

    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let plan = with_token(channel.clone(), staff_token.trim().to_owned())
        .create_plan(new_plan_of(MUNICIPALITY, PATIENT))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let seen = with_token(channel, patient_token.trim().to_owned())
        .get_plan(proto::GetPlanRequest { name: plan.name.clone(), revision: 0 })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(seen.patient_id, PATIENT);

    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "the server did not stop cleanly: {status:?}");
    let logs = logs.join().unwrap();
    assert!(logs.contains("rpc finished"), "no per-RPC log line:\n{logs}");
    assert!(logs.contains("shutting down"));
    assert!(!logs.contains(PATIENT), "an identity number reached the logs:\n{logs}");
    assert!(!logs.contains("Kari Nordmann"), "a patient's name reached the logs");

    let (ok, help, _) = samvirke(&dir, &["serve", "--help"]);
    assert!(
        ok && help.contains("SAMVIRKE_DATABASE_URL") && help.contains("SAMVIRKE_HELSEID_JWKS_FILE")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn production_refuses_development_keys_on_postgres() {
    let dir = std::env::temp_dir();
    let output = Command::new(BIN)
        .args(["serve", "--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("jwks-file"), "{err}");
}

/// The binary, serving on SQLite in `dir` (registry imported, `unit-staff` granted), its
/// address, and its log so far as a thread that returns it once the server exits.
fn serve(dir: &Path) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/sample.csv");
    let (ok, _, err) = samvirke(dir, &["organisations", "import", sample.to_str().unwrap()]);
    assert!(ok, "import failed: {err}");
    let grant = ["grant", "--org", MUNICIPALITY, "--subject", "personnel:unit-staff"];
    let (ok, _, err) = samvirke(dir, &[&grant[..], &["--role", "unit_staff"]].concat());
    assert!(ok, "grant failed: {err}");
    serve_again(dir)
}

/// The binary, serving again on the database in `dir`, with no limit on a caller's rate.
fn serve_again(dir: &Path) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--caller-rate-per-second", "0"])
        .current_dir(dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("listening on ").unwrap().to_owned();
    let stderr = server.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    });
    (server, addr, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_calls_in_flight_finish() {
    let dir = std::env::temp_dir().join(format!("samvirke-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, addr, logs) = serve(&dir);
    let (_, token, _) = samvirke(&dir, &["token", "--sub", "unit-staff", "--org", MUNICIPALITY]);
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut staff = with_token(channel.clone(), token.trim().to_owned());
    let plan = staff
        .create_plan(new_plan_of(MUNICIPALITY, PATIENT))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();

    // A call held up in flight: its write waits for the database lock the test holds.
    let url = format!("sqlite://{}/samvirke-data/samvirke.db", dir.display());
    let mut lock = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::Executor::execute(&mut lock, "BEGIN IMMEDIATE").await.unwrap();
    let slow = {
        let (_, token, _) = samvirke(&dir, &["token", "--pid", PATIENT]);
        let mut patient = with_token(channel, token.trim().to_owned());
        let request = important_to_me(&plan.name, &plan.etag, "Kari Finished");
        tokio::spawn(async move { patient.update_plan(request).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(server.try_wait().unwrap().is_none(), "the server stopped with a call in flight");
    sqlx::Executor::execute(&mut lock, "ROLLBACK").await.unwrap();

    let finished = slow.await.unwrap().expect("the call in flight was answered").into_inner();
    assert_eq!(finished.plan.unwrap().sections.unwrap().important_to_me, "Kari Finished");
    let status = server.wait().unwrap();
    assert!(status.success(), "the server did not stop cleanly: {status:?}");
    assert!(logs.join().unwrap().contains("shutting down"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write_and_no_log_row_of_an_acknowledged_read() {
    let dir = std::env::temp_dir().join(format!("samvirke-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, addr, _) = serve(&dir);
    let (_, staff_token, _) =
        samvirke(&dir, &["token", "--sub", "unit-staff", "--org", MUNICIPALITY]);
    let (_, patient_token, _) = samvirke(&dir, &["token", "--pid", PATIENT]);
    let (staff_token, patient_token) =
        (staff_token.trim().to_owned(), patient_token.trim().to_owned());
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let plan = with_token(channel, staff_token)
        .create_plan(new_plan_of(MUNICIPALITY, PATIENT))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
        .name;
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut written, mut reads) = (Vec::new(), 0u64);
    for round in 0..20 {
        let (mut server, addr, _) = serve_again(&dir);
        let channel =
            Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        // A reader and a writer, both the patient, until the kill: each counts only what it
        // was answered.
        let reader = {
            let mut patient = with_token(channel.clone(), patient_token.clone());
            let name = plan.clone();
            tokio::spawn(async move {
                let mut read = 0u64;
                while patient
                    .get_plan(proto::GetPlanRequest { name: name.clone(), revision: 0 })
                    .await
                    .is_ok()
                {
                    read += 1;
                }
                read
            })
        };
        let writer = {
            let mut patient = with_token(channel, patient_token.clone());
            let name = plan.clone();
            tokio::spawn(async move {
                let (mut acknowledged, mut read) = (Vec::new(), 0u64);
                let Ok(current) = patient
                    .get_plan(proto::GetPlanRequest { name: name.clone(), revision: 0 })
                    .await
                else {
                    return (acknowledged, read);
                };
                read += 1;
                let mut etag = current.into_inner().plan.unwrap().etag;
                for i in 0.. {
                    let text = format!("round {round}, write {i}");
                    let request = important_to_me(&name, &etag, &text);
                    match patient.update_plan(request).await {
                        Ok(updated) => {
                            etag = updated.into_inner().plan.unwrap().etag;
                            acknowledged.push(text);
                        }
                        Err(_) => break,
                    }
                }
                (acknowledged, read)
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(200 + 37 * (round % 7))).await;
        server.kill().unwrap();
        server.wait().unwrap();
        let (acknowledged, writer_reads) = writer.await.unwrap();
        written.extend(acknowledged);
        reads += reader.await.unwrap() + writer_reads;
    }
    assert!(
        written.len() > 20 && reads > 20,
        "too little load: {} writes, {reads} reads",
        written.len()
    );

    // Every acknowledged read has its row in the access log.
    let url = format!("sqlite://{}/samvirke-data/samvirke.db", dir.display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let logged: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_log WHERE subject = $1 AND object = 'plan' \
         AND action = 'read' AND allowed = 1",
    )
    .bind(format!("citizen:{PATIENT}"))
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(logged as u64 >= reads, "{reads} acknowledged reads, {logged} logged");
    drop(db);

    // Every acknowledged write is in the plan's history.
    let (mut server, addr, _) = serve_again(&dir);
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut patient = with_token(channel, patient_token.clone());
    let name = plan.clone();
    let current = patient.get_plan(proto::GetPlanRequest { name: name.clone(), revision: 0 }).await;
    let revision = current.unwrap().into_inner().plan.unwrap().revision;
    let mut history = std::collections::HashSet::new();
    for revision in 1..=revision {
        let past = patient.get_plan(proto::GetPlanRequest { name: name.clone(), revision }).await;
        let past = past.unwrap().into_inner().plan.unwrap();
        history.insert(past.sections.unwrap_or_default().important_to_me);
    }
    let lost: Vec<&String> = written.iter().filter(|w| !history.contains(*w)).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost: {lost:?}", lost.len());
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that cannot start says why, for the operator to fix: the causes of a start-up
/// failure hold no health data.
#[test]
fn start_up_failures_name_their_cause() {
    let dir = std::env::temp_dir().join(format!("samvirke-start-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let cases: [(&str, Vec<&str>, &str); 6] = [
        (
            "a browser origin that is not one",
            vec!["serve", "--browser-origins", "https://app.example/path"],
            "browser-origins",
        ),
        (
            "a missing TLS certificate",
            vec![
                "serve",
                "--tls-cert-file",
                "no-such-cert.pem",
                "--tls-key-file",
                "no-such-key.pem",
            ],
            "no-such-cert.pem",
        ),
        ("a port in use", vec!["serve", "--listen", &address], "in use"),
        (
            "a missing policy folder",
            vec!["serve", "--policy-dir", "no-such-folder"],
            "no-such-folder",
        ),
        (
            "a missing JWKS file",
            vec![
                "serve",
                "--idporten-issuer",
                "https://idporten.example",
                "--idporten-jwks-file",
                "no-such-jwks.json",
            ],
            "no-such-jwks.json",
        ),
        (
            "a database that does not exist",
            vec![
                "serve",
                "--allow-dev-keys",
                "--database-url",
                "postgres://postgres@127.0.0.1:5432/no_such_database",
            ],
            "no_such_database",
        ),
    ];
    for (what, args, cause) in cases {
        let (ok, _, err) = samvirke(&dir, &args);
        assert!(!ok, "{what}: the server started");
        assert!(err.contains(cause), "{what}: the error does not say why: {err}");
    }
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}
