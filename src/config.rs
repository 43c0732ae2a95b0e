//! The command line: every flag also reads a `SAMVIRKE_*` environment variable, and `--help`
//! shows both.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::token::{DEFAULT_AUDIENCE, DEV_ISSUER};
use crate::auth::{Policy, VerifierConfig};
use crate::domain::Error;
use crate::domain::ids::OrgNumber;
use crate::server::{KeySource, ServerConfig};
use crate::store::{Backend, DatabaseUrl};

/// samvirke: the gRPC backend for the individual plan (individuell plan).
#[derive(Parser, Debug)]
#[command(name = "samvirke", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
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
    #[arg(long, default_value = "bench-results/list_plans.json")]
    pub out: PathBuf,
}

/// The database to use.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH (the embedded default) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "SAMVIRKE_DATABASE_URL",
        default_value = "sqlite://samvirke-data/samvirke.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// Token verification.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// JWKS file with the identity providers' public keys (production). Without it, the local
    /// development key signs and verifies tokens.
    #[arg(long, env = "SAMVIRKE_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Accepted token issuers (`iss`), comma-separated. Required with --jwks-file; defaults to
    /// the development issuer otherwise.
    #[arg(long, env = "SAMVIRKE_ISSUERS", value_delimiter = ',')]
    pub issuers: Vec<String>,
    /// The audience (`aud`) tokens must carry.
    #[arg(long, env = "SAMVIRKE_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, env = "SAMVIRKE_CLOCK_SKEW_SECONDS", default_value_t = 60)]
    pub clock_skew_seconds: u64,
    /// Where the development signing key is kept (created when missing).
    #[arg(
        long,
        env = "SAMVIRKE_DEV_KEY_FILE",
        default_value = "samvirke-data/dev-signing-key"
    )]
    pub dev_key_file: PathBuf,
    /// Allow the development key with PostgreSQL. Never in production.
    #[arg(long, env = "SAMVIRKE_ALLOW_DEV_KEYS")]
    pub allow_dev_keys: bool,
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
    /// Organisation numbers of the county governors (Statsforvalteren) that decide forwarded
    /// complaints, comma-separated. Complaints can be forwarded only to these.
    #[arg(long, env = "SAMVIRKE_COMPLAINT_AUTHORITIES", value_delimiter = ',')]
    pub complaint_authorities: Vec<String>,
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
    /// How long the token is valid, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl_seconds: u64,
    /// Where the development signing key is kept (created when missing).
    #[arg(
        long,
        env = "SAMVIRKE_DEV_KEY_FILE",
        default_value = "samvirke-data/dev-signing-key"
    )]
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
    /// The role: admin or unit_staff.
    #[arg(long, value_parser = ["admin", "unit_staff"])]
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
        let (keys, issuers) = match &auth.jwks_file {
            Some(file) => {
                if auth.issuers.is_empty() {
                    return Err(Error::invalid(
                        "issuers",
                        "must name the trusted issuers when --jwks-file is set",
                    ));
                }
                (KeySource::JwksFile(file.clone()), auth.issuers.clone())
            }
            None => {
                if backend == Backend::Postgres && !auth.allow_dev_keys {
                    return Err(Error::invalid(
                        "jwks-file",
                        "is required with PostgreSQL (or pass --allow-dev-keys outside production)",
                    ));
                }
                let issuers = if auth.issuers.is_empty() {
                    vec![DEV_ISSUER.to_owned()]
                } else {
                    auth.issuers.clone()
                };
                (KeySource::DevKey(auth.dev_key_file.clone()), issuers)
            }
        };
        let policy = match &self.policy_dir {
            Some(dir) => Policy::from_dir(dir)?,
            None => Policy::embedded(),
        };
        Ok(ServerConfig {
            database_url,
            keys,
            verifier: VerifierConfig {
                issuers,
                audience: auth.audience.clone(),
                leeway: Duration::from_secs(auth.clock_skew_seconds),
            },
            policy,
            max_message_bytes: self.max_message_bytes,
            health_interval: Duration::from_secs(self.health_interval_seconds.max(1)),
            complaint_authorities: self
                .complaint_authorities
                .iter()
                .map(|org| OrgNumber::parse("complaint-authorities", org.trim()))
                .collect::<Result<_, _>>()?,
        })
    }
}
