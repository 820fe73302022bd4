//! `keygate`: the command-line entry of Keygate. `serve` runs the identity
//! provider; `tenant`, `client` and `user` provision it, each printing one
//! JSON object, and work while a server runs on the same database.

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
    Usage(String),
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

/// Large allocations (Argon2id's 19 MiB per password check) go straight to
/// mmap and back to the system when freed. glibc otherwise raises its mmap
/// threshold after the first such free and serves later ones from
/// per-thread arenas it keeps, so memory would grow by 19 MiB for every
/// thread that ever checked a password.
fn tune_allocator() {
    #[cfg(target_os = "linux")]
    // SAFETY: mallopt only adjusts allocator parameters; called once at start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
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
            cli::Command::Tenant {
                command: cli::TenantCommand::Create(a),
            } => commands::tenant_create(a).await,
            cli::Command::Client {
                command: cli::ClientCommand::Create(a),
            } => commands::client_create(a).await,
            cli::Command::User {
                command: cli::UserCommand::Create(a),
            } => commands::user_create(a).await,
            cli::Command::Keys {
                command: cli::KeysCommand::Rotate(a),
            } => commands::keys_rotate(a).await,
            cli::Command::AdminToken { command } => commands::admin_token(command).await,
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
