//! `keygate idp ...`: a tenant's upstream identity providers (docs/cli.md,
//! "Upstream identity providers").

use super::{DbArgs, PublicUrlArg};
use clap::{ArgGroup, Args, Subcommand};

#[derive(Subcommand)]
pub(crate) enum IdpCommand {
    /// Add an upstream identity provider; prints it as the admin API shows
    /// it, with the callback URIs to register at the upstream.
    Create(IdpCreate),
    /// Print every upstream of a tenant, in name order: {"idps": [...]}.
    List(IdpTenant),
    /// Print one upstream (never its client secret).
    Show(IdpRef),
    /// Change an upstream; prints it as now stored.
    Update(IdpUpdate),
    /// Delete an upstream; identities it linked stay with their users.
    Delete(IdpRef),
}

#[derive(Args)]
pub(crate) struct IdpCreate {
    #[arg(long)]
    pub tenant: String,
    /// Shown on the sign-in page's button and named by `connection=`
    /// (1-64 characters, unique in the tenant).
    #[arg(long)]
    pub name: String,
    /// The upstream's issuer, exactly as it names itself (https; http only
    /// on a loopback host). For oauth2, the name of the upstream
    /// (https://github.com).
    #[arg(long)]
    pub issuer: String,
    /// Keygate's client ID at the upstream.
    #[arg(long, allow_hyphen_values = true)]
    pub client_id: String,
    /// Read Keygate's client secret at the upstream from standard input
    /// (one line). Without it, a public client (PKCE only).
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// A scope to ask for (repeat for each) [default: openid email profile
    /// for oidc, none for oauth2].
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// oidc (endpoints by discovery, the person from the id_token) or
    /// oauth2 (configured endpoints, the person from the userinfo URL)
    /// [default: oidc]
    #[arg(long)]
    pub kind: Option<String>,
    /// The authorization endpoint (oauth2 only).
    #[arg(long)]
    pub authorize_url: Option<String>,
    /// The token endpoint (oauth2 only).
    #[arg(long)]
    pub token_url: Option<String>,
    /// Where the person is read with the access token (oauth2 only).
    #[arg(long)]
    pub userinfo_url: Option<String>,
    /// KEY=PATH: where a part of the profile is in the upstream's claims
    /// (KEY: sub, email, email_verified or name; PATH: a member or a dotted
    /// path); repeat for each.
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct IdpTenant {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct IdpRef {
    #[arg(long)]
    pub tenant: String,
    /// The upstream's id (as printed by `idp create`).
    #[arg(long, allow_hyphen_values = true)]
    pub id: String,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true).args([
    "name", "issuer", "client_id", "client_secret_stdin", "no_client_secret", "scopes",
    "kind", "authorize_url", "token_url", "userinfo_url", "claims",
])))]
pub(crate) struct IdpUpdate {
    #[arg(long)]
    pub tenant: String,
    /// The upstream's id.
    #[arg(long, allow_hyphen_values = true)]
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub issuer: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub client_id: Option<String>,
    /// Read a new client secret from standard input (one line).
    #[arg(long, conflicts_with = "no_client_secret")]
    pub client_secret_stdin: bool,
    /// Remove the client secret (a public client at the upstream, PKCE only).
    #[arg(long)]
    pub no_client_secret: bool,
    /// The scopes to ask for; replaces the whole list (repeat for each).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// oidc or oauth2; a change resets the scopes to the kind's default
    /// unless --scope is given, and a change to oidc removes the endpoints.
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub authorize_url: Option<String>,
    #[arg(long)]
    pub token_url: Option<String>,
    #[arg(long)]
    pub userinfo_url: Option<String>,
    /// KEY=PATH; the claims not named keep their path.
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}
