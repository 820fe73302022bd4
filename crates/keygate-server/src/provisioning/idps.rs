//! Upstream identity providers of a tenant (docs/federation.md): the
//! settings of a new upstream and of a change, checked by the rules of
//! `keygate_core::federation`, with the client secret sealed under the
//! master key; shared by `keygate idp` and the admin API.

use super::*;
use keygate_core::federation::{
    check_name, check_scope, check_url, ClaimMap, IdpKind, UpstreamIdp, SECRET_LABEL,
};
use keygate_crypto::sealing::MasterKey;

/// The longest client secret accepted, in bytes.
pub const MAX_IDP_SECRET_LEN: usize = 1024;

/// Most scopes an upstream may be asked for.
pub const MAX_IDP_SCOPES: usize = 50;

/// A client secret at an upstream: never shown in debug output, so a
/// request logged by mistake does not carry it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct IdpSecret(pub String);

impl std::fmt::Debug for IdpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpSecret(..)")
    }
}

/// Where the parts of a person's profile are in the upstream's claims: a
/// member name or a dotted path (`user.id`); absent parts keep their
/// current path (the defaults `sub`, `email`, `email_verified`, `name` for
/// a new upstream).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpClaims {
    /// The upstream's stable identifier of the person.
    #[serde(default)]
    #[schema(example = "id")]
    pub sub: Option<String>,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the upstream verified the address (empty: it never says).
    #[serde(default)]
    pub email_verified: Option<String>,
    /// The person's name.
    #[serde(default)]
    #[schema(example = "login")]
    pub name: Option<String>,
}

/// A new upstream identity provider.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdp {
    /// Shown on the sign-in page's button and named by `connection`:
    /// 1-64 characters, unique in the tenant.
    #[schema(example = "Google")]
    pub name: String,
    /// The upstream's issuer, exactly as it names itself: discovery starts
    /// here (`oidc`), and it is the first half of every identity it vouches
    /// for (both kinds; for GitHub, `https://github.com`).
    #[schema(example = "https://accounts.google.com")]
    pub issuer: String,
    /// Keygate's client ID at the upstream (1-255 printable characters).
    pub client_id: String,
    /// Keygate's client secret at the upstream (at most 1024 bytes); absent
    /// for a public client (PKCE only). Sealed at rest, never shown again.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<IdpSecret>,
    /// `oidc` (default) or `oauth2`.
    #[serde(default)]
    #[schema(example = "oidc")]
    pub kind: Option<String>,
    /// The scopes asked for [default: `openid email profile` for `oidc`,
    /// none for `oauth2`]; for `oidc` they must include `openid`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The authorization endpoint (`oauth2` only, required there).
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// The token endpoint (`oauth2` only, required there).
    #[serde(default)]
    pub token_url: Option<String>,
    /// Where the person is read with the access token (`oauth2` only,
    /// required there).
    #[serde(default)]
    pub userinfo_url: Option<String>,
    /// Where the profile is in the upstream's claims, over the defaults.
    #[serde(default)]
    pub claims: Option<IdpClaims>,
}

/// Changes to an upstream; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpPatch {
    /// A new name, unique in the tenant.
    #[serde(default)]
    pub name: Option<String>,
    /// A new issuer (identities already linked keep the old one).
    #[serde(default)]
    pub issuer: Option<String>,
    /// A new client ID at the upstream.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A new client secret; `null` removes it (a public client, PKCE only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Option<IdpSecret>>,
    /// `oidc` or `oauth2`. Changing it resets the scopes to the kind's
    /// default unless `scopes` is sent too; changing to `oidc` removes the
    /// configured endpoints.
    #[serde(default)]
    pub kind: Option<String>,
    /// The scopes asked for; replaces the whole list.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The authorization endpoint (`oauth2`); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub authorize_url: Option<Option<String>>,
    /// The token endpoint (`oauth2`); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub token_url: Option<Option<String>>,
    /// The userinfo URL (`oauth2`); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub userinfo_url: Option<Option<String>>,
    /// Claim paths to change; the others stay.
    #[serde(default)]
    pub claims: Option<IdpClaims>,
}

fn kind(raw: &str) -> Result<IdpKind> {
    IdpKind::parse(raw)
        .ok_or_else(|| ProvisionError::invalid("kind", format!("'{raw}': use oidc or oauth2")))
}

fn idp_name(raw: &str) -> Result<String> {
    check_name(raw).map_err(|e| ProvisionError::invalid("name", e))?;
    Ok(raw.to_string())
}

fn url(raw: &str, field: &'static str) -> Result<String> {
    if raw.len() > 2048 {
        return Err(ProvisionError::invalid(
            field,
            "longer than 2048 characters",
        ));
    }
    check_url(raw).map_err(|e| ProvisionError::invalid(field, format!("'{raw}': {e}")))?;
    Ok(raw.to_string())
}

fn client_id(raw: &str) -> Result<String> {
    let n = raw.chars().count();
    if n == 0 || n > 255 || !raw.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(ProvisionError::invalid(
            "client_id",
            "1-255 printable ASCII characters",
        ));
    }
    Ok(raw.to_string())
}

fn secret(raw: &IdpSecret) -> Result<&str> {
    let s = raw.0.as_str();
    if s.is_empty() || s.len() > MAX_IDP_SECRET_LEN || s.chars().any(char::is_control) {
        return Err(ProvisionError::invalid(
            "client_secret",
            format!("1-{MAX_IDP_SECRET_LEN} bytes without control characters"),
        ));
    }
    Ok(s)
}

fn scopes(raw: &[String]) -> Result<Vec<String>> {
    if raw.len() > MAX_IDP_SCOPES {
        return Err(ProvisionError::invalid(
            "scopes",
            format!("at most {MAX_IDP_SCOPES} scopes"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for s in raw {
        check_scope(s).map_err(|e| ProvisionError::invalid("scopes", format!("'{s}': {e}")))?;
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// The scopes asked for by default of a kind.
fn default_scopes(kind: IdpKind) -> Vec<String> {
    match kind {
        IdpKind::Oidc => ["openid", "email", "profile"].map(String::from).to_vec(),
        IdpKind::Oauth2 => Vec::new(),
    }
}

fn claims(mut map: ClaimMap, spec: &IdpClaims) -> Result<ClaimMap> {
    for (key, path) in [
        ("sub", &spec.sub),
        ("email", &spec.email),
        ("email_verified", &spec.email_verified),
        ("name", &spec.name),
    ] {
        if let Some(p) = path {
            map.set(key, p)
                .map_err(|e| ProvisionError::invalid("claims", e))?;
        }
    }
    Ok(map)
}

/// The rules that tie the fields together, on the upstream as it would be
/// stored: `oidc` asks for `openid` and discovers its endpoints; `oauth2`
/// has all three configured.
fn check_kind_rules(idp: &UpstreamIdp) -> Result<()> {
    let urls = [
        ("authorize_url", &idp.authorize_url),
        ("token_url", &idp.token_url),
        ("userinfo_url", &idp.userinfo_url),
    ];
    match idp.kind {
        IdpKind::Oidc => {
            if let Some((field, _)) = urls.iter().find(|(_, u)| u.is_some()) {
                return Err(ProvisionError::invalid(
                    field,
                    "oidc discovers its endpoints from the issuer; configure them only with kind oauth2",
                ));
            }
            if !idp.scopes.iter().any(|s| s == "openid") {
                return Err(ProvisionError::invalid(
                    "scopes",
                    "an oidc upstream must be asked for the openid scope",
                ));
            }
        }
        IdpKind::Oauth2 => {
            if let Some((field, _)) = urls.iter().find(|(_, u)| u.is_none()) {
                return Err(ProvisionError::invalid(
                    field,
                    "kind oauth2 needs authorize_url, token_url and userinfo_url",
                ));
            }
        }
    }
    Ok(())
}

fn opt_url(raw: &Option<String>, field: &'static str) -> Result<Option<String>> {
    raw.as_deref().map(|u| url(u, field)).transpose()
}

/// The upstream a request describes, checked (no I/O), with a new random
/// id, and its client secret still plain (to be sealed with
/// [`seal_idp_secret`]): the CLI refuses bad arguments before it opens
/// the database or the master key.
pub fn idp_from_spec(
    tenant: &str,
    spec: &NewIdp,
    now: i64,
) -> Result<(UpstreamIdp, Option<String>)> {
    let kind = kind(spec.kind.as_deref().unwrap_or("oidc"))?;
    let name = idp_name(&spec.name)?;
    let issuer = url(&spec.issuer, "issuer")?;
    let client_id = client_id(&spec.client_id)?;
    let secret = spec
        .client_secret
        .as_ref()
        .map(secret)
        .transpose()?
        .map(str::to_string);
    let scopes = match &spec.scopes {
        Some(s) => scopes(s)?,
        None => default_scopes(kind),
    };
    let idp = UpstreamIdp {
        tenant_id: tenant.to_string(),
        id: secrets::new_id(),
        name,
        kind,
        issuer,
        client_id,
        client_secret_sealed: None,
        scopes,
        authorize_url: opt_url(&spec.authorize_url, "authorize_url")?,
        token_url: opt_url(&spec.token_url, "token_url")?,
        userinfo_url: opt_url(&spec.userinfo_url, "userinfo_url")?,
        claims: match &spec.claims {
            Some(c) => claims(ClaimMap::default(), c)?,
            None => ClaimMap::default(),
        },
        created_at: now,
    };
    check_kind_rules(&idp)?;
    Ok((idp, secret))
}

/// The sealed form of an upstream's client secret (AES-256-GCM under the
/// master key, bound to [`SECRET_LABEL`]).
pub fn seal_idp_secret(master: &MasterKey, secret: &str) -> String {
    master.seal(SECRET_LABEL, secret.as_bytes())
}

/// [`idp_from_spec`] with the secret sealed: what the admin API calls.
pub fn new_idp(tenant: &str, spec: &NewIdp, now: i64, master: &MasterKey) -> Result<UpstreamIdp> {
    let (mut idp, secret) = idp_from_spec(tenant, spec, now)?;
    idp.client_secret_sealed = secret.map(|s| seal_idp_secret(master, &s));
    Ok(idp)
}

/// Stores a new upstream if its tenant exists; the tenant (for its
/// callback URIs).
pub async fn create_idp(store: &dyn Store, idp: &UpstreamIdp) -> Result<Tenant> {
    let tenant = existing_tenant(store, &idp.tenant_id).await?;
    store.create_idp(idp).await?;
    Ok(tenant)
}

fn no_idp(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("upstream identity provider '{id}' does not exist"))
}

/// The tenant and its stored upstream, or `NotFound`.
pub async fn existing_idp(
    store: &dyn Store,
    tenant: &str,
    id: &str,
) -> Result<(Tenant, UpstreamIdp)> {
    let t = existing_tenant(store, tenant).await?;
    let idp = store.get_idp(tenant, id).await?.ok_or_else(|| no_idp(id))?;
    Ok((t, idp))
}

/// The tenant and its upstreams, by name.
pub async fn list_idps(store: &dyn Store, tenant: &str) -> Result<(Tenant, Vec<UpstreamIdp>)> {
    let t = existing_tenant(store, tenant).await?;
    let idps = store.list_idps(tenant).await?;
    Ok((t, idps))
}

/// The upstream with the changes applied, checked (no I/O); the new
/// client secret, if one is set, still plain.
pub fn apply_idp_patch(
    idp: &UpstreamIdp,
    patch: &IdpPatch,
) -> Result<(UpstreamIdp, Option<String>)> {
    let mut out = idp.clone();
    let mut new_secret = None;
    if let Some(n) = &patch.name {
        out.name = idp_name(n)?;
    }
    if let Some(i) = &patch.issuer {
        out.issuer = url(i, "issuer")?;
    }
    if let Some(c) = &patch.client_id {
        out.client_id = client_id(c)?;
    }
    match &patch.client_secret {
        None => {}
        Some(None) => out.client_secret_sealed = None,
        Some(Some(s)) => new_secret = Some(secret(s)?.to_string()),
    }
    if let Some(k) = &patch.kind {
        let k = kind(k)?;
        if k != out.kind {
            out.kind = k;
            out.scopes = default_scopes(k);
            if k == IdpKind::Oidc {
                out.authorize_url = None;
                out.token_url = None;
                out.userinfo_url = None;
            }
        }
    }
    if let Some(s) = &patch.scopes {
        out.scopes = scopes(s)?;
    }
    for (field, given, slot) in [
        (
            "authorize_url",
            &patch.authorize_url,
            &mut out.authorize_url,
        ),
        ("token_url", &patch.token_url, &mut out.token_url),
        ("userinfo_url", &patch.userinfo_url, &mut out.userinfo_url),
    ] {
        if let Some(v) = given {
            *slot = opt_url(v, field)?;
        }
    }
    if let Some(c) = &patch.claims {
        out.claims = claims(out.claims, c)?;
    }
    check_kind_rules(&out)?;
    Ok((out, new_secret))
}

/// Applies the changes to a stored upstream, sealing a new secret under
/// `master`; the tenant and the upstream as now stored.
pub async fn update_idp(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    patch: &IdpPatch,
    master: Option<&MasterKey>,
) -> Result<(Tenant, UpstreamIdp)> {
    let (t, idp) = existing_idp(store, tenant, id).await?;
    let (mut after, secret) = apply_idp_patch(&idp, patch)?;
    if let Some(s) = secret {
        let master = master.ok_or_else(|| {
            ProvisionError::Store(StoreError::Backend(
                "sealing a client secret needs the master key".into(),
            ))
        })?;
        after.client_secret_sealed = Some(seal_idp_secret(master, &s));
    }
    if !store.update_idp(&after).await? {
        return Err(no_idp(id));
    }
    Ok((t, after))
}

/// Deletes an upstream; identities it linked stay with their users.
pub async fn delete_idp(store: &dyn Store, tenant: &str, id: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_idp(tenant, id).await? {
        return Err(no_idp(id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> NewIdp {
        NewIdp {
            name: "Google".into(),
            issuer: "https://accounts.google.com".into(),
            client_id: "abc.apps.googleusercontent.com".into(),
            ..Default::default()
        }
    }

    fn github() -> NewIdp {
        NewIdp {
            name: "GitHub".into(),
            issuer: "https://github.com".into(),
            client_id: "Iv1.x".into(),
            kind: Some("oauth2".into()),
            authorize_url: Some("https://github.com/login/oauth/authorize".into()),
            token_url: Some("https://github.com/login/oauth/access_token".into()),
            userinfo_url: Some("https://api.github.com/user".into()),
            claims: Some(IdpClaims {
                sub: Some("id".into()),
                name: Some("login".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn field_of(r: Result<(UpstreamIdp, Option<String>)>) -> &'static str {
        match r {
            Err(ProvisionError::Invalid { field: Some(f), .. }) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_by_kind() {
        let (g, secret) = idp_from_spec("acme", &spec(), 5).unwrap();
        assert_eq!(g.kind, IdpKind::Oidc);
        assert_eq!(g.scopes, vec!["openid", "email", "profile"]);
        assert_eq!(g.claims, ClaimMap::default());
        assert_eq!((secret, g.created_at), (None, 5));
        assert!(g.id.len() >= 22);
        let (h, _) = idp_from_spec("acme", &github(), 5).unwrap();
        assert!(h.scopes.is_empty());
        assert_eq!(
            (h.claims.sub.as_str(), h.claims.name.as_str()),
            ("id", "login")
        );
        assert_eq!(h.claims.email, "email");
        // The issuer is kept exactly as given.
        let mut s = spec();
        s.issuer = "https://login.example.com/tenant/".into();
        assert_eq!(
            idp_from_spec("acme", &s, 1).unwrap().0.issuer,
            "https://login.example.com/tenant/"
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let mut s = spec();
        s.scopes = Some(vec!["email".into()]);
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "scopes");
        let mut s = spec();
        s.authorize_url = Some("https://a.example/auth".into());
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "authorize_url");
        let mut s = github();
        s.token_url = None;
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "token_url");
        let mut s = spec();
        s.issuer = "http://idp.example.com".into();
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "issuer");
        let mut s = spec();
        s.kind = Some("saml".into());
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "kind");
        let mut s = spec();
        s.client_id = "".into();
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "client_id");
        let mut s = spec();
        s.client_secret = Some(IdpSecret("x".repeat(1025)));
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "client_secret");
        let mut s = spec();
        s.claims = Some(IdpClaims {
            sub: Some("a..b".into()),
            ..Default::default()
        });
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "claims");
        let mut s = spec();
        s.name = " Google".into();
        assert_eq!(field_of(idp_from_spec("a", &s, 1)), "name");
        let e = idp_from_spec(
            "a",
            &{
                let mut s = spec();
                s.scopes = Some(vec!["a b".into()]);
                s
            },
            1,
        )
        .unwrap_err();
        assert!(e.describe(Front::Cli).starts_with("--scope: "), "{e:?}");
    }

    #[test]
    fn secrets_are_sealed_and_debug_hides_them() {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap();
        let mut s = spec();
        s.client_secret = Some(IdpSecret("s3cret-value".into()));
        assert!(!format!("{s:?}").contains("s3cret-value"));
        let idp = new_idp("acme", &s, 1, &master).unwrap();
        let sealed = idp.client_secret_sealed.unwrap();
        assert!(!sealed.contains("s3cret-value"));
        assert_eq!(master.open(SECRET_LABEL, &sealed).unwrap(), b"s3cret-value");
    }

    #[test]
    fn patches() {
        let (g, _) = idp_from_spec("acme", &spec(), 1).unwrap();
        let mut sealed = g.clone();
        sealed.client_secret_sealed = Some("sealed".into());
        let (p, secret) = apply_idp_patch(
            &sealed,
            &IdpPatch {
                name: Some("Google Workspace".into()),
                claims: Some(IdpClaims {
                    email_verified: Some("".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.id.as_str()),
            ("Google Workspace", g.id.as_str())
        );
        assert_eq!(p.claims.email_verified, "");
        assert_eq!(p.claims.sub, "sub");
        assert_eq!(p.client_secret_sealed.as_deref(), Some("sealed"));
        assert_eq!(secret, None);
        let body: IdpPatch = serde_json::from_str(r#"{"client_secret": null}"#).unwrap();
        assert_eq!(
            apply_idp_patch(&sealed, &body)
                .unwrap()
                .0
                .client_secret_sealed,
            None
        );
        // Switching kind: oauth2 needs its endpoints, oidc drops them.
        let to_oauth2 = IdpPatch {
            kind: Some("oauth2".into()),
            ..Default::default()
        };
        assert!(apply_idp_patch(&g, &to_oauth2).is_err());
        let (h, _) = idp_from_spec("acme", &github(), 1).unwrap();
        let (o, _) = apply_idp_patch(
            &h,
            &IdpPatch {
                kind: Some("oidc".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((o.authorize_url, o.scopes.len()), (None, 3));
        assert!(serde_json::from_str::<IdpPatch>(r#"{"secret": "x"}"#).is_err());
    }
}
