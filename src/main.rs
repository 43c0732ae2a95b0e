//! The `samvirke` command: serve, migrate, mint development tokens, bootstrap role grants.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use samvirke::auth::{DevIdentity, DevKey};
use samvirke::config::{
    BenchArgs, Cli, Command, GrantArgs, ImportArgs, OrganisationsCommand, ServeArgs,
    SyntheticIdArgs, TokenArgs,
};
use samvirke::domain::Error;
use samvirke::domain::ids::{NationalId, OrgNumber};
use samvirke::domain::organisation::OrgRole;
use samvirke::domain::subject::{Subject, SubjectKind};
use samvirke::domain::time::Instant;
use samvirke::server::Server;
use samvirke::store::{DatabaseUrl, Store};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let telemetry = match samvirke::telemetry::init() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: telemetry: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => Store::open(&DatabaseUrl(args.database_url))
            .await
            .map(|_| eprintln!("migrations applied")),
        Command::Token(args) => token(args),
        Command::Grant(args) => grant(args).await,
        Command::Bench(args) => bench(args).await,
        Command::SyntheticId(args) => synthetic_id(args),
        Command::Organisations(OrganisationsCommand::Import(args)) => import(args).await,
    };
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", with_causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// `error` and each of its causes, `: `-separated. A client is never shown an internal
/// error's cause; the operator running the command is, since a port in use, a missing file or
/// a database that does not exist is theirs to fix, and none of them holds health data.
fn with_causes(error: &Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn serve(args: ServeArgs) -> Result<(), Error> {
    let config = args.server_config()?;
    if let samvirke::server::KeySource::DevKey(path) = &config.keys {
        tracing::warn!(key = %path.display(), "using the development signing key: not for production");
    }
    tracing::info!(database = %config.database_url, "starting");
    let server = Server::build(config).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Error::internal(format!("binding {}: {e}", args.listen)))?;
    let address = listener.local_addr().map_err(Error::internal)?;
    // The first line of output: scripts and tests read the bound address from it.
    println!("listening on {address}");
    tracing::info!(%address, "serving");
    server.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM; the server then finishes the calls in flight.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing calls in flight");
}

fn synthetic_id(args: SyntheticIdArgs) -> Result<(), Error> {
    let born = samvirke::domain::date::Date::from_stored(&args.born)
        .ok_or_else(|| Error::invalid("born", "must be a date, YYYY-MM-DD, from 1900 to 2039"))?;
    let id = NationalId::synthetic(born, args.n).ok_or_else(|| {
        Error::invalid("n", "no such synthetic number on that day (1900 to 2039)")
    })?;
    println!("{}", id.expose());
    Ok(())
}

fn token(args: TokenArgs) -> Result<(), Error> {
    let org = args.org.as_deref().map(|o| OrgNumber::parse("org", o)).transpose()?;
    let who = match (&args.pid, &args.sub, &args.client, org) {
        (Some(pid), None, None, _) => {
            NationalId::parse("pid", pid)?;
            DevIdentity::Citizen { pid: pid.clone() }
        }
        (None, Some(sub), None, Some(org)) => DevIdentity::Personnel {
            sub: checked(SubjectKind::Personnel, "sub", sub)?,
            org: org.to_string(),
            person: args
                .person_id
                .as_deref()
                .map(|id| NationalId::parse("person-id", id).map(|_| id.to_owned()))
                .transpose()?,
        },
        (None, None, Some(client), Some(org)) => DevIdentity::System {
            client: checked(SubjectKind::System, "client", client)?,
            org: org.to_string(),
        },
        _ => {
            return Err(Error::invalid(
                "pid",
                "give exactly one of --pid, --sub --org or --client --org",
            ));
        }
    };
    let key = DevKey::load_or_create(&args.dev_key_file)?;
    let token =
        key.mint(&who, &args.audience, Duration::from_secs(args.ttl_seconds), Default::default())?;
    println!("{token}");
    Ok(())
}

fn checked(kind: SubjectKind, field: &str, id: &str) -> Result<String, Error> {
    Subject::external(kind, id)
        .map(|_| id.to_owned())
        .ok_or_else(|| Error::invalid(field, "must be 1 to 200 letters, digits or -._~+/=@:|"))
}

async fn grant(args: GrantArgs) -> Result<(), Error> {
    let org = OrgNumber::parse("org", &args.org)?;
    let subject = Subject::parse("subject", &args.subject)?;
    if subject.kind() == SubjectKind::Citizen {
        return Err(Error::invalid("subject", "roles are not granted to citizens"));
    }
    let role = OrgRole::from_stored(&args.role).ok_or_else(|| Error::invalid("role", "unknown"))?;
    let store = Store::open(&DatabaseUrl(args.database.database_url)).await?;
    let granted_by = Subject::external(SubjectKind::System, "samvirke-cli")
        .ok_or_else(|| Error::internal("cli subject"))?;
    let grant = store
        .write_with(async |session| {
            session.organisation_of_kind("org", &org, role.held_in()).await?;
            session.insert_grant(&org, &subject, role, &granted_by, Instant::now()).await
        })
        .await?;
    eprintln!(
        "granted {} in {} to {} (organisations/{}/roleGrants/{})",
        grant.role.as_str(),
        grant.organisation,
        grant.subject,
        grant.organisation,
        grant.id
    );
    store.close().await;
    Ok(())
}

async fn import(args: ImportArgs) -> Result<(), Error> {
    let file = std::fs::File::open(&args.file)
        .map_err(|e| Error::invalid("file", format!("{}: {e}", args.file.display())))?;
    let organisations = samvirke::registry::parse_csv(std::io::BufReader::new(file))?;
    let store = Store::open(&DatabaseUrl(args.database.database_url)).await?;
    store
        .write_with(async |session| {
            session.upsert_organisations(&organisations, Instant::now()).await
        })
        .await?;
    store.close().await;
    eprintln!("imported {} organisations from {}", organisations.len(), args.file.display());
    Ok(())
}

async fn bench(args: BenchArgs) -> Result<(), Error> {
    let report = samvirke::bench::run(samvirke::bench::BenchConfig {
        baseline_plans: args.baseline_plans,
        large_plans: args.large_plans,
        repeats: args.repeats,
        postgres_url: args.postgres_url,
        out: args.out.clone(),
        seconds: args.seconds,
    })
    .await?;
    for t in &report.throughput {
        println!(
            "{:<9} {:<40} x{:<3} {:>9.0}/s  p50 {:>7} us  p99 {:>7} us  {:.3} of Health/Check",
            t.backend, t.call, t.concurrency, t.per_second, t.p50_us, t.p99_us, t.of_health
        );
    }
    for r in &report.resident {
        println!("{:<9} resident memory at {} plans: {:.0} MiB", r.backend, r.plans, r.mib);
    }
    for f in &report.figures {
        println!(
            "{:<9} {:<32} {:>7} us at {} plans, {:>7} us at {} plans: x{:.2}",
            f.backend,
            f.caller,
            f.baseline_median_us,
            report.baseline_plans,
            f.large_median_us,
            report.large_plans,
            f.ratio
        );
    }
    println!("figures written to {}", args.out.display());
    Ok(())
}
