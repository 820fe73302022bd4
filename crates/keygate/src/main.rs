//! `keygate`: the command-line entry of Keygate. `serve` runs the identity
//! provider; `tenant`, `client` and `user` provision it (create, list,
//! show, update, delete, as the admin API does), each printing one JSON
//! object, and work while a server runs on the same database.

mod cli;
mod commands;
mod master_key;
mod serve;

use clap::Parser;
use std::process::ExitCode;

/// A command's failure: `Usage` is the caller's fault (exit 2, nothing
/// written); `Runtime` is the environment's (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The request itself is wrong (bad arguments, a name already taken): the message, printed
    /// before exit 2.
    Usage(String),
    /// Something outside the request failed (database, files, the server): the message, printed
    /// before exit 1.
    Runtime(String),
}

impl From<keygate_store::StoreError> for Failure {
    fn from(e: keygate_store::StoreError) -> Self {
        match e {
            keygate_store::StoreError::Conflict(m) => Failure::Usage(m),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

/// jemalloc instead of glibc's malloc. The request path allocates and frees
/// small objects on one thread and frees some on another (a job built on an
/// async worker ends on a signing thread); glibc spent 27% of the async
/// workers' CPU in malloc and free on W2 (perf, ES256, 2 cores). With
/// jemalloc, paired runs gave ES256 W1 5,095 / 5,787 against 4,868 / 4,515
/// requests/s. mimalloc gave as much but doubled idle memory (24.7 MB
/// against 12.7); jemalloc idles at 14 MB. Its arenas decay freed pages back
/// to the system, and allocations above 8 MiB (Argon2id's 19 MiB per
/// password check) come from an arena of their own that purges at once
/// (measured: after 48 sign-ins the server held 15 MB, as with glibc and
/// the mmap threshold it needed for that).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(args).await,
            cli::Command::Tenant { command } => commands::tenant(command).await,
            cli::Command::Client { command } => commands::client(command).await,
            cli::Command::User { command } => commands::user(command).await,
            cli::Command::Api { command } => commands::api(command).await,
            cli::Command::Idp { command } => commands::idp(command).await,
            cli::Command::Keys {
                command: cli::KeysCommand::Rotate(a),
            } => commands::keys_rotate(a).await,
            cli::Command::Webhook { command } => commands::webhook(command).await,
            cli::Command::AdminToken { command } => commands::admin_token(command).await,
            cli::Command::Admin { command } => commands::admin(command).await,
            cli::Command::Events {
                command: cli::EventsCommand::List(a),
            } => commands::events_list(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}
