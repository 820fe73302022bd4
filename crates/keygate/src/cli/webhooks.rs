//! `keygate webhook ...`: a tenant's webhooks (docs/webhooks.md).

use super::DbArgs;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub(crate) enum WebhookCommand {
    /// Add a webhook; prints {"id", "secret"}, the signing secret shown this once.
    Create(WebhookCreate),
    /// Print a tenant's webhooks (never their secrets): {"webhooks": [...]}.
    List(WebhookTenant),
    /// Delete a webhook; its pending deliveries are dropped.
    Delete(WebhookRef),
    /// Print a webhook's latest deliveries, newest first: {"deliveries": [...]}.
    Deliveries(WebhookRef),
}

#[derive(Args)]
pub(crate) struct WebhookCreate {
    #[arg(long)]
    pub tenant: String,
    /// Where events are POSTed: https, or http on a loopback host.
    #[arg(long)]
    pub url: String,
    /// An event type to deliver (repeat for each) [default: every type].
    #[arg(long = "event")]
    pub events: Vec<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct WebhookTenant {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct WebhookRef {
    #[arg(long)]
    pub tenant: String,
    /// The id printed by `keygate webhook create`.
    #[arg(long, allow_hyphen_values = true)]
    pub id: String,
    #[command(flatten)]
    pub db: DbArgs,
}
