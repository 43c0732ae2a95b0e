//! The command line: every flag also reads a `SAMVIRKE_*` environment variable, and `--help`
//! shows both.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::{ChangeFeed, StreamSettings};
use crate::auth::dpop::DpopConfig;
use crate::auth::token::{
    DEFAULT_AUDIENCE, DEFAULT_CITIZEN_ACR, JWKS_RELOAD_COOLDOWN, JwksLocation, ProviderConfig,
};
use crate::auth::{Policy, VerifierConfig};
use crate::domain::Error;
use crate::domain::subject::SubjectKind;
use crate::overload::Limits;
use crate::server::{KeySource, ServerConfig};
use crate::store::{Backend, DatabaseUrl, GroupCommit, StoreOptions};

/// samvirke: the gRPC backend for the individual plan (individuell plan).
#[derive(Parser, Debug)]
#[command(name = "samvirke", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once at start; the size of `serve`'s many options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gRPC server; prints the bound address as its first line of output.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Mint a development token, signed with the local development key; prints the token alone.
    Token(TokenArgs),
    /// Grant an organisation role directly in the database: bootstraps an organisation's first
    /// admin, who then grants further roles through the API.
    Grant(GrantArgs),
    /// Measure how list calls scale with the size of the database; writes the figures to a file.
    Bench(BenchArgs),
    /// Print a national identity number of Skatteetaten's synthetic test population (month +
    /// 80), for development: no person holds one.
    SyntheticId(SyntheticIdArgs),
    /// The organisation registry.
    #[command(subcommand)]
    Organisations(OrganisationsCommand),
}

/// `samvirke synthetic-id`.
#[derive(Args, Debug, Clone)]
pub struct SyntheticIdArgs {
    /// Which of the day's numbers: 0, 1, 2, … give different people.
    #[arg(default_value_t = 0)]
    pub n: usize,
    /// The birth date, YYYY-MM-DD (1900 to 2039).
    #[arg(long, default_value = "1980-01-01")]
    pub born: String,
}

/// `samvirke organisations`.
#[derive(Subcommand, Debug)]
pub enum OrganisationsCommand {
    /// Import organisations from a CSV file shaped like Enhetsregisteret's open data: the columns
    /// organisasjonsnummer, navn and organisasjonsform.kode, plus kind where the form code does
    /// not tell (municipality, health_trust, nav_office, school, kindergarten, child_welfare,
    /// county_governor, other). Organisations already held are updated.
    Import(ImportArgs),
}

/// `samvirke organisations import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The CSV file; `registry/sample.csv` holds a synthetic sample for development.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `samvirke bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Plans in the baseline database.
    #[arg(long, default_value_t = 1_000)]
    pub baseline_plans: usize,
    /// Plans in the large database.
    #[arg(long, default_value_t = 20_000)]
    pub large_plans: usize,
    /// Calls timed per caller and size.
    #[arg(long, default_value_t = 100)]
    pub repeats: usize,
    /// PostgreSQL to measure on as well, in a schema of its own (SQLite is always measured).
    #[arg(long, env = "SAMVIRKE_BENCH_DATABASE_URL")]
    pub postgres_url: Option<String>,
    /// Where to write the figures (JSON).
    #[arg(long, default_value = "bench-results/bench.json")]
    pub out: PathBuf,
    /// Seconds each call is driven at each concurrency for the throughput figures.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

/// The database to use.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH (the embedded default) or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    #[arg(
        long,
        env = "SAMVIRKE_DATABASE_URL",
        default_value = "sqlite://samvirke-data/samvirke.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// Token verification. Each identity provider is configured with its issuer and its JWKS file,
/// and vouches for one kind of caller only: ID-porten for citizens, HelseID for personnel,
/// Maskinporten for systems.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// ID-porten's issuer (`iss`); its tokens name citizens. Its keys are read from
    /// --idporten-jwks-file, or else from the `jwks_uri` of its discovery document.
    #[arg(long, env = "SAMVIRKE_IDPORTEN_ISSUER")]
    pub idporten_issuer: Option<String>,
    /// JWKS file with ID-porten's public keys.
    #[arg(long, env = "SAMVIRKE_IDPORTEN_JWKS_FILE", requires = "idporten_issuer")]
    pub idporten_jwks_file: Option<PathBuf>,
    /// HelseID's issuer (`iss`); its tokens name health personnel. Its keys are read from
    /// --helseid-jwks-file, or else from the `jwks_uri` of its discovery document.
    #[arg(long, env = "SAMVIRKE_HELSEID_ISSUER")]
    pub helseid_issuer: Option<String>,
    /// JWKS file with HelseID's public keys.
    #[arg(long, env = "SAMVIRKE_HELSEID_JWKS_FILE", requires = "helseid_issuer")]
    pub helseid_jwks_file: Option<PathBuf>,
    /// Maskinporten's issuer (`iss`); its tokens name agency systems. Its keys are read from
    /// --maskinporten-jwks-file, or else from the `jwks_uri` of its discovery document.
    #[arg(long, env = "SAMVIRKE_MASKINPORTEN_ISSUER")]
    pub maskinporten_issuer: Option<String>,
    /// JWKS file with Maskinporten's public keys.
    #[arg(long, env = "SAMVIRKE_MASKINPORTEN_JWKS_FILE", requires = "maskinporten_issuer")]
    pub maskinporten_jwks_file: Option<PathBuf>,
    /// The kinds of caller whose tokens must be DPoP-bound (RFC 9449), comma-separated:
    /// `citizen` (ID-porten), `personnel` (HelseID), `system` (Maskinporten). Bound tokens
    /// are checked whatever their issuer; this refuses the bearer tokens of those named.
    #[arg(long, env = "SAMVIRKE_REQUIRE_DPOP", value_delimiter = ',', value_parser = ["citizen", "personnel", "system"])]
    pub require_dpop: Vec<String>,
    /// The server's URL as clients call it (`https://samvirke.example.no`): a DPoP proof's
    /// `htu` is it followed by the gRPC path. Unset, DPoP-bound tokens are refused.
    #[arg(long, env = "SAMVIRKE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The audience (`aud`) tokens must carry.
    #[arg(long, env = "SAMVIRKE_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` and the lifetime, in seconds.
    #[arg(long, env = "SAMVIRKE_CLOCK_SKEW_SECONDS", default_value_t = 60)]
    pub clock_skew_seconds: u64,
    /// The longest lifetime (`exp - iat`) a token may have, in seconds, before the skew.
    #[arg(long, env = "SAMVIRKE_MAX_TOKEN_LIFETIME_SECONDS", default_value_t = 3600)]
    pub max_token_lifetime_seconds: u64,
    /// The assurance levels (`acr`) a citizen's token may carry, comma-separated.
    #[arg(
        long,
        env = "SAMVIRKE_CITIZEN_ACR",
        value_delimiter = ',',
        default_value = DEFAULT_CITIZEN_ACR
    )]
    pub citizen_acr: Vec<String>,
    /// Where the development signing key is kept (created when missing).
    #[arg(long, env = "SAMVIRKE_DEV_KEY_FILE", default_value = "samvirke-data/dev-signing-key")]
    pub dev_key_file: PathBuf,
    /// Allow the development key with PostgreSQL. Never in production.
    #[arg(
        long,
        env = "SAMVIRKE_ALLOW_DEV_KEYS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_dev_keys: bool,
}

impl AuthArgs {
    /// The identity providers configured, each with its kind of caller.
    fn providers(&self) -> Vec<ProviderConfig> {
        [
            (SubjectKind::Citizen, &self.idporten_issuer, &self.idporten_jwks_file),
            (SubjectKind::Personnel, &self.helseid_issuer, &self.helseid_jwks_file),
            (SubjectKind::System, &self.maskinporten_issuer, &self.maskinporten_jwks_file),
        ]
        .into_iter()
        .filter_map(|(kind, issuer, file)| {
            let jwks = file.clone().map_or(JwksLocation::Discovery, JwksLocation::File);
            let named = match kind {
                SubjectKind::Citizen => "citizen",
                SubjectKind::Personnel => "personnel",
                SubjectKind::System => "system",
            };
            let requires_dpop = self.require_dpop.iter().any(|k| k == named);
            Some(ProviderConfig { kind, issuer: issuer.clone()?, jwks, requires_dpop })
        })
        .collect()
    }
}

/// `samvirke serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 binds a free port.
    #[arg(long, env = "SAMVIRKE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Folder with model.conf and policy.csv replacing the built-in policy.
    #[arg(long, env = "SAMVIRKE_POLICY_DIR")]
    pub policy_dir: Option<PathBuf>,
    /// Largest request message accepted, in bytes.
    #[arg(long, env = "SAMVIRKE_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Seconds between database checks for the health service.
    #[arg(long, env = "SAMVIRKE_HEALTH_INTERVAL_SECONDS", default_value_t = 5)]
    pub health_interval_seconds: u64,
    /// Serve gRPC server reflection (v1 and v1alpha), which lists and describes every method;
    /// `false` turns it off, for a production that publishes its contract otherwise.
    #[arg(
        long,
        env = "SAMVIRKE_REFLECTION",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub reflection: bool,
    /// Origins of browser clients (gRPC-Web) that CORS lets call across origins, comma-separated:
    /// `https://host[:port]` each. Unset: none.
    #[arg(long, env = "SAMVIRKE_BROWSER_ORIGINS", value_delimiter = ',')]
    pub browser_origins: Vec<String>,
    /// PEM file with the TLS certificate chain, leaf first; with `--tls-key-file`, the server
    /// speaks TLS and reloads both when they change. Unset: plaintext.
    #[arg(long, env = "SAMVIRKE_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM file with the TLS private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SAMVIRKE_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Calls served at once over all connections; past it, calls are refused UNAVAILABLE.
    #[arg(long, env = "SAMVIRKE_MAX_CONCURRENT_CALLS", default_value_t = 512)]
    pub max_concurrent_calls: usize,
    /// Calls one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, env = "SAMVIRKE_MAX_STREAMS_PER_CONNECTION", default_value_t = 128)]
    pub max_streams_per_connection: u32,
    /// Calls one caller may make per second, sustained; 0 for no limit. Past it, calls are
    /// refused RESOURCE_EXHAUSTED with a retry delay.
    #[arg(long, env = "SAMVIRKE_CALLER_RATE_PER_SECOND", default_value_t = 100)]
    pub caller_rate_per_second: u32,
    /// Calls one caller may make in a burst above the sustained rate.
    #[arg(long, env = "SAMVIRKE_CALLER_BURST", default_value_t = 200)]
    pub caller_burst: u32,
    /// Calls one caller may have in flight at once; past it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "SAMVIRKE_MAX_CALLS_PER_CALLER", default_value_t = 32)]
    pub max_calls_per_caller: usize,
    /// Seconds a call may run before it is answered DEADLINE_EXCEEDED and its work rolled back.
    #[arg(long, env = "SAMVIRKE_DEADLINE_SECONDS", default_value_t = 30)]
    pub deadline_seconds: u64,
    /// Seconds between HTTP/2 PINGs on a connection; one unanswered for 10 seconds closes it.
    #[arg(long, env = "SAMVIRKE_KEEPALIVE_SECONDS", default_value_t = 30)]
    pub keepalive_seconds: u64,
    /// Microseconds a batch of the access log's read rows waits for more once its first row
    /// has come; 0 commits what came while the batch before committed, and waits for nothing.
    #[arg(long, env = "SAMVIRKE_LOG_BATCH_WAIT_MICROS", default_value_t = 0)]
    pub log_batch_wait_micros: u64,
    /// Read connections on SQLite (writes have one connection of their own).
    #[arg(long, env = "SAMVIRKE_SQLITE_READ_CONNECTIONS", default_value_t = 4)]
    pub sqlite_read_connections: u32,
    /// Days the change feed (ListPlanChanges, WatchPlanChanges) keeps a change; a client whose
    /// cursor is older must read the plans again.
    #[arg(long, env = "SAMVIRKE_CHANGE_RETENTION_DAYS", default_value_t = 30)]
    pub change_retention_days: u64,
    /// WatchPlanChanges streams open at once, over all callers; each also takes one of its
    /// caller's calls in flight (--max-calls-per-caller).
    #[arg(long, env = "SAMVIRKE_MAX_CHANGE_STREAMS", default_value_t = 256)]
    pub max_change_streams: usize,
    /// WatchPlanChanges streams one caller (token subject) may have open at once; past it
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "SAMVIRKE_MAX_CHANGE_STREAMS_PER_CALLER", default_value_t = 4)]
    pub max_change_streams_per_caller: usize,
    /// Milliseconds between a stream's looks for changes other server nodes made (changes made
    /// on its own node wake it at once).
    #[arg(long, env = "SAMVIRKE_CHANGE_POLL_MILLIS", default_value_t = 1000)]
    pub change_poll_millis: u64,
    /// Seconds a stream waits for a client that does not read before dropping it with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "SAMVIRKE_SLOW_CONSUMER_SECONDS", default_value_t = 10)]
    pub slow_consumer_seconds: u64,
}

/// `samvirke token`: exactly one of --pid, --sub or --client.
#[derive(Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["pid", "sub", "client"])))]
pub struct TokenArgs {
    /// A citizen (patient or next of kin), by national identity number, as ID-porten names them.
    #[arg(long)]
    pub pid: Option<String>,
    /// Health personnel, by HelseID subject; needs --org.
    #[arg(long, requires = "org")]
    pub sub: Option<String>,
    /// An agency system, by Maskinporten client id; needs --org.
    #[arg(long, requires = "org")]
    pub client: Option<String>,
    /// The organisation number the personnel or system acts for.
    #[arg(long)]
    pub org: Option<String>,
    /// The personnel's own national identity number, as HelseID's `pid` claim carries it: lets
    /// samvirke refuse relations they would create for themselves as a citizen.
    #[arg(long, requires = "sub")]
    pub person_id: Option<String>,
    /// How long the token is valid, in seconds; the server refuses tokens that live longer than
    /// its --max-token-lifetime-seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl_seconds: u64,
    /// Where the development signing key is kept (created when missing).
    #[arg(long, env = "SAMVIRKE_DEV_KEY_FILE", default_value = "samvirke-data/dev-signing-key")]
    pub dev_key_file: PathBuf,
    /// The audience (`aud`) to put in the token.
    #[arg(long, env = "SAMVIRKE_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
}

/// `samvirke grant`.
#[derive(Args, Debug, Clone)]
pub struct GrantArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The organisation number the role is held in.
    #[arg(long)]
    pub org: String,
    /// Who gets the role: personnel:{sub} or system:{client_id}.
    #[arg(long)]
    pub subject: String,
    /// The role; it must fit the organisation's kind in the registry (referrer and ward_staff in
    /// a health trust, complaint_authority in a county governor, ...).
    #[arg(long, value_parser = [
        "admin", "unit_staff", "complaint_handler", "complaint_authority", "referrer", "ward_staff"
    ])]
    pub role: String,
}

impl ServeArgs {
    /// The server's configuration, refusing combinations that would be unsafe.
    pub fn server_config(&self) -> Result<ServerConfig, Error> {
        let database_url = DatabaseUrl(self.database.database_url.clone());
        let backend = Backend::of_url(&database_url.0).ok_or_else(|| {
            Error::invalid("database-url", "must start with sqlite: or postgres:")
        })?;
        let auth = &self.auth;
        let providers = auth.providers();
        let keys = if providers.is_empty() {
            if backend == Backend::Postgres && !auth.allow_dev_keys {
                return Err(Error::invalid(
                    "jwks-file",
                    "the identity providers' issuers (--idporten-issuer, --helseid-issuer, \
                     --maskinporten-issuer; keys from their discovery documents or \
                     --*-jwks-file) are required with PostgreSQL; pass --allow-dev-keys outside \
                     production",
                ));
            }
            KeySource::DevKey(auth.dev_key_file.clone())
        } else {
            KeySource::Providers(providers)
        };
        let citizen_acr: Vec<String> = auth
            .citizen_acr
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if citizen_acr.is_empty() {
            return Err(Error::invalid("citizen-acr", "must name at least one assurance level"));
        }
        let policy = match &self.policy_dir {
            Some(dir) => Policy::from_dir(dir)?,
            None => Policy::embedded(),
        };
        Ok(ServerConfig {
            database_url,
            keys,
            verifier: VerifierConfig {
                audience: auth.audience.clone(),
                leeway: Duration::from_secs(auth.clock_skew_seconds),
                max_lifetime: Duration::from_secs(auth.max_token_lifetime_seconds),
                citizen_acr,
                jwks_cooldown: JWKS_RELOAD_COOLDOWN,
                dpop: DpopConfig { public_url: auth.public_url.clone(), ..DpopConfig::default() },
            },
            policy,
            max_message_bytes: self.max_message_bytes,
            health_interval: Duration::from_secs(self.health_interval_seconds.max(1)),
            reflection: self.reflection,
            browser_origins: self.browser_origins.clone(),
            tls: self
                .tls_cert_file
                .clone()
                .zip(self.tls_key_file.clone())
                .map(|(cert, key)| crate::tls::TlsFiles { cert, key }),
            limits: Limits {
                max_concurrent_calls: self.max_concurrent_calls.max(1),
                max_streams_per_connection: self.max_streams_per_connection.max(1),
                caller_rate: NonZeroU32::new(self.caller_rate_per_second),
                caller_burst: NonZeroU32::new(self.caller_burst).unwrap_or(NonZeroU32::MIN),
                max_calls_per_caller: self.max_calls_per_caller.max(1),
                deadline: Duration::from_secs(self.deadline_seconds.max(1)),
                keepalive_interval: Duration::from_secs(self.keepalive_seconds.max(1)),
                keepalive_timeout: Duration::from_secs(10),
            },
            store: StoreOptions {
                group_commit: GroupCommit {
                    max_wait: Duration::from_micros(self.log_batch_wait_micros),
                    ..GroupCommit::default()
                },
                sqlite_readers: self.sqlite_read_connections.max(1),
            },
            changes: ChangeFeed {
                retention: Duration::from_secs(self.change_retention_days.max(1) * 86_400),
                prune_interval: Duration::from_secs(3_600),
                streams: StreamSettings {
                    max_streams: self.max_change_streams.max(1),
                    max_streams_per_caller: self.max_change_streams_per_caller.max(1),
                    poll_interval: Duration::from_millis(self.change_poll_millis.max(10)),
                    slow_consumer_timeout: Duration::from_secs(self.slow_consumer_seconds.max(1)),
                },
            },
        })
    }
}
