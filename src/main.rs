//! The gigmarket binary: `serve` (default), `migrate`, `export-schema`, `seed`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gigmarket::{
    config::Config,
    progress::{Progress, Unit},
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "gigmarket",
    version,
    about = "GraphQL API server for a freelance and gig marketplace"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the database if missing and runs migrations first).
    Serve,
    /// Create the database if missing and run pending migrations, then exit.
    Migrate,
    /// Write the schema's SDL (default: ./schema.graphql; `-` for stdout).
    ExportSchema {
        #[arg(long, short, default_value = "schema.graphql")]
        out: PathBuf,
    },
    /// Create demo accounts (password `gigmarket-demo`), bulk users for load tests, or a
    /// catalogue (users, gigs, tasks) for demos and benchmarks.
    Seed {
        /// Instead of the demo accounts, create this many users `{prefix}{i}` with password `password`.
        #[arg(long)]
        load_users: Option<usize>,
        /// Instead, seed a catalogue: `cat_user_<i>` users, gigs with packages, open tasks.
        #[arg(long)]
        catalogue: bool,
        #[arg(long, default_value_t = 10_000)]
        users: i64,
        #[arg(long, default_value_t = 100_000)]
        gigs: i64,
        #[arg(long, default_value_t = 100_000)]
        tasks: i64,
        #[arg(long, default_value = "load_user_")]
        prefix: String,
    },
}

/// mimalloc instead of glibc's malloc: per catalogue request the server allocates and frees
/// thousands of small values (rows, GraphQL values, futures), and glibc's allocator spent
/// about a third of the request's instructions on them (BENCHMARKS.md, catalogue section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Flushes traces at exit (when OTLP is configured).
    let _telemetry = telemetry::init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => {
            let config = Config::from_env()?;
            gigmarket::db::create_database_if_missing(&config.database_url).await?;
            let progress = Progress::new("migrate", Unit::Steps);
            match gigmarket::db::run_migrations_with_progress(&config.database_url, &progress).await? {
                0 => progress.finish("up to date, no pending migrations"),
                1 => progress.finish("applied 1 migration, up to date"),
                n => progress.finish(format_args!("applied {n} migrations, up to date")),
            }
            Ok(())
        }
        Command::ExportSchema { out } => {
            let sdl = gigmarket::graphql::sdl();
            if out.as_os_str() == "-" {
                print!("{sdl}");
            } else {
                std::fs::write(&out, sdl).with_context(|| format!("writing {}", out.display()))?;
                eprintln!("wrote {}", out.display());
            }
            Ok(())
        }
        Command::Seed {
            load_users,
            prefix,
            catalogue,
            users,
            gigs,
            tasks,
        } => {
            let app = gigmarket::prepare_for_tools(Config::from_env()?).await?;
            if catalogue {
                let size = gigmarket::seed::CatalogueSize { users, gigs, tasks };
                let progress = Progress::new("seed catalogue", Unit::Items("rows"));
                if gigmarket::seed::catalogue_with_progress(&app, size, &progress).await? {
                    progress.finish(format_args!(
                        "seeded {users} users cat_user_<i> (password: password), {gigs} gigs, {tasks} tasks"
                    ));
                } else {
                    progress.finish("a catalogue already exists; nothing seeded");
                }
                return Ok(());
            }
            match load_users {
                Some(n) => {
                    let progress = Progress::new("seed load users", Unit::Items("users"));
                    let created =
                        gigmarket::seed::load_users_with_progress(&app, &prefix, n, "password", &progress).await?;
                    progress.finish(format_args!(
                        "created {created}; {n} users {prefix}<i> present (password: password)"
                    ));
                }
                None => {
                    let progress = Progress::new("seed demo", Unit::Steps);
                    let created = gigmarket::seed::demo_with_progress(&app, &progress).await?;
                    progress.finish(format_args!(
                        "created {created}; demo accounts ada, grace, linus, moderator (admin) @example.com, \
                         password {}",
                        gigmarket::seed::DEMO_PASSWORD
                    ));
                }
            }
            Ok(())
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    tracing::info!(config = ?config, "starting gigmarket");
    let bind = config.bind_addr;
    let state = gigmarket::prepare(config).await?;
    let router = gigmarket::build_router(state.clone());
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    release_startup_memory();
    tracing::info!(
        "listening on http://{bind} — GraphiQL at http://{bind}/graphql{}",
        if state.config.graphiql { "" } else { " (disabled)" }
    );
    gigmarket::http::server::serve(listener, router, &state.config.http, shutdown_signal())
        .await
        .context("server")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Returns to the system the pages that start-up (migrations, building the schema, filling
/// the pools) used and freed. mimalloc purges freed pages only when it is next called after
/// a delay, and a server that starts and then waits for its first request holds them for as
/// long: about 10 MiB, two fifths of its private memory at rest (BENCHMARKS.md, idle RSS).
fn release_startup_memory() {
    // SAFETY: `mi_collect` has no preconditions; it may be called from any thread at any
    // time, and only frees what is already unused.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Resolves on SIGTERM or Ctrl-C; in-flight requests then finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
