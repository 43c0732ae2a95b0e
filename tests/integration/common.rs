//! The one helper that starts a test server, and the fixtures the tests share.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use samvirke::auth::token::DEFAULT_AUDIENCE;
use samvirke::auth::{DevIdentity, DevKey, Policy, VerifierConfig};
use samvirke::domain::ids::OrgNumber;
use samvirke::domain::organisation::OrgRole;
use samvirke::domain::subject::Subject;
use samvirke::domain::time::Instant;
use samvirke::overload::Limits;
use samvirke::proto;
use samvirke::proto::access_event_service_client::AccessEventServiceClient;
use samvirke::proto::access_scope_service_client::AccessScopeServiceClient;
use samvirke::proto::block_service_client::BlockServiceClient;
use samvirke::proto::child_coordinator_service_client::ChildCoordinatorServiceClient;
use samvirke::proto::complaint_service_client::ComplaintServiceClient;
use samvirke::proto::coordinator_service_client::CoordinatorServiceClient;
use samvirke::proto::goal_service_client::GoalServiceClient;
use samvirke::proto::measure_service_client::MeasureServiceClient;
use samvirke::proto::organisation_service_client::OrganisationServiceClient;
use samvirke::proto::plan_change_service_client::PlanChangeServiceClient;
use samvirke::proto::plan_service_client::PlanServiceClient;
use samvirke::proto::plan_transfer_service_client::PlanTransferServiceClient;
use samvirke::proto::referral_service_client::ReferralServiceClient;
use samvirke::proto::responsibility_group_service_client::ResponsibilityGroupServiceClient;
use samvirke::server::{KeySource, Server, ServerConfig};
use samvirke::store::{Backend, DatabaseUrl, Store, StoreOptions};
use tokio::sync::oneshot;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// The coordinating unit's municipality.
pub const MUNICIPALITY: &str = "910000004";
/// Another municipality.
pub const OTHER_MUNICIPALITY: &str = "920000002";
/// A NAV office.
pub const NAV: &str = "930000000";
/// A school.
pub const SCHOOL: &str = "940000009";
/// A health trust.
pub const HOSPITAL: &str = "950000007";
/// The county governor (Statsforvalteren), configured as the complaint authority.
pub const COUNTY_GOVERNOR: &str = "960000005";
/// Another health trust: not a county governor, so no complaint authority.
pub const NOT_AN_AUTHORITY: &str = "974760673";

/// Synthetic national identity numbers (month + 80), as the test population uses.
pub const PATIENT: &str = "01818010083";
pub const OTHER_PATIENT: &str = "02828020075";
pub const NEXT_OF_KIN: &str = "15858530080";
pub const STRANGER: &str = "20898540260";
pub const YET_ANOTHER_PATIENT: &str = "05838560018";

/// Runs a test body against SQLite and against PostgreSQL, as two tests.
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($server:ident: TestServer) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($server: $crate::common::TestServer) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::common::TestServer::start(samvirke::store::Backend::Sqlite).await;
                run(server.clone()).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server = $crate::common::TestServer::start(samvirke::store::Backend::Postgres).await;
                run(server.clone()).await;
                server.stop().await;
            }
        }
    };
}
pub(crate) use on_both_backends;

/// A server running in this process on 127.0.0.1:0 against its own fresh database.
#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub store: Store,
    db: sqlx::AnyPool,
    key: Arc<DevKey>,
    channel: Channel,
    config: ServerConfig,
    inner: Arc<tokio::sync::Mutex<Option<Running>>>,
}

struct Running {
    shutdown: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
    cleanup: Option<Cleanup>,
}

/// What the first node of a database removes when it stops.
struct Cleanup {
    dir: PathBuf,
    schema: Option<(String, String)>,
}

/// The PostgreSQL the tests use: `SAMVIRKE_TEST_DATABASE_URL`. Unset is an error, never a
/// silent skip.
pub fn postgres_url() -> String {
    std::env::var("SAMVIRKE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "SAMVIRKE_TEST_DATABASE_URL is not set: the PostgreSQL half of the tests needs it, \
             e.g. postgres://postgres@127.0.0.1:5432/test"
        )
    })
}

/// A fresh schema in the test PostgreSQL; returns the URL that uses it and the schema's name.
pub async fn fresh_postgres_schema() -> (String, String) {
    let base = postgres_url();
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at SAMVIRKE_TEST_DATABASE_URL is unreachable: {e}"));
    sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("creating a test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    (url, schema)
}

/// Imports the synthetic sample registry the README's first session uses, as
/// `samvirke organisations import registry/sample.csv` does.
async fn import_sample_registry(store: &Store) {
    let sample = include_str!("../../registry/sample.csv");
    let organisations = samvirke::registry::parse_csv(sample.as_bytes()).unwrap();
    store
        .write_with(async |session| {
            session.upsert_organisations(&organisations, Instant::now()).await
        })
        .await
        .unwrap();
}

/// Logs the servers' tracing events to stderr when `SAMVIRKE_TEST_LOG` holds a filter (for
/// example `samvirke::statements=debug`, which `scripts/statements` reads): for looking into a
/// run, never for what a test asserts.
fn log_when_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if let Ok(filter) = std::env::var("SAMVIRKE_TEST_LOG") {
        ONCE.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .try_init();
        });
    }
}

impl TestServer {
    /// Starts a server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server, letting the test adjust its configuration first.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        log_when_asked();
        let dir = std::env::temp_dir().join(format!("samvirke-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let (database_url, schema) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/samvirke.db", dir.display()), None),
            Backend::Postgres => {
                let (url, schema) = fresh_postgres_schema().await;
                (url, Some((postgres_url(), schema)))
            }
        };
        let mut config = ServerConfig {
            database_url: DatabaseUrl(database_url),
            keys: KeySource::DevKey(dir.join("dev-signing-key")),
            verifier: VerifierConfig::new(DEFAULT_AUDIENCE, Duration::from_secs(5)),
            policy: Policy::embedded(),
            // The production default, so hostile requests meet the limits they would there.
            max_message_bytes: 1024 * 1024,
            health_interval: Duration::from_millis(200),
            reflection: true,
            browser_origins: vec!["https://koordinator.example".into()],
            tls: None,
            // The production defaults, but for the rate per caller: a test calls as fast as it
            // is answered, and the tests of the limit set it themselves.
            limits: Limits { caller_rate: None, ..Limits::default() },
            store: StoreOptions::default(),
            changes: Default::default(),
        };
        adjust(&mut config);
        Self::launch(backend, config, Some(Cleanup { dir, schema })).await
    }

    /// Another server node on the same database and keys, as behind a load balancer.
    pub async fn second_node(&self) -> TestServer {
        Self::launch(self.backend, self.config.clone(), None).await
    }

    /// Another server node on the same database and keys, configured as `adjust` says.
    pub async fn node_with(&self, adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut config = self.config.clone();
        adjust(&mut config);
        Self::launch(self.backend, config, None).await
    }

    async fn launch(
        backend: Backend,
        config: ServerConfig,
        cleanup: Option<Cleanup>,
    ) -> TestServer {
        let server = Server::build(config.clone()).await.expect("building the server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .expect("serving");
        });
        // Lazily: a server speaking TLS is called through a channel of the test's own.
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
        let store = Store::open(&config.database_url).await.unwrap();
        if cleanup.is_some() {
            import_sample_registry(&store).await;
        }
        let db = sqlx::AnyPool::connect(&config.database_url.0).await.unwrap();
        let KeySource::DevKey(key_path) = &config.keys else {
            panic!("test servers use the development key");
        };
        TestServer {
            addr,
            backend,
            store,
            db,
            key: Arc::new(DevKey::load_or_create(key_path).unwrap()),
            channel,
            config: config.clone(),
            inner: Arc::new(tokio::sync::Mutex::new(Some(Running {
                shutdown: tx,
                handle,
                cleanup,
            }))),
        }
    }

    /// Stops the server, waits for it, and removes its database.
    pub async fn stop(&self) {
        let Some(running) = self.inner.lock().await.take() else {
            return;
        };
        let _ = running.shutdown.send(());
        running.handle.await.expect("the server task");
        self.store.close().await;
        self.db.close().await;
        let Some(cleanup) = running.cleanup else {
            return;
        };
        let _ = std::fs::remove_dir_all(&cleanup.dir);
        if let Some((base, schema)) = cleanup.schema {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
            sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")),
            )
            .await
            .unwrap();
        }
    }

    /// A valid token for `who`.
    pub fn token(&self, who: &Who) -> String {
        self.key
            .mint(&who.identity(), DEFAULT_AUDIENCE, Duration::from_secs(600), Default::default())
            .unwrap()
    }

    /// A token for `who` with claims overridden (expired, wrong audience, ...).
    pub fn token_with(&self, who: &Who, extra: serde_json::Value) -> String {
        self.key
            .mint(
                &who.identity(),
                DEFAULT_AUDIENCE,
                Duration::from_secs(600),
                extra.as_object().cloned().unwrap_or_default(),
            )
            .unwrap()
    }

    fn bearer(&self, who: Option<&Who>) -> Bearer {
        Bearer(who.map(|w| format!("Bearer {}", self.token(w))))
    }

    /// A plan client calling as `who` (no token when `None`).
    pub fn plans(
        &self,
        who: Option<&Who>,
    ) -> PlanServiceClient<InterceptedService<Channel, Bearer>> {
        PlanServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A plan client sending a raw authorization header.
    pub fn plans_raw(
        &self,
        authorization: &str,
    ) -> PlanServiceClient<InterceptedService<Channel, Bearer>> {
        PlanServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer(Some(authorization.into())),
        )
    }

    /// A goal client calling as `who`.
    pub fn goals(
        &self,
        who: Option<&Who>,
    ) -> GoalServiceClient<InterceptedService<Channel, Bearer>> {
        GoalServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A measure client calling as `who`.
    pub fn measures(
        &self,
        who: Option<&Who>,
    ) -> MeasureServiceClient<InterceptedService<Channel, Bearer>> {
        MeasureServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// The plan as `who` reads it now.
    pub async fn get_plan(&self, who: &Who, plan: &str) -> proto::Plan {
        self.plans(Some(who))
            .get_plan(proto::GetPlanRequest { name: plan.into(), revision: 0 })
            .await
            .expect("reading the plan")
            .into_inner()
            .plan
            .unwrap()
    }

    /// Records consent as `by` to share `plan` with `recipients`; the patient's own consent
    /// when `by` is the patient, otherwise given on their behalf by their mother.
    pub async fn give_consent(&self, by: &Who, plan: &str, recipients: &[&str]) -> proto::Plan {
        let etag = self.get_plan(by, plan).await.etag;
        let on_behalf = match by {
            Who::Citizen(pid) if *pid == PATIENT || *pid == OTHER_PATIENT => None,
            _ => Some(proto::ConsentOnBehalf {
                given_by: "Eva Nordmann, mother".into(),
                reason: "The patient was too ill to answer".into(),
            }),
        };
        self.plans(Some(by))
            .record_consent(proto::RecordConsentRequest {
                name: plan.into(),
                etag,
                consent: Some(proto::Consent {
                    recipients: recipients.iter().map(|r| r.to_string()).collect(),
                    on_behalf,
                    ..Default::default()
                }),
            })
            .await
            .expect("recording consent")
            .into_inner()
            .plan
            .unwrap()
    }

    /// Withdraws the consent in force on `plan` as `by`, with the etag they read now.
    pub async fn withdraw_consent(&self, by: &Who, plan: &str) -> proto::Plan {
        let etag = self.get_plan(by, plan).await.etag;
        self.plans(Some(by))
            .withdraw_consent(proto::WithdrawConsentRequest {
                name: plan.into(),
                etag,
                reason: "Nei".into(),
            })
            .await
            .expect("withdrawing consent")
            .into_inner()
            .plan
            .unwrap()
    }

    /// A complaint client calling as `who`.
    pub fn complaints(
        &self,
        who: Option<&Who>,
    ) -> ComplaintServiceClient<InterceptedService<Channel, Bearer>> {
        ComplaintServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A plan transfer client calling as `who`.
    pub fn plan_transfers(
        &self,
        who: Option<&Who>,
    ) -> PlanTransferServiceClient<InterceptedService<Channel, Bearer>> {
        PlanTransferServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A change feed client calling as `who`.
    pub fn plan_changes(
        &self,
        who: Option<&Who>,
    ) -> PlanChangeServiceClient<InterceptedService<Channel, Bearer>> {
        PlanChangeServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A responsibility group client calling as `who`.
    pub fn members(
        &self,
        who: Option<&Who>,
    ) -> ResponsibilityGroupServiceClient<InterceptedService<Channel, Bearer>> {
        ResponsibilityGroupServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A coordinator client calling as `who`.
    pub fn coordinators(
        &self,
        who: Option<&Who>,
    ) -> CoordinatorServiceClient<InterceptedService<Channel, Bearer>> {
        CoordinatorServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A referral client calling as `who`.
    pub fn referrals(
        &self,
        who: Option<&Who>,
    ) -> ReferralServiceClient<InterceptedService<Channel, Bearer>> {
        ReferralServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// An access event client calling as `who`.
    pub fn access_events(
        &self,
        who: Option<&Who>,
    ) -> AccessEventServiceClient<InterceptedService<Channel, Bearer>> {
        AccessEventServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A block client calling as `who`.
    pub fn blocks(
        &self,
        who: Option<&Who>,
    ) -> BlockServiceClient<InterceptedService<Channel, Bearer>> {
        BlockServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// A child coordinator client calling as `who`.
    pub fn child_coordinators(
        &self,
        who: Option<&Who>,
    ) -> ChildCoordinatorServiceClient<InterceptedService<Channel, Bearer>> {
        ChildCoordinatorServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// An access scope client calling as `who`.
    pub fn access_scopes(
        &self,
        who: Option<&Who>,
    ) -> AccessScopeServiceClient<InterceptedService<Channel, Bearer>> {
        AccessScopeServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// Scopes `target` (a member's name, or an organisation's number) on `plan` to `parts` as
    /// `by`, lapsing `expire_in` from now when given.
    pub async fn scope(
        &self,
        by: &Who,
        plan: &str,
        target: proto::access_scope::Target,
        parts: &[proto::PlanPart],
        expire_in: Option<Duration>,
    ) -> Result<proto::AccessScope, Status> {
        let expire_time = expire_in.map(|d| {
            let at = std::time::SystemTime::now() + d;
            let since = at.duration_since(std::time::UNIX_EPOCH).unwrap();
            prost_types::Timestamp {
                seconds: since.as_secs() as i64,
                nanos: since.subsec_nanos() as i32,
            }
        });
        self.access_scopes(Some(by))
            .create_access_scope(proto::CreateAccessScopeRequest {
                parent: plan.into(),
                access_scope: Some(proto::AccessScope {
                    target: Some(target),
                    parts: parts.iter().map(|p| *p as i32).collect(),
                    expire_time,
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().access_scope.unwrap())
    }

    /// Schedules a meeting of `plan`'s group as `coordinator`, at Helsehuset at `seconds`
    /// since the epoch; its name.
    pub async fn schedule_meeting(&self, coordinator: &Who, plan: &str, seconds: i64) -> String {
        self.members(Some(coordinator))
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.into(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                    location: "Helsehuset".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("scheduling a meeting")
            .into_inner()
            .meeting
            .unwrap()
            .name
    }

    /// Every line of what changed in `plan`'s history as `who` reads it, oldest first.
    pub async fn history_lines(&self, who: &Who, plan: &str) -> Vec<String> {
        self.plans(Some(who))
            .list_plan_revisions(proto::ListPlanRevisionsRequest {
                parent: plan.into(),
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("reading the history")
            .into_inner()
            .revisions
            .into_iter()
            .flat_map(|r| r.changes)
            .collect()
    }

    /// The group of `plan` now, as `who` lists it.
    pub async fn group(&self, who: &Who, plan: &str) -> Vec<proto::Member> {
        self.members(Some(who))
            .list_members(proto::ListMembersRequest { parent: plan.into(), ..Default::default() })
            .await
            .expect("listing the group")
            .into_inner()
            .members
    }

    /// An organisation client calling as `who`.
    pub fn organisations(
        &self,
        who: Option<&Who>,
    ) -> OrganisationServiceClient<InterceptedService<Channel, Bearer>> {
        OrganisationServiceClient::with_interceptor(self.channel.clone(), self.bearer(who))
    }

    /// The channel, for clients of other services (health).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Grants a role directly in the database, as `samvirke grant` does to bootstrap.
    pub async fn bootstrap_grant(&self, org: &str, subject: &str, role: OrgRole) -> String {
        let grant = self
            .store
            .write_with(async |session| {
                session
                    .insert_grant(
                        &OrgNumber::parse("org", org).unwrap(),
                        &Subject::parse("subject", subject).unwrap(),
                        role,
                        &Subject::parse("by", "system:test-bootstrap").unwrap(),
                        Instant::now(),
                    )
                    .await
            })
            .await
            .unwrap();
        format!("organisations/{org}/roleGrants/{}", grant.id)
    }

    /// How many access-log rows about `plan` say `allowed`, read straight from the database.
    pub async fn access_log_count(&self, plan: &str, allowed: bool) -> i64 {
        sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM access_log WHERE plan_id = $1 AND allowed = $2",
        )
        .bind(plan.trim_start_matches("plans/").to_owned())
        .bind(i64::from(allowed))
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// How many rows `table` holds, read straight from the database: to prove a refused
    /// request wrote nothing.
    pub async fn row_count(&self, table: &'static str) -> i64 {
        let sql = match table {
            "plans" => "SELECT CAST(COUNT(*) AS BIGINT) FROM plans",
            "members" => "SELECT CAST(COUNT(*) AS BIGINT) FROM members",
            "role_grants" => "SELECT CAST(COUNT(*) AS BIGINT) FROM role_grants",
            "complaints" => "SELECT CAST(COUNT(*) AS BIGINT) FROM complaints",
            "complaint_events" => "SELECT CAST(COUNT(*) AS BIGINT) FROM complaint_events",
            "goals" => "SELECT CAST(COUNT(*) AS BIGINT) FROM goals",
            "goal_adjustments" => "SELECT CAST(COUNT(*) AS BIGINT) FROM goal_adjustments",
            "measures" => "SELECT CAST(COUNT(*) AS BIGINT) FROM measures",
            "measure_evaluations" => "SELECT CAST(COUNT(*) AS BIGINT) FROM measure_evaluations",
            "consents" => "SELECT CAST(COUNT(*) AS BIGINT) FROM consents",
            "plan_revisions" => "SELECT CAST(COUNT(*) AS BIGINT) FROM plan_revisions",
            "coordinator_assignments" => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM coordinator_assignments"
            }
            "meetings" => "SELECT CAST(COUNT(*) AS BIGINT) FROM meetings",
            "access_log" => "SELECT CAST(COUNT(*) AS BIGINT) FROM access_log",
            "blocks" => "SELECT CAST(COUNT(*) AS BIGINT) FROM blocks",
            "access_scopes" => "SELECT CAST(COUNT(*) AS BIGINT) FROM access_scopes",
            "child_coordinator_applications" => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM child_coordinator_applications"
            }
            "referrals" => "SELECT CAST(COUNT(*) AS BIGINT) FROM referrals",
            other => panic!("no count for {other}"),
        };
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }

    /// A connection of its own to the server's database, for holding locks.
    pub async fn db_connection(&self) -> sqlx::pool::PoolConnection<sqlx::Any> {
        self.db.acquire().await.unwrap()
    }

    /// Creates a plan as `staff` and returns its name.
    pub async fn create_plan(&self, staff: &Who, org: &str, patient: &str) -> String {
        self.plans(Some(staff))
            .create_plan(new_plan_of(org, patient))
            .await
            .expect("creating a plan")
            .into_inner()
            .plan
            .unwrap()
            .name
    }

    /// Adds `member` to `plan` in `role` and returns the membership's name: as `by`, or for a
    /// citizen's role (next of kin, a representative by power of attorney) as the patient, whose
    /// relations those are to create; a coordinator is appointed by `by`.
    pub async fn add_member(
        &self,
        by: &Who,
        plan: &str,
        member: &Who,
        role: proto::MemberRole,
    ) -> String {
        if role == proto::MemberRole::Coordinator {
            return self.appoint_coordinator(by, plan, member).await.member;
        }
        let citizens_role =
            matches!(role, proto::MemberRole::NextOfKin | proto::MemberRole::Representative);
        let by = if citizens_role && !matches!(by, Who::Citizen(_)) {
            let patient = self.get_plan(by, plan).await.patient_id;
            Who::Citizen(Box::leak(patient.into_boxed_str()))
        } else {
            by.clone()
        };
        self.members(Some(&by))
            .add_member(proto::AddMemberRequest {
                parent: plan.into(),
                member: Some(member.as_member(role)),
            })
            .await
            .expect("adding a member")
            .into_inner()
            .member
            .unwrap()
            .name
    }
}

impl TestServer {
    /// Appoints `coordinator` on `plan` as `by` (unit staff), the wish followed.
    pub async fn appoint_coordinator(
        &self,
        by: &Who,
        plan: &str,
        coordinator: &Who,
    ) -> proto::CoordinatorAssignment {
        self.coordinators(Some(by))
            .appoint_coordinator(proto::AppointCoordinatorRequest {
                parent: plan.into(),
                assignment: Some(coordinator.as_assignment()),
            })
            .await
            .expect("appointing a coordinator")
            .into_inner()
            .assignment
            .unwrap()
    }
}

/// The municipality's coordinating-unit staff member most tests use (granted by each test).
pub fn staff() -> Who {
    Who::Personnel("unit-staff", MUNICIPALITY)
}

/// The municipality's coordinator most tests appoint.
pub fn coordinator() -> Who {
    Who::Personnel("coordinator", MUNICIPALITY)
}

/// NAV's adviser, whom most tests put on the group.
pub fn nav() -> Who {
    Who::Personnel("nav-adviser", NAV)
}

impl TestServer {
    /// The coordinator appointments of `plan`, as `who` lists them.
    pub async fn plan_assignments(&self, who: &Who, plan: &str) -> Vec<proto::AssignmentEntry> {
        self.coordinators(Some(who))
            .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                parent: plan.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries
    }

    /// A referral of `patient` to the municipality, sent by `referrer` with the patient's
    /// consent and wish for a plan.
    pub async fn refer(&self, referrer: &Who, patient: &str) -> proto::Referral {
        self.referrals(Some(referrer))
            .create_referral(proto::CreateReferralRequest {
                referral: Some(proto::Referral {
                    municipality: MUNICIPALITY.into(),
                    patient_id: patient.into(),
                    patient_display_name: "Ola".into(),
                    consent_to_share: true,
                    wants_plan: true,
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .referral
            .unwrap()
    }
}

/// A raw HTTP/2 connection to `server`, for requests the gRPC client would not send.
pub async fn raw_h2(server: &TestServer) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    client.ready().await.unwrap()
}

/// The headers of a gRPC call of GetPlan as `who`, for `raw_h2`; the body is the caller's.
pub fn raw_get_plan(server: &TestServer, who: &Who) -> http::Request<()> {
    http::Request::post(format!("http://{}/samvirke.v1.PlanService/GetPlan", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server.token(who)))
        .body(())
        .unwrap()
}

/// Someone the tests call as.
#[derive(Clone, Debug)]
pub enum Who {
    /// A citizen, by national identity number.
    Citizen(&'static str),
    /// Health or municipal personnel acting for an organisation.
    Personnel(&'static str, &'static str),
    /// Personnel whose token also names their own national identity number (HelseID's `pid`).
    PersonnelWithPid(&'static str, &'static str, &'static str),
    /// An agency system acting for an organisation.
    System(&'static str, &'static str),
}

impl Who {
    fn identity(&self) -> DevIdentity {
        match self {
            Who::Citizen(pid) => DevIdentity::Citizen { pid: (*pid).into() },
            Who::Personnel(sub, org) => {
                DevIdentity::Personnel { sub: (*sub).into(), org: (*org).into(), person: None }
            }
            Who::PersonnelWithPid(sub, org, pid) => DevIdentity::Personnel {
                sub: (*sub).into(),
                org: (*org).into(),
                person: Some((*pid).into()),
            },
            Who::System(client, org) => {
                DevIdentity::System { client: (*client).into(), org: (*org).into() }
            }
        }
    }

    /// The subject text the API uses for them.
    pub fn subject(&self) -> String {
        match self {
            Who::Citizen(pid) => format!("citizen:{pid}"),
            Who::Personnel(sub, _) | Who::PersonnelWithPid(sub, _, _) => {
                format!("personnel:{sub}")
            }
            Who::System(client, _) => format!("system:{client}"),
        }
    }

    /// An appointment of them as coordinator, acting for their token's organisation, the
    /// patient's wish followed.
    pub fn as_assignment(&self) -> proto::CoordinatorAssignment {
        let member = self.as_member(proto::MemberRole::Coordinator);
        proto::CoordinatorAssignment {
            subject: member.subject,
            display_name: "Kari Koordinator".into(),
            organisation: member.organisation,
            wish_followed: true,
            ..Default::default()
        }
    }

    /// A membership for them in `role`, acting for their token's organisation.
    pub fn as_member(&self, role: proto::MemberRole) -> proto::Member {
        let organisation = match self {
            Who::Citizen(_) => String::new(),
            Who::Personnel(_, org) | Who::PersonnelWithPid(_, org, _) | Who::System(_, org) => {
                (*org).into()
            }
        };
        let representative_basis = if role == proto::MemberRole::Representative {
            proto::RepresentativeBasis::PowerOfAttorney as i32
        } else {
            0
        };
        proto::Member {
            subject: self.subject(),
            display_name: "Ola Nordmann".into(),
            role: role as i32,
            organisation,
            representative_basis,
            ..Default::default()
        }
    }
}

/// Sets the authorization header on every call.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.parse().unwrap());
        }
        Ok(request)
    }
}

/// The status code of a call's result.
pub fn code<T>(result: &Result<T, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// The fields an INVALID_ARGUMENT status names in its BadRequest details.
pub fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Shorthands for the matrices' tables.
pub const OK: Code = Code::Ok;
pub const NF: Code = Code::NotFound;
pub const PD: Code = Code::PermissionDenied;
pub const UA: Code = Code::Unauthenticated;
pub const FP: Code = Code::FailedPrecondition;

/// Compares one row of an authorization matrix, naming every caller whose outcome differs.
pub fn check_matrix_row(
    callers: &[&str],
    rpc: &str,
    target: &str,
    expected: &[Code],
    actual: &[Code],
) {
    assert_eq!(callers.len(), actual.len(), "{rpc} on {target}: a caller was skipped");
    let mismatches: Vec<String> = callers
        .iter()
        .zip(expected.iter().zip(actual))
        .filter(|(_, (e, a))| e != a)
        .map(|(c, (e, a))| format!("{c}: expected {e:?}, got {a:?}"))
        .collect();
    assert!(mismatches.is_empty(), "{rpc} on {target}:\n  {}", mismatches.join("\n  "));
}

/// A field mask of `paths`.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

/// A date on the wire.
/// A CreatePlan request for `patient`'s general plan in `org`, Kari Nordmann by name.
pub fn new_plan_of(org: &str, patient: &str) -> proto::CreatePlanRequest {
    proto::CreatePlanRequest {
        plan: Some(proto::Plan {
            organisation: org.into(),
            patient_id: patient.into(),
            patient_display_name: "Kari Nordmann".into(),
            kind: proto::PlanKind::General as i32,
            ..Default::default()
        }),
    }
}

/// An UpdatePlan request that sets what is important to the patient, a change the owner may
/// make, to `text`, with the etag read.
pub fn important_to_me(plan: &str, etag: &str, text: &str) -> proto::UpdatePlanRequest {
    let sections = proto::PatientSections { important_to_me: text.into(), ..Default::default() };
    proto::UpdatePlanRequest {
        plan: Some(proto::Plan {
            name: plan.into(),
            etag: etag.into(),
            sections: Some(sections),
            ..Default::default()
        }),
        update_mask: mask(&["sections.important_to_me"]),
    }
}

/// Drops a test schema in the test PostgreSQL.
pub async fn drop_schema(schema: &str) {
    let mut conn =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_url()).await.unwrap();
    sqlx::Executor::execute(
        &mut conn,
        sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")),
    )
    .await
    .unwrap();
}

pub fn day(year: i32, month: i32, day: i32) -> Option<proto::Date> {
    Some(proto::Date { year, month, day })
}

impl TestServer {
    /// Updates `paths` of `plan` as `who`, sending the etag `reader` reads now and the values
    /// `set` writes into the plan message.
    pub async fn update_plan(
        &self,
        who: &Who,
        reader: &Who,
        plan: &str,
        paths: &[&str],
        set: impl FnOnce(&mut proto::Plan),
    ) -> Result<proto::Plan, Status> {
        let mut input = self.get_plan(reader, plan).await;
        set(&mut input);
        self.plans(Some(who))
            .update_plan(proto::UpdatePlanRequest { plan: Some(input), update_mask: mask(paths) })
            .await
            .map(|r| r.into_inner().plan.unwrap())
    }

    /// Moves `plan` to `status` as `who`, with the etag `reader` reads now.
    pub async fn change_status(
        &self,
        who: &Who,
        reader: &Who,
        plan: &str,
        status: proto::PlanStatus,
        reason: &str,
    ) -> Result<proto::Plan, Status> {
        let etag = self.get_plan(reader, plan).await.etag;
        self.plans(Some(who))
            .change_plan_status(proto::ChangePlanStatusRequest {
                name: plan.into(),
                etag,
                status: status as i32,
                reason: reason.into(),
            })
            .await
            .map(|r| r.into_inner().plan.unwrap())
    }

    /// Proposes a goal as `who`.
    pub async fn create_goal(
        &self,
        who: &Who,
        plan: &str,
        text: &str,
        priority: i32,
    ) -> Result<proto::Goal, Status> {
        self.goals(Some(who))
            .create_goal(proto::CreateGoalRequest {
                parent: plan.into(),
                goal: Some(proto::Goal { text: text.into(), priority, ..Default::default() }),
            })
            .await
            .map(|r| r.into_inner().goal.unwrap())
    }

    /// The goal as `reader` reads it now.
    pub async fn get_goal(&self, reader: &Who, goal: &str) -> proto::Goal {
        self.goals(Some(reader))
            .get_goal(proto::GetGoalRequest { name: goal.into() })
            .await
            .expect("reading the goal")
            .into_inner()
            .goal
            .unwrap()
    }

    /// Updates `paths` of `goal` as `who`, with the etag `reader` reads now.
    pub async fn update_goal(
        &self,
        who: &Who,
        reader: &Who,
        goal: &str,
        paths: &[&str],
        reason: &str,
        set: impl FnOnce(&mut proto::Goal),
    ) -> Result<proto::Goal, Status> {
        let mut input = self.get_goal(reader, goal).await;
        set(&mut input);
        self.goals(Some(who))
            .update_goal(proto::UpdateGoalRequest {
                goal: Some(input),
                update_mask: mask(paths),
                reason: reason.into(),
            })
            .await
            .map(|r| r.into_inner().goal.unwrap())
    }

    /// Adds a measure for `goal` as `who`, with `member` responsible.
    pub async fn create_measure(
        &self,
        who: &Who,
        plan: &str,
        goal: &str,
        member: &str,
        description: &str,
    ) -> Result<proto::Measure, Status> {
        self.measures(Some(who))
            .create_measure(proto::CreateMeasureRequest {
                parent: plan.into(),
                measure: Some(proto::Measure {
                    goal: goal.into(),
                    responsible_member: member.into(),
                    description: description.into(),
                    start_date: day(2026, 12, 1),
                    end_date: day(2027, 6, 30),
                    frequency: "twice a week".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().measure.unwrap())
    }

    /// The measure as `reader` reads it now.
    pub async fn get_measure(&self, reader: &Who, measure: &str) -> proto::Measure {
        self.measures(Some(reader))
            .get_measure(proto::GetMeasureRequest { name: measure.into() })
            .await
            .expect("reading the measure")
            .into_inner()
            .measure
            .unwrap()
    }

    /// Updates `paths` of `measure` as `who`, with the etag `reader` reads now.
    pub async fn update_measure(
        &self,
        who: &Who,
        reader: &Who,
        measure: &str,
        paths: &[&str],
        set: impl FnOnce(&mut proto::Measure),
    ) -> Result<proto::Measure, Status> {
        let mut input = self.get_measure(reader, measure).await;
        set(&mut input);
        self.measures(Some(who))
            .update_measure(proto::UpdateMeasureRequest {
                measure: Some(input),
                update_mask: mask(paths),
            })
            .await
            .map(|r| r.into_inner().measure.unwrap())
    }

    /// Adds an evaluation to `measure` as `who`, with the etag `reader` reads now.
    pub async fn evaluate_measure(
        &self,
        who: &Who,
        reader: &Who,
        measure: &str,
        text: &str,
    ) -> Result<proto::Measure, Status> {
        let etag = self.get_measure(reader, measure).await.etag;
        self.measures(Some(who))
            .add_measure_evaluation(proto::AddMeasureEvaluationRequest {
                name: measure.into(),
                etag,
                evaluation: Some(proto::Evaluation {
                    date: day(2026, 12, 15),
                    text: text.into(),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().measure.unwrap())
    }
}

/// The text of a PDF, page by page joined.
pub fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).expect("a PDF that opens");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).expect("text in the PDF")
}

impl TestServer {
    /// The bytes the database takes now: SQLite's pages, or PostgreSQL's tables with their
    /// indexes and TOAST in the test's schema.
    pub async fn database_bytes(&self) -> i64 {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT CAST(page_count * page_size AS BIGINT) FROM pragma_page_count(), \
                 pragma_page_size()"
            }
            Backend::Postgres => {
                "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            }
        };
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }
}

impl TestServer {
    /// The bytes each PostgreSQL table takes, with its indexes and TOAST; empty on SQLite.
    pub async fn table_bytes(&self) -> Vec<(String, i64)> {
        if self.backend != Backend::Postgres {
            return Vec::new();
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CAST(c.relname AS TEXT), CAST(pg_total_relation_size(c.oid) AS BIGINT) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
             AND c.relkind = 'r' ORDER BY c.relname",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        rows
    }
}

/// Prose of `chars` characters from `seed`, as patients write it: Norwegian words in a random
/// order, which a database compresses no better than real text.
pub fn prose(chars: usize, seed: u64) -> String {
    const WORDS: &[&str] = &[
        "jeg",
        "vil",
        "gjerne",
        "bo",
        "hjemme",
        "med",
        "familien",
        "og",
        "klare",
        "meg",
        "selv",
        "hver",
        "dag",
        "gå",
        "tur",
        "til",
        "butikken",
        "møte",
        "venner",
        "på",
        "kafeen",
        "lage",
        "middag",
        "sove",
        "godt",
        "om",
        "natten",
        "slippe",
        "smerter",
        "når",
        "jeg",
        "går",
        "trapper",
        "få",
        "hjelp",
        "fra",
        "hjemmesykepleien",
        "om",
        "morgenen",
        "kjøre",
        "bil",
        "igjen",
        "jobbe",
        "litt",
        "i",
        "barnehagen",
        "se",
        "barnebarna",
        "ofte",
        "være",
        "ute",
        "hagen",
        "lese",
        "aviser",
        "høre",
        "på",
        "radio",
        "svømme",
        "i",
        "bassenget",
        "tirsdag",
        "fysioterapeut",
        "ergoterapeut",
        "fastlegen",
        "koordinator",
        "trygghetsalarm",
        "rullator",
        "øvelser",
        "styrke",
        "balanse",
        "appetitt",
        "søvn",
        "ro",
        "glede",
        "mestring",
        "fellesskap",
    ];
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut text = String::new();
    while text.chars().count() < chars {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[(state >> 33) as usize % WORDS.len()]);
    }
    text.chars().take(chars).collect::<String>().trim().to_owned()
}

/// A synthetic national identity number (month + 80) for someone born on `born`.
pub fn synthetic_id(born: samvirke::domain::date::Date) -> &'static str {
    let (year, month, day) = born.parts();
    let individuals = if year >= 2000 { 500..1000 } else { 0..500 };
    for individual in individuals {
        let first = format!("{day:02}{:02}{:02}{individual:03}", month + 80, year % 100);
        let d: Vec<u32> = first.bytes().map(|b| u32::from(b - b'0')).collect();
        let k1 = (11
            - [3, 7, 6, 1, 8, 9, 4, 5, 2].iter().zip(&d).map(|(w, d)| w * d).sum::<u32>() % 11)
            % 11;
        if k1 == 10 {
            continue;
        }
        let mut ten = d.clone();
        ten.push(k1);
        let k2 = (11
            - [5, 4, 3, 2, 7, 6, 5, 4, 3, 2].iter().zip(&ten).map(|(w, d)| w * d).sum::<u32>()
                % 11)
            % 11;
        if k2 == 10 {
            continue;
        }
        return Box::leak(format!("{first}{k1}{k2}").into_boxed_str());
    }
    panic!("no synthetic number for {born}");
}

/// Passes encoded messages through as bytes, for calling any method by name.
#[derive(Clone, Copy, Default)]
pub struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; prost::bytes::Buf::remaining(src)];
        prost::bytes::Buf::copy_to_slice(src, &mut out);
        Ok(Some(out))
    }
}
