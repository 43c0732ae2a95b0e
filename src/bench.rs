//! `samvirke bench`: measures what the access model promises about lists. A provider's "plans I
//! serve on" should cost O(page), not O(all plans): the same ListPlans call is timed over a
//! small database (the baseline) and a large one, in the same run, on each backend, and the
//! ratio written to a file. A ratio near 1 keeps the promise; one near large/small breaks it.

use std::path::PathBuf;
use std::time::{Duration, Instant as MonoInstant};

use serde::Serialize;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::auth::token::DEFAULT_AUDIENCE;
use crate::auth::{DevIdentity, DevKey, Policy, VerifierConfig};
use crate::auth::{OrgPass, PlanPass};
use crate::domain::Error;
use crate::domain::ids::{NationalId, OrgNumber};
use crate::domain::member::{MemberRole, NewMember};
use crate::domain::organisation::OrgRole;
use crate::domain::plan::{NewConsent, NewPlan, PlanKind};
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::overload::Limits;
use crate::proto;
use crate::proto::plan_change_service_client::PlanChangeServiceClient;
use crate::proto::plan_service_client::PlanServiceClient;
use crate::proto::responsibility_group_service_client::ResponsibilityGroupServiceClient;
use crate::server::{KeySource, Server, ServerConfig};
use crate::store::{DatabaseUrl, Store, StoreOptions};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Plans in the baseline database.
    pub baseline_plans: usize,
    /// Plans in the large database.
    pub large_plans: usize,
    /// Calls timed per caller and size.
    pub repeats: usize,
    /// A PostgreSQL URL to measure on too, in a schema of its own.
    pub postgres_url: Option<String>,
    /// Where the figures go.
    pub out: PathBuf,
    /// How long each call is driven at each concurrency for the throughput figures.
    pub seconds: f64,
}

const MUNICIPALITY: &str = "910000004";
const NAV: &str = "930000000";
/// The benchmark's patients: numbers of the synthetic test population (`NationalId::synthetic`),
/// the measured one first.
fn patient(n: usize) -> Result<NationalId, Error> {
    let born = crate::domain::date::Date::new(1980, 1, 1).ok_or_else(|| Error::internal("date"))?;
    NationalId::synthetic(born, n).ok_or_else(|| Error::internal("no synthetic number"))
}

/// Plans the measured member serves on and the measured patient owns: always the newest.
const OWN_PLANS: usize = 10;

/// The list a caller times.
#[derive(Clone, Copy, Debug)]
enum Call {
    ListPlans,
    ListMyPlans,
}

/// One caller's figures on one backend.
#[derive(Serialize, Debug)]
pub struct Figure {
    /// The backend.
    pub backend: &'static str,
    /// Who listed.
    pub caller: &'static str,
    /// Median latency over the baseline database, in microseconds.
    pub baseline_median_us: u128,
    /// Median latency over the large database, in microseconds.
    pub large_median_us: u128,
    /// large / baseline.
    pub ratio: f64,
}

/// The whole report.
#[derive(Serialize, Debug)]
pub struct Report {
    /// Plans in the baseline database.
    pub baseline_plans: usize,
    /// Plans in the large database.
    pub large_plans: usize,
    /// Calls timed per figure.
    pub repeats: usize,
    /// The figures.
    pub figures: Vec<Figure>,
    /// Calls a second at 1 and 64 calls at a time, over the baseline database.
    pub throughput: Vec<Throughput>,
    /// The resident memory of the process (server and bench client), in MiB, once each
    /// database was measured.
    pub resident: Vec<Resident>,
}

/// One call's throughput at one concurrency, against the same server as Health/Check.
#[derive(Serialize, Debug)]
pub struct Throughput {
    /// The backend.
    pub backend: &'static str,
    /// The call and its caller.
    pub call: &'static str,
    /// Calls in flight at once (on one HTTP/2 connection).
    pub concurrency: usize,
    /// Calls completed while driven.
    pub calls: usize,
    /// Calls a second.
    pub per_second: f64,
    /// Median latency, in microseconds.
    pub p50_us: u128,
    /// 99th-percentile latency, in microseconds.
    pub p99_us: u128,
    /// `per_second` over Health/Check's at the same concurrency: the share of the stack's own
    /// limit the call reaches.
    pub of_health: f64,
}

/// The process's resident memory after one database was measured.
#[derive(Serialize, Debug)]
pub struct Resident {
    /// The backend.
    pub backend: &'static str,
    /// Plans in the database.
    pub plans: usize,
    /// VmRSS, in MiB.
    pub mib: f64,
}

/// Runs the benchmark and writes the report to `config.out`.
pub async fn run(config: BenchConfig) -> Result<Report, Error> {
    let mut figures = Vec::new();
    let mut throughput = Vec::new();
    let mut resident = Vec::new();
    let mut backends: Vec<&'static str> = vec!["sqlite"];
    if config.postgres_url.is_some() {
        backends.push("postgres");
    }
    for backend in backends {
        let mut medians = Vec::new();
        for plans in [config.baseline_plans, config.large_plans] {
            let driven = plans == config.baseline_plans;
            let (lists, rates) = measure(&config, backend, plans, driven).await?;
            medians.push(lists);
            throughput.extend(rates);
            resident.push(Resident { backend, plans, mib: resident_mib() });
        }
        for ((caller, small), (_, large)) in medians[0].iter().zip(&medians[1]) {
            figures.push(Figure {
                backend,
                caller,
                baseline_median_us: small.as_micros(),
                large_median_us: large.as_micros(),
                ratio: large.as_secs_f64() / small.as_secs_f64().max(1e-9),
            });
        }
    }
    let report = Report {
        baseline_plans: config.baseline_plans,
        large_plans: config.large_plans,
        repeats: config.repeats,
        figures,
        throughput,
        resident,
    };
    if let Some(dir) = config.out.parent() {
        std::fs::create_dir_all(dir).map_err(Error::internal)?;
    }
    let json = serde_json::to_string_pretty(&report).map_err(Error::internal)?;
    std::fs::write(&config.out, json).map_err(Error::internal)?;
    Ok(report)
}

/// Seeds a fresh database with `plans` plans and times ListPlans for each caller; with
/// `driven`, also drives each call at 1 and 64 calls at a time.
async fn measure(
    config: &BenchConfig,
    backend: &'static str,
    plans: usize,
    driven: bool,
) -> Result<(Vec<(&'static str, Duration)>, Vec<Throughput>), Error> {
    let dir = std::env::temp_dir().join(format!("samvirke-bench-{}", uuid::Uuid::now_v7()));
    let (url, schema) = match (backend, &config.postgres_url) {
        ("postgres", Some(base)) => {
            let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
            admin(base, &format!("CREATE SCHEMA {schema}")).await?;
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            (url, Some((base.clone(), schema)))
        }
        _ => (format!("sqlite://{}/bench.db", dir.display()), None),
    };
    let server_config = ServerConfig {
        database_url: DatabaseUrl(url),
        keys: KeySource::DevKey(dir.join("dev-signing-key")),
        verifier: VerifierConfig::new(DEFAULT_AUDIENCE, Duration::from_secs(5)),
        policy: Policy::embedded(),
        max_message_bytes: 1024 * 1024,
        health_interval: Duration::from_secs(5),
        reflection: true,
        browser_origins: Vec::new(),
        tls: None,
        // One caller drives 64 calls at a time, as fast as it is answered.
        limits: Limits { caller_rate: None, max_calls_per_caller: 64, ..Limits::default() },
        store: StoreOptions::default(),
        changes: Default::default(),
    };
    let server = Server::build(server_config.clone()).await?;
    let store = Store::open(&server_config.database_url).await?;
    seed(&store, plans).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(Error::internal)?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .map_err(Error::internal)?
        .connect()
        .await
        .map_err(Error::internal)?;
    let key = DevKey::load_or_create(&dir.join("dev-signing-key"))?;
    let member =
        || DevIdentity::Personnel { sub: "nav-adviser".into(), org: NAV.into(), person: None };
    let callers: [(&'static str, DevIdentity, Call); 4] = [
        ("member serving on 10 plans", member(), Call::ListPlans),
        ("member, ListMyPlans", member(), Call::ListMyPlans),
        (
            "patient owning 10 plans",
            DevIdentity::Citizen { pid: patient(0)?.expose().into() },
            Call::ListPlans,
        ),
        (
            "unit staff, first page of all",
            DevIdentity::Personnel {
                sub: "unit-staff".into(),
                org: MUNICIPALITY.into(),
                person: None,
            },
            Call::ListPlans,
        ),
    ];
    let mut medians = Vec::new();
    for (name, who, call) in callers {
        let token = bearer(&key, &who)?;
        let mut plans = PlanServiceClient::with_interceptor(channel.clone(), token.clone());
        let mut group = ResponsibilityGroupServiceClient::with_interceptor(channel.clone(), token);
        let mut times = Vec::with_capacity(config.repeats);
        for i in 0..config.repeats + 5 {
            let start = MonoInstant::now();
            let seen = match call {
                Call::ListPlans => plans
                    .list_plans(proto::ListPlansRequest {
                        statuses: Vec::new(),
                        review_overdue: false,
                        page_size: 50,
                        page_token: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().plans.len()),
                Call::ListMyPlans => group
                    .list_my_plans(proto::ListMyPlansRequest {
                        page_size: 50,
                        page_token: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().plans.len()),
            }
            .map_err(|s| Error::internal(format!("{name}: {s}")))?;
            // The first calls warm caches and connections.
            if i >= 5 {
                times.push(start.elapsed());
            }
            if seen == 0 {
                return Err(Error::internal("the benchmark caller saw no plans"));
            }
        }
        times.sort();
        medians.push((name, times[times.len() / 2]));
    }
    let rates = if driven { drive_all(config, backend, &channel, &key).await? } else { Vec::new() };
    let _ = stop.send(());
    let _ = serving.await;
    if let Some((base, schema)) = schema {
        admin(&base, &format!("DROP SCHEMA {schema} CASCADE")).await?;
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((medians, rates))
}

/// VmRSS of this process, in MiB (0 where /proc is not there).
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// The calls driven for throughput.
#[derive(Clone, Copy, Debug)]
enum Driven {
    Health,
    GetPlan,
    ListPlans,
    ListMyPlans,
    UpdatePlan,
    PollChanges,
    ChangesFromStart,
}

impl Driven {
    /// In this order: the change feed is read after UpdatePlan has filled it with changes of
    /// plans the member may not read.
    const ALL: [Driven; 7] = [
        Driven::Health,
        Driven::GetPlan,
        Driven::ListPlans,
        Driven::ListMyPlans,
        Driven::UpdatePlan,
        Driven::PollChanges,
        Driven::ChangesFromStart,
    ];

    fn label(self) -> &'static str {
        match self {
            Driven::Health => "Health/Check",
            Driven::GetPlan => "GetPlan as the patient",
            Driven::ListPlans => "ListPlans as a member (page of 50)",
            Driven::ListMyPlans => "ListMyPlans as a member",
            Driven::UpdatePlan => "UpdatePlan as the owner (own sections)",
            Driven::PollChanges => "ListPlanChanges as a member, polling from its cursor",
            Driven::ChangesFromStart => "ListPlanChanges as a member, from the start",
        }
    }
}

/// A client's bearer token, on every call.
#[derive(Clone)]
struct BearerToken(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut().insert("authorization", self.0.clone());
        Ok(r)
    }
}

type Authed = tonic::service::interceptor::InterceptedService<Channel, BearerToken>;

fn bearer(key: &DevKey, who: &DevIdentity) -> Result<BearerToken, Error> {
    let token = key.mint(who, DEFAULT_AUDIENCE, Duration::from_secs(3600), Default::default())?;
    Ok(BearerToken(format!("Bearer {token}").parse().map_err(Error::internal)?))
}

/// The clients the driven calls use, each with its caller's token.
#[derive(Clone)]
struct Clients {
    health: tonic_health::pb::health_client::HealthClient<Channel>,
    patient: PlanServiceClient<Authed>,
    member: PlanServiceClient<Authed>,
    group: ResponsibilityGroupServiceClient<Authed>,
    owner: PlanServiceClient<Authed>,
    changes: PlanChangeServiceClient<Authed>,
}

/// A driven call that failed stops the bench, saying why (an internal error would not).
fn status(s: tonic::Status) -> Error {
    Error::FailedPrecondition(format!("a driven call failed: {} {}", s.code(), s.message()))
}

fn first_page(size: i32, page_token: String) -> proto::ListPlansRequest {
    proto::ListPlansRequest {
        statuses: Vec::new(),
        review_overdue: false,
        page_size: size,
        page_token,
    }
}

impl Clients {
    /// Makes one call of `call`; `own` is the patient's plan, `(plan, etag)` the plan this
    /// worker writes, whose etag a write moves on.
    /// Makes one `call`; `etag` is the worker's state between calls: the plan's etag for
    /// UpdatePlan, the feed's cursor for PollChanges.
    async fn call(
        &mut self,
        call: Driven,
        own: &str,
        (plan, etag): (&str, &mut String),
    ) -> Result<(), Error> {
        match call {
            Driven::Health => {
                self.health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .map_err(status)?;
            }
            Driven::GetPlan => {
                let name = own.to_owned();
                self.patient
                    .get_plan(proto::GetPlanRequest { name, revision: 0 })
                    .await
                    .map_err(status)?;
            }
            Driven::ListPlans => {
                self.member.list_plans(first_page(50, String::new())).await.map_err(status)?;
            }
            Driven::ListMyPlans => {
                let request =
                    proto::ListMyPlansRequest { page_size: 50, page_token: String::new() };
                self.group.list_my_plans(request).await.map_err(status)?;
            }
            Driven::UpdatePlan => {
                if etag.is_empty() {
                    // The plan's etag as it stands when this worker starts writing it.
                    let name = plan.to_owned();
                    let read = self.owner.get_plan(proto::GetPlanRequest { name, revision: 0 });
                    let read = read.await.map_err(status)?.into_inner().plan;
                    *etag = read.map(|p| p.etag).unwrap_or_default();
                }
                let sections = proto::PatientSections {
                    important_to_me: format!("Benchmark {etag}"),
                    ..Default::default()
                };
                let input = proto::Plan {
                    name: plan.to_owned(),
                    etag: etag.clone(),
                    sections: Some(sections),
                    ..Default::default()
                };
                let paths = vec!["sections.important_to_me".into()];
                let mask = prost_types::FieldMask { paths };
                let request =
                    proto::UpdatePlanRequest { plan: Some(input), update_mask: Some(mask) };
                let updated = self.owner.update_plan(request).await.map_err(status)?.into_inner();
                *etag = updated.plan.map(|p| p.etag).unwrap_or_default();
            }
            // An agency system polling the feed, which holds the changes of the plans UpdatePlan
            // wrote and the member may not read: from the cursor it keeps, and, as every poll
            // cost before the cursor moved past changes the caller may not read, from the start.
            Driven::PollChanges | Driven::ChangesFromStart => {
                let cursor = match call {
                    Driven::PollChanges => etag.clone(),
                    _ => String::new(),
                };
                let request =
                    proto::ListPlanChangesRequest { cursor, plan: String::new(), page_size: 100 };
                let page = self.changes.list_plan_changes(request).await.map_err(status)?;
                if matches!(call, Driven::PollChanges) {
                    *etag = page.into_inner().next_cursor;
                }
            }
        }
        Ok(())
    }
}

/// Drives every call at 1 and at 64 calls at a time, Health/Check first at each.
async fn drive_all(
    config: &BenchConfig,
    backend: &'static str,
    channel: &Channel,
    key: &DevKey,
) -> Result<Vec<Throughput>, Error> {
    let patient_who = DevIdentity::Citizen { pid: patient(0)?.expose().into() };
    let member_who =
        DevIdentity::Personnel { sub: "nav-adviser".into(), org: NAV.into(), person: None };
    // The owner of every plan but the measured patient's: the writers' plans are theirs.
    let owner_who = DevIdentity::Citizen { pid: patient(1)?.expose().into() };
    let authed = |who| {
        Ok::<_, Error>(tonic::service::interceptor::InterceptedService::new(
            channel.clone(),
            bearer(key, who)?,
        ))
    };
    let clients = Clients {
        health: tonic_health::pb::health_client::HealthClient::new(channel.clone()),
        patient: PlanServiceClient::new(authed(&patient_who)?),
        member: PlanServiceClient::new(authed(&member_who)?),
        group: ResponsibilityGroupServiceClient::new(authed(&member_who)?),
        owner: PlanServiceClient::new(authed(&owner_who)?),
        changes: PlanChangeServiceClient::new(authed(&member_who)?),
    };

    // The patient's newest plan, and one plan for each of 64 writers, so no two write the same.
    let own =
        clients.patient.clone().list_plans(first_page(1, String::new())).await.map_err(status)?;
    let own = own.into_inner().plans.first().map(|p| p.name.clone());
    let own = own.ok_or_else(|| Error::internal("the patient has no plan"))?;
    let mut writable = Vec::new();
    let mut token = String::new();
    while writable.len() < 64 {
        let page = clients.owner.clone().list_plans(first_page(50, token)).await.map_err(status)?;
        let page = page.into_inner();
        writable.extend(page.plans.into_iter().map(|p| p.name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    if writable.len() < 64 {
        return Err(Error::internal("the throughput figures need at least 64 plans"));
    }

    let driven_for = Duration::from_secs_f64(config.seconds.max(0.1));
    let mut figures = Vec::new();
    for concurrency in [1usize, 64] {
        let mut health_rate = 0.0;
        for call in Driven::ALL {
            let deadline = MonoInstant::now() + driven_for;
            let mut workers = tokio::task::JoinSet::new();
            for plan in writable.iter().take(concurrency) {
                let (mut clients, own, plan) = (clients.clone(), own.clone(), plan.clone());
                workers.spawn(async move {
                    let (mut etag, mut times) = (String::new(), Vec::new());
                    while MonoInstant::now() < deadline {
                        let start = MonoInstant::now();
                        clients.call(call, &own, (&plan, &mut etag)).await?;
                        times.push(start.elapsed());
                    }
                    Ok::<_, Error>(times)
                });
            }
            let mut times = Vec::new();
            while let Some(worker) = workers.join_next().await {
                times.extend(worker.map_err(Error::internal)??);
            }
            times.sort();
            let per_second = times.len() as f64 / driven_for.as_secs_f64();
            if matches!(call, Driven::Health) {
                health_rate = per_second;
            }
            let at = |q: f64| {
                let i = ((times.len().saturating_sub(1)) as f64 * q) as usize;
                times.get(i).copied().unwrap_or_default().as_micros()
            };
            figures.push(Throughput {
                backend,
                call: call.label(),
                concurrency,
                calls: times.len(),
                per_second,
                p50_us: at(0.5),
                p99_us: at(0.99),
                of_health: per_second / f64::max(health_rate, 1e-9),
            });
        }
    }
    Ok(figures)
}
/// `plans` plans in the municipality, the newest `OWN_PLANS` of them the measured patient's,
/// with the measured member serving on them.
async fn seed(store: &Store, plans: usize) -> Result<(), Error> {
    let org = OrgNumber::parse("org", MUNICIPALITY).map_err(Error::from)?;
    let staff = Subject::parse("subject", "personnel:unit-staff").map_err(Error::from)?;
    let now = Instant::now();
    store
        .write_with(async |session| {
            session.insert_grant(&org, &staff, OrgRole::UnitStaff, &staff, now).await?;
            let org_pass = OrgPass::operator(org.clone());
            for i in 0..plans {
                let own = i >= plans.saturating_sub(OWN_PLANS);
                let new = NewPlan {
                    organisation: org.clone(),
                    patient: patient(if own { 0 } else { 1 })?,
                    patient_display_name: "Benchmark".into(),
                    kind: PlanKind::General,
                };
                let plan = session.insert_plan(&org_pass, &new, &staff, now).await?;
                let plan = PlanPass::operator(plan);
                if own {
                    let member = NewMember::serving(
                        Subject::parse("subject", "personnel:nav-adviser").map_err(Error::from)?,
                        "NAV",
                        MemberRole::Nav,
                        OrgNumber::parse("org", NAV).map_err(Error::from)?,
                    );
                    session.insert_member(&plan, &member, &staff, now).await?;
                    // NAV sees the plan only while the patient's consent covers it.
                    let consent = NewConsent {
                        recipients: vec![OrgNumber::parse("org", NAV).map_err(Error::from)?],
                        on_behalf: None,
                    };
                    session.record_consent(&plan, &consent, "owner", &staff, now).await?;
                }
            }
            Ok(())
        })
        .await
}

/// Creates or drops the benchmark's own schema, on a connection of its own (no migrations run
/// on the base database).
async fn admin(base: &str, statement: &str) -> Result<(), Error> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(base).await.map_err(Error::internal)?;
    conn.execute(sqlx::AssertSqlSafe(statement.to_owned())).await.map_err(Error::internal)?;
    conn.close().await.map_err(Error::internal)
}
