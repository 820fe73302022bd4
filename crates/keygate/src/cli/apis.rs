//! `keygate api ...` and a client's grants of APIs (docs/cli.md, "APIs").

use super::DbArgs;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub(crate) enum ApiCommand {
    /// Define an API (resource server); prints it as the admin API shows it.
    Create(ApiCreate),
    /// Print every API of a tenant: {"items": [...]}.
    List(ApiTenant),
    /// Print one API.
    Show(ApiRef),
    /// Change an API; prints it as now stored.
    Update(ApiUpdate),
    /// Delete an API and every client's grant of it.
    Delete(ApiRef),
}

#[derive(Args)]
pub(crate) struct ApiCreate {
    #[arg(long)]
    pub tenant: String,
    /// Its identifier: an absolute URI without a fragment, which clients
    /// send as `audience` or `resource` and which becomes its tokens' `aud`.
    #[arg(long)]
    pub identifier: String,
    /// A name for people [default: the identifier].
    #[arg(long)]
    pub name: Option<String>,
    /// A scope it defines (repeat for each).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Lifetime of its access tokens (DURATION, e.g. 15m) [default: each client's].
    #[arg(long)]
    pub access_token_ttl: Option<String>,
    /// RS256, ES256 or EdDSA for its access tokens [default: each client's].
    #[arg(long)]
    pub alg: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ApiTenant {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ApiRef {
    #[arg(long)]
    pub tenant: String,
    /// The API's identifier.
    pub identifier: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args([
    "name", "scopes", "access_token_ttl", "alg",
])))]
pub(crate) struct ApiUpdate {
    #[arg(long)]
    pub tenant: String,
    /// The API's identifier.
    pub identifier: String,
    #[arg(long)]
    pub name: Option<String>,
    /// The scopes it defines; replaces the whole list (repeat for each).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[arg(long)]
    pub access_token_ttl: Option<String>,
    #[arg(long)]
    pub alg: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ClientGrantArgs {
    #[arg(long)]
    pub tenant: String,
    /// The client's id.
    #[arg(long, allow_hyphen_values = true)]
    pub client: String,
    /// The API's identifier.
    #[arg(long)]
    pub api: String,
    /// A scope of the API to grant (repeat for each); replaces an earlier grant of the API.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ClientGrantRef {
    #[arg(long)]
    pub tenant: String,
    /// The client's id.
    #[arg(long, allow_hyphen_values = true)]
    pub client: String,
    /// The API's identifier.
    #[arg(long)]
    pub api: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ClientGrantsOf {
    #[arg(long)]
    pub tenant: String,
    /// The client's id.
    #[arg(long, allow_hyphen_values = true)]
    pub client: String,
    #[command(flatten)]
    pub db: DbArgs,
}
