//! `keygate admin ...`: operators of the admin console (docs/console.md).

use super::DbArgs;
use clap::{ArgGroup, Args, Subcommand};

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// Create an operator of the console; its password is read from
    /// standard input. Prints {"id", "email", "role", "tenant"}. It sets up
    /// its authenticator app when it first signs in.
    Create(OperatorCreate),
    /// Print every operator: {"items": [...]} (never a password or secret).
    List(OperatorList),
    /// Delete an operator (and end its sessions), by --id or --email.
    Delete(OperatorDelete),
}

#[derive(Args)]
pub(crate) struct OperatorCreate {
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input (required).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// owner (everything), admin (changes, except operators and admin
    /// tokens) or viewer (reads only).
    #[arg(long, default_value = "owner")]
    pub role: String,
    /// The one tenant an admin or viewer manages (default: every tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct OperatorList {
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "email"])))]
pub(crate) struct OperatorDelete {
    /// The operator's id (ids are base64url, so one may begin with '-').
    #[arg(long, allow_hyphen_values = true)]
    pub id: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}
