//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Keygate's token-endpoint benchmark.
///
/// By default it starts `keygate serve` on a free loopback port with a fresh
/// SQLite database, provisions a tenant, three clients and a user through the
/// `keygate` CLI, obtains authorization codes and refresh tokens through the
/// real /authorize + hosted sign-in flow (untimed), then drives the timed
/// workloads and prints a table (and JSON with --json).
///
/// With --issuer it targets an already running server instead (the peer
/// comparison in bench/peer/run.sh) and provisions nothing.
#[derive(Parser, Debug, Clone)]
#[command(name = "keygate-bench", version, about, long_about = None)]
pub(crate) struct Args {
    /// The keygate binary to start (relative paths are tried from the
    /// current directory, then from the workspace root).
    #[arg(long, default_value = "target/release/keygate")]
    pub server: PathBuf,

    /// Start the server on this database (e.g. postgres://user:pw@127.0.0.1/db)
    /// instead of a fresh temporary SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,

    /// Concurrent in-flight requests (one connection each).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,

    /// Requests per workload (default 5000; ignored with --duration).
    #[arg(long)]
    pub requests: Option<u64>,

    /// Run each workload for this many seconds instead of a request count.
    #[arg(long)]
    pub duration: Option<f64>,

    /// Workloads to run, comma-separated: w1 (authorization_code + PKCE,
    /// public client), w2 (refresh_token rotation, client_secret_basic),
    /// w3 (client_credentials, client_secret_post), w4 (userinfo).
    #[arg(long, value_delimiter = ',', default_value = "w1,w2,w3,w4")]
    pub workloads: Vec<Workload>,

    /// Signing algorithm of the provisioned clients (id_token and access token).
    #[arg(long, value_enum, default_value = "RS256")]
    pub alg: Alg,

    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// A name for this run in the report (default: "keygate" or the issuer).
    #[arg(long)]
    pub label: Option<String>,

    /// Worker threads of the load generator's runtime. One thread drives
    /// thousands of requests per second and leaves the other core(s) to the
    /// server on a small machine.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,

    /// Seconds spent measuring the machine's signing rate.
    #[arg(long, default_value_t = 2.0)]
    pub sign_seconds: f64,

    /// Authorization codes to prepare for W1 in --duration mode (default:
    /// estimated from the signing floor; W1 stops early when they run out).
    #[arg(long)]
    pub w1_codes: Option<usize>,

    /// Lifetime of authorization codes given to the started server
    /// (KEYGATE_CODE_TTL, seconds, at most 600).
    #[arg(long, default_value_t = 600)]
    pub code_ttl: u64,

    /// The started server's per-client token-endpoint rate limit
    /// (KEYGATE_TOKEN_RATE_LIMIT): `off`, or requests per second per client
    /// (e.g. 1000000, never reached, to measure what the limiter costs).
    #[arg(long, default_value = "off")]
    pub token_rate_limit: String,

    /// Scope requested for W1 codes and W2's initial refresh tokens.
    #[arg(long, default_value = "openid profile email offline_access")]
    pub scope: String,

    /// Scope requested for the access tokens W4 presents at userinfo.
    #[arg(long, default_value = "openid profile email")]
    pub userinfo_scope: String,

    /// Concurrent /authorize flows and code exchanges in the untimed setup.
    #[arg(long, default_value_t = 8)]
    pub setup_parallelism: usize,

    /// Sessions (sign-ins) used in the setup; default 1 on Keygate, one per
    /// concurrent flow with --issuer.
    #[arg(long)]
    pub setup_sessions: Option<usize>,

    /// Requests of each hostile kind sent after the workloads (an ordinary
    /// client_credentials request, then bodies of thousands of parameters
    /// or scope values and unique 60 KB client ids), reported as the
    /// server's CPU per request against the ordinary one; 0 skips them.
    #[arg(long, default_value_t = 1000)]
    pub hostile: usize,

    /// Keep the temporary folder (database, server log) of a started server.
    #[arg(long)]
    pub keep: bool,

    // ----- external target mode -----
    /// External target mode: the issuer of an already running server
    /// (loopback only); endpoints come from its discovery document.
    #[arg(long, help_heading = "External target")]
    pub issuer: Option<String>,

    /// Public client (PKCE, token_endpoint_auth_method none) for W1 and W4.
    #[arg(long, help_heading = "External target")]
    pub public_client_id: Option<String>,

    /// Confidential client (client_secret_basic, refresh tokens) for W2.
    #[arg(long, help_heading = "External target")]
    pub confidential_client_id: Option<String>,
    #[arg(long, help_heading = "External target")]
    pub confidential_client_secret: Option<String>,

    /// client_credentials client (client_secret_post) for W3.
    #[arg(long, help_heading = "External target")]
    pub cc_client_id: Option<String>,
    #[arg(long, help_heading = "External target")]
    pub cc_client_secret: Option<String>,

    /// The account the tool signs in with on the target's interaction pages.
    #[arg(long, help_heading = "External target")]
    pub user_email: Option<String>,
    #[arg(long, help_heading = "External target")]
    pub user_password: Option<String>,

    /// Redirect URI registered for the public and confidential clients.
    #[arg(
        long,
        help_heading = "External target",
        default_value = "http://127.0.0.1:9/callback"
    )]
    pub redirect_uri: String,

    /// PID of the target server process, to sample its memory and CPU.
    #[arg(long, help_heading = "External target")]
    pub server_pid: Option<u32>,

    /// Extra authorization request parameter NAME=VALUE (repeatable), e.g.
    /// prompt=consent, which oidc-provider needs to grant offline_access.
    #[arg(
        long = "authorize-param",
        value_name = "NAME=VALUE",
        help_heading = "External target"
    )]
    pub authorize_params: Vec<String>,

    /// Require access tokens to be JWTs (always on for Keygate).
    #[arg(long, help_heading = "External target")]
    pub jwt_access_tokens: bool,

    // ----- comparison -----
    /// Print two JSON reports (written with --json) side by side with the
    /// ratio A/B, and exit.
    #[arg(long, num_args = 2, value_names = ["A_JSON", "B_JSON"], help_heading = "Comparison")]
    pub compare: Option<Vec<PathBuf>>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Workload {
    W1,
    W2,
    /// W2 with a DPoP proof (RFC 9449) on every request; not in the default set.
    #[value(name = "w2-dpop")]
    #[serde(rename = "w2-dpop")]
    W2Dpop,
    W3,
    W4,
}

impl Workload {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::W1 => "w1",
            Workload::W2 => "w2",
            Workload::W2Dpop => "w2-dpop",
            Workload::W3 => "w3",
            Workload::W4 => "w4",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Workload::W1 => "authorization_code + PKCE (public client)",
            Workload::W2 => "refresh_token rotation (client_secret_basic)",
            Workload::W2Dpop => "refresh_token rotation with a DPoP proof (client_secret_basic)",
            Workload::W3 => "client_credentials (client_secret_post)",
            Workload::W4 => "userinfo (Bearer access token)",
        }
    }

    /// Signatures the server makes per request: id_token + access token for
    /// W1 and W2, the access token for W3, none for W4.
    pub(crate) fn signatures(self) -> u32 {
        match self {
            Workload::W1 | Workload::W2 | Workload::W2Dpop => 2,
            Workload::W3 => 1,
            Workload::W4 => 0,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Alg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}
