//! What the benchmark runs against: a Keygate it started and provisioned
//! through the `keygate` CLI, or an external server found by discovery.

use super::*;

/// Provisions a tenant, the three clients and a user on a started server.
pub(crate) async fn provision(
    server: &ManagedServer,
    args: &Args,
    http: &Client,
) -> Result<Target> {
    let tenant = format!("bench-{}", random_hex(3));
    let r = args.redirect_uri.as_str();
    server.cli(&["tenant", "create", &tenant], None).await?;
    let mut alg: Vec<&str> = Vec::new();
    if args.alg != Alg::Rs256 {
        alg = vec!["--id-token-signed-response-alg", args.alg.as_str()];
    }
    let base = ["client", "create", "--tenant", tenant.as_str()];
    let public = server
        .cli(
            &[
                &base[..],
                &["--name", "bench-public", "--redirect-uri", r, "--public"],
                &alg,
            ]
            .concat(),
            None,
        )
        .await?;
    let conf = server
        .cli(
            &[
                &base[..],
                &[
                    "--name",
                    "bench-confidential",
                    "--redirect-uri",
                    r,
                    "--auth-method",
                    "client_secret_basic",
                    "--grant",
                    "authorization_code,refresh_token",
                    "--refresh-tokens",
                    "offline_access",
                ],
                &alg,
            ]
            .concat(),
            None,
        )
        .await?;
    let cc = server
        .cli(
            &[
                &base[..],
                &[
                    "--name",
                    "bench-cc",
                    "--redirect-uri",
                    r,
                    "--auth-method",
                    "client_secret_post",
                    "--grant",
                    "client_credentials",
                ],
                &alg,
            ]
            .concat(),
            None,
        )
        .await?;
    let email = format!("bench-{}@example.com", random_hex(4));
    let password = format!("{}-Aa1", random_b64(18));
    server
        .cli(
            &[
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                &email,
                "--name",
                "Bench User",
                "--password-stdin",
            ],
            Some(&password),
        )
        .await?;
    let issuer = format!("{}/{}/as", server.public_url, tenant);
    let (found, authz, token, userinfo) = discover(http, &issuer).await?;
    if found != issuer {
        eprintln!("warning: discovery says issuer {found}, expected {issuer}");
    }
    Ok(Target {
        issuer,
        authorization_endpoint: authz,
        token_endpoint: token,
        userinfo_endpoint: userinfo,
        redirect_uri: args.redirect_uri.clone(),
        public_client_id: Some(str_field(&public, "client_id")?),
        confidential: Some((
            str_field(&conf, "client_id")?,
            str_field(&conf, "client_secret")?,
        )),
        cc: Some((
            str_field(&cc, "client_id")?,
            str_field(&cc, "client_secret")?,
        )),
        user_email: Some(email),
        user_password: Some(password),
        authorize_params: parse_params(&args.authorize_params)?,
        jwt_access_tokens: true,
    })
}

pub(crate) fn parse_params(list: &[String]) -> Result<Vec<(String, String)>> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--authorize-param {p}: expected NAME=VALUE"))
        })
        .collect()
}

pub(crate) async fn external_target(args: &Args, http: &Client, issuer: &str) -> Result<Target> {
    let (found, authz, token, userinfo) = discover(http, issuer).await?;
    if found.trim_end_matches('/') != issuer.trim_end_matches('/') {
        eprintln!("warning: discovery says issuer {found}, given {issuer}");
    }
    let pair = |id: &Option<String>, s: &Option<String>| id.clone().zip(s.clone());
    Ok(Target {
        issuer: found,
        authorization_endpoint: authz,
        token_endpoint: token,
        userinfo_endpoint: userinfo,
        redirect_uri: args.redirect_uri.clone(),
        public_client_id: args.public_client_id.clone(),
        confidential: pair(
            &args.confidential_client_id,
            &args.confidential_client_secret,
        ),
        cc: pair(&args.cc_client_id, &args.cc_client_secret),
        user_email: args.user_email.clone(),
        user_password: args.user_password.clone(),
        authorize_params: parse_params(&args.authorize_params)?,
        jwt_access_tokens: args.jwt_access_tokens,
    })
}
