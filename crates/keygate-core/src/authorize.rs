//! The authorization request (RFC 6749 4.1.1, RFC 7636 4.3, OpenID Connect
//! Core 3.1.2.1) and where its errors go.
//!
//! An error that cannot be trusted to reach the right application (no or an
//! unknown `client_id`, a `redirect_uri` that is not registered, a request
//! that cannot be parsed) is shown on a page and never redirected; every
//! other error is redirected to the registered URI with `error`,
//! `error_description` and `state` (RFC 6749 4.1.2.1).

use crate::error::{ErrorCode, OAuthError};
use crate::model::{Api, Client, GrantType, PkcePolicy, Session};
use crate::params::Params;
use crate::pkce::{self, CodeChallengeMethod};
use crate::scope::Scope;

/// Upper bound on `state`, `nonce` and `login_hint`, so a hostile request
/// cannot make us store or echo unbounded text.
pub const MAX_PARAM_LEN: usize = 2048;

/// A validated authorization request (RFC 6749 4.1.1), ready for the sign-in decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The requesting client, known to the tenant.
    pub client_id: String,
    /// Where the code (or an error) goes: the one sent, or the client's only registered URI.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request; then /token must repeat it (RFC 6749 4.1.3).
    pub redirect_uri_sent: bool,
    /// The requested scope, already checked to be one a person can grant.
    pub scope: Scope,
    /// The client's `state`, returned untouched with the code or error (RFC 6749 4.1.2).
    pub state: Option<String>,
    /// The `nonce` to put in the id_token (OpenID Connect Core 3.1.2.1).
    pub nonce: Option<String>,
    /// The PKCE challenge (RFC 7636 4.3), if sent; public clients must send one.
    pub code_challenge: Option<String>,
    /// The challenge's method; `plain` when a challenge came without one (RFC 7636 4.3).
    pub code_challenge_method: Option<CodeChallengeMethod>,
    /// `prompt=none`: never show a page; fail with `login_required` if the person must sign in.
    pub prompt_none: bool,
    /// `prompt=login`: make the person sign in again even with a live session.
    pub prompt_login: bool,
    /// `prompt=consent`: ask a third-party client's person again.
    pub prompt_consent: bool,
    /// `max_age`: the oldest sign-in, in seconds, the client accepts (0 acts as `prompt=login`).
    pub max_age: Option<i64>,
    /// `login_hint`: prefills the e-mail field of the sign-in page.
    pub login_hint: Option<String>,
    /// The API the tokens are for (`resource` or `audience`): its
    /// identifier, the access token's `aud`.
    pub resource: Option<String>,
    /// The `acr_values` value that demands a second factor
    /// ([`crate::amr::MFA_ACR_VALUES`]), if the request sent one; the
    /// id_token's `acr` when the sign-in satisfied it.
    pub acr_mfa: Option<&'static str>,
    /// Whether this request needs a multi-factor sign-in: `acr_values`
    /// demands one or the client requires it (`require_mfa`).
    pub needs_mfa: bool,
    /// The person's claims the `claims` parameter named (OpenID Connect
    /// Core 5.5), per place; kept with the grant.
    pub claims: crate::claims_request::RequestedClaims,
    /// `dpop_jkt` (RFC 9449 10): the thumbprint of the DPoP key the code
    /// is bound to; the token request must carry a proof by that key.
    pub dpop_jkt: Option<String>,
    /// The SHA-256 of the `request_uri` when the request was pushed
    /// (RFC 9126); set by the server, which uses it up with the code.
    pub pushed: Option<String>,
    /// How the answer (code or error) goes back to the client.
    pub response_mode: ResponseMode,
}

impl AuthorizeRequest {
    /// An error of this request for its redirect URI, sent by its response mode.
    pub fn error_redirect(&self, error: OAuthError) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            state: self.state.clone(),
            response_mode: self.response_mode,
        }
    }
}

/// How the authorization response's parameters reach the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// In the redirect URI's query (RFC 6749 4.1.2), by a 303 redirect: the
    /// default of `response_type=code` (OAuth 2.0 Multiple Response Type
    /// Encoding Practices 2.1).
    #[default]
    Query,
    /// In the body of a POST to the redirect URI, sent by an HTML page that
    /// submits a form (OAuth 2.0 Form Post Response Mode 2): the code
    /// stays out of URLs, browser history and `Referer` headers.
    FormPost,
}

impl ResponseMode {
    /// Every mode, as discovery lists them (`response_modes_supported`).
    pub const ALL: [&'static str; 2] = ["query", "form_post"];

    /// The mode `response_mode` asks for (absent: `query`), or why it is refused.
    pub fn parse(raw: Option<&str>) -> Result<ResponseMode, String> {
        match raw {
            None | Some("query") => Ok(ResponseMode::Query),
            Some("form_post") => Ok(ResponseMode::FormPost),
            // Multiple Response Type Encoding Practices 2.1 allows it for
            // code, but a fragment reaches only scripts, and RFC 9700
            // 4.3.1 prefers the code out of reach of them.
            Some("fragment") => {
                Err("response_mode=fragment is not supported; use query or form_post".into())
            }
            Some(m) if m.ends_with("jwt") => Err(format!(
                "response_mode={} (JWT-secured responses) is not supported; use query or form_post",
                m.chars().take(32).collect::<String>()
            )),
            Some(m) => Err(format!(
                "response_mode '{}' is not known; use query or form_post",
                m.chars().take(32).collect::<String>()
            )),
        }
    }

    /// The mode, if it can answer at `redirect_uri`: a browser posts
    /// forms over http(s) only, so `form_post` needs such a URI (a native
    /// app's private-use scheme is answered by query).
    pub fn fits(self, redirect_uri: &str) -> Result<ResponseMode, String> {
        let web = ["https://", "http://"].iter().any(|s| {
            redirect_uri
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        });
        match self {
            ResponseMode::FormPost if !web => {
                Err("response_mode=form_post needs an http or https redirect_uri; use query".into())
            }
            m => Ok(m),
        }
    }

    /// The mode's name as `response_mode` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }
}

/// An error to redirect to the client (RFC 6749 4.1.2.1) rather than show on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The registered redirect URI the error goes to.
    pub redirect_uri: String,
    /// The `error` and `error_description` to send.
    pub error: OAuthError,
    /// The request's `state`, echoed back (dropped if longer than [`MAX_PARAM_LEN`]).
    pub state: Option<String>,
    /// How the error goes back: the request's own mode, once it is known to
    /// be a valid one (an unknown mode's error goes by query).
    pub response_mode: ResponseMode,
}

/// Why an authorization request was refused, and so where the refusal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on an error page: the redirect target is not trusted.
    Page(String),
    /// Sent back to the application's registered redirect URI.
    Redirect(ErrorRedirect),
}

/// Finds the redirect URI to use: the one sent, if registered exactly, or
/// the only registered one when none was sent.
pub fn resolve_redirect_uri(p: &Params, client: &Client) -> Result<(String, bool), String> {
    match p.get("redirect_uri") {
        Some(r) if crate::redirect::is_registered(&client.redirect_uris, r) => {
            Ok((r.to_string(), true))
        }
        Some(_) => Err("The redirect_uri is not registered for this application.".into()),
        None if client.redirect_uris.len() == 1 => Ok((client.redirect_uris[0].clone(), false)),
        None => Err(
            "The redirect_uri parameter is missing and this application registered several.".into(),
        ),
    }
}

/// Validates an authorization request for `client` (looked up by the
/// caller from the request's `client_id`, `None` when unknown) and `api`
/// (the tenant's API the request names by `resource` or `audience`, looked
/// up by the caller with [`crate::resource::named`]; `None` when it names
/// none or an unknown one).
pub fn validate(
    p: &Params,
    client: Option<&Client>,
    api: Option<&Api>,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let Some(client_id) = p.get("client_id") else {
        return Err(AuthorizeError::Page(
            "The client_id parameter is missing.".into(),
        ));
    };
    let Some(client) = client.filter(|c| c.id == client_id) else {
        return Err(AuthorizeError::Page(
            "The application (client_id) is not known.".into(),
        ));
    };
    let (redirect_uri, redirect_uri_sent) =
        resolve_redirect_uri(p, client).map_err(AuthorizeError::Page)?;
    let state = p.get("state").map(str::to_string);
    // The mode is known before any error is redirected, so every error of
    // a form_post request is posted too (Form Post Response Mode 2).
    let mode = ResponseMode::parse(p.get("response_mode")).and_then(|m| m.fits(&redirect_uri));
    let response_mode = mode.clone().unwrap_or_default();
    let fail = |code: ErrorCode, description: String| {
        let state = state.clone().filter(|s| s.len() <= MAX_PARAM_LEN);
        AuthorizeError::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error: OAuthError::new(code, description),
            state,
            response_mode,
        })
    };
    let invalid = |d: &str| fail(ErrorCode::InvalidRequest, d.to_string());

    for name in ["state", "nonce", "login_hint"] {
        if p.get(name).is_some_and(|v| v.len() > MAX_PARAM_LEN) {
            return Err(invalid(&format!(
                "{name} is longer than {MAX_PARAM_LEN} characters"
            )));
        }
    }
    if p.contains("request") {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported".into(),
        ));
    }
    if p.contains("request_uri") {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported".into(),
        ));
    }
    match p.get("response_type") {
        None => return Err(invalid("the response_type parameter is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ))
        }
    }
    if let Err(why) = mode {
        return Err(invalid(&why));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow".into(),
        ));
    }
    let api =
        crate::resource::resolve(p, api).map_err(|e| fail(e.code, e.description.into_owned()))?;
    let scope = crate::resource::user_scope(p.get("scope").unwrap_or(""), api)
        .map_err(|e| fail(e.code, e.description.into_owned()))?;

    let code_challenge = p.get("code_challenge").map(str::to_string);
    let code_challenge_method = match (&code_challenge, p.get("code_challenge_method")) {
        (None, Some(_)) => {
            return Err(invalid(
                "code_challenge_method was sent without code_challenge",
            ))
        }
        (None, None) => None,
        (Some(_), None) => Some(CodeChallengeMethod::Plain),
        (Some(_), Some(m)) => Some(
            CodeChallengeMethod::parse(m)
                .ok_or_else(|| invalid("code_challenge_method must be S256 or plain"))?,
        ),
    };
    if let Some(c) = &code_challenge {
        if !pkce::is_valid_verifier(c) {
            return Err(invalid(
                "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
    } else if client.public {
        return Err(invalid("public clients must send a code_challenge (PKCE)"));
    }
    // RFC 9700 2.1.1: S256. A public client has nothing else binding the
    // code to it, so `plain` (which an omitted method means, RFC 7636 4.3)
    // is only for clients registered with `--pkce plain-allowed`.
    if client.public
        && code_challenge_method == Some(CodeChallengeMethod::Plain)
        && client.pkce != PkcePolicy::PlainAllowed
    {
        return Err(invalid(
            "this client must use PKCE with code_challenge_method=S256 \
             (plain, also meant by an omitted method, is not allowed)",
        ));
    }

    // OpenID Connect Core 3.1.2.1. `consent` asks a third-party client's
    // person again (first-party clients never ask: `crate::consent`);
    // `select_account` needs nothing: a browser holds one session per
    // tenant, so the account is already chosen (`prompt=login` signs in
    // afresh).
    // `display`, `ui_locales` and `claims_locales` are optional hints
    // (3.1.2.1, 5.5.1.1) that are accepted and not acted on; `acr_values`
    // demands a second factor when it names one of
    // `crate::amr::MFA_ACR_VALUES` (others are voluntary and ignored);
    // `login_hint` fills in the e-mail field; other parameters are ignored
    // (RFC 6749 3.1: "MUST ignore unrecognized request parameters").
    let mut prompt_none = false;
    let mut prompt_login = false;
    let mut prompt_consent = false;
    let mut prompts = 0;
    for v in p
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        prompts += 1;
        match v {
            "none" => prompt_none = true,
            "login" => prompt_login = true,
            "consent" => prompt_consent = true,
            "select_account" => {}
            other => {
                return Err(invalid(&format!(
                    "prompt '{}' is not supported; use none, login, consent or select_account",
                    other.chars().take(32).collect::<String>()
                )))
            }
        }
    }
    if prompt_none && prompts > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    let claims =
        crate::claims_request::parse(p.get("claims")).map_err(|e| invalid(&e.to_string()))?;
    // An essential `acr` in `claims` demands a second factor as
    // `acr_values` does; `acr_values` wins when both name one.
    let acr_mfa = crate::amr::demanded_mfa(p.get("acr_values")).or(claims.acr_mfa);
    let dpop_jkt = match p.get("dpop_jkt") {
        None => None,
        Some(j) if crate::dpop::is_jkt(j) => Some(j.to_string()),
        Some(_) => {
            return Err(invalid(
                "dpop_jkt must be a JWK SHA-256 thumbprint in base64url (RFC 9449 10)",
            ))
        }
    };
    let max_age =
        match p.get("max_age") {
            None => None,
            Some(m) => Some(m.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                invalid("max_age must be a non-negative whole number of seconds")
            })?),
        };
    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_sent,
        scope,
        state,
        nonce: p.get("nonce").map(str::to_string),
        code_challenge,
        code_challenge_method,
        prompt_none,
        prompt_login,
        prompt_consent,
        max_age,
        login_hint: p.get("login_hint").map(str::to_string),
        resource: api.map(|a| a.identifier.clone()),
        acr_mfa,
        needs_mfa: client.require_mfa || acr_mfa.is_some(),
        claims: claims.claims,
        dpop_jkt,
        pushed: None,
        response_mode,
    })
}

/// What /authorize does next for a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// The session is good enough: issue a code for this person.
    IssueCode {
        /// The person signed in to the session.
        user_sub: String,
        /// When they signed in, for the grant and the id_token.
        auth_time: i64,
    },
    /// The session is fresh enough but lacks the second factor this
    /// request needs: ask for it (step up), then issue a code.
    SecondFactor {
        /// The person signed in to the session.
        user_sub: String,
    },
    /// Show the sign-in page.
    SignIn,
    /// `prompt=none` but the person must sign in: redirect this error.
    Fail(ErrorRedirect),
}

/// Decides from the live session (already checked for expiry and tenant)
/// whether the person must sign in (OpenID Connect Core 3.1.2.3) or give
/// a second factor. `needs_mfa` is whether this request needs a
/// multi-factor sign-in (the request's own demand, or the tenant's policy).
pub fn next_step(
    req: &AuthorizeRequest,
    session: Option<&Session>,
    now: i64,
    needs_mfa: bool,
) -> NextStep {
    // max_age=0 is equivalent to prompt=login (OpenID Connect Core 3.1.2.1):
    // within the same second, `now - auth_time <= 0` would let it through.
    let fresh_enough = |s: &Session| {
        req.max_age
            .is_none_or(|max| max > 0 && now - s.auth_time <= max)
    };
    let multi_factor = |s: &Session| !needs_mfa || crate::amr::amr_is_multi_factor(&s.amr);
    match session {
        Some(s) if !req.prompt_login && fresh_enough(s) && multi_factor(s) => NextStep::IssueCode {
            user_sub: s.user_sub.clone(),
            auth_time: s.auth_time,
        },
        // A second factor needs the person: never without a page.
        Some(s) if req.prompt_none && fresh_enough(s) => {
            NextStep::Fail(req.error_redirect(OAuthError::new(
                ErrorCode::InteractionRequired,
                "the user must give a second factor",
            )))
        }
        Some(s) if !req.prompt_login && fresh_enough(s) => NextStep::SecondFactor {
            user_sub: s.user_sub.clone(),
        },
        _ if req.prompt_none => NextStep::Fail(req.error_redirect(OAuthError::new(
            ErrorCode::LoginRequired,
            "the user must sign in",
        ))),
        _ => NextStep::SignIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(public: bool, uris: &[&str]) -> Client {
        Client {
            public,
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            ..Client::example()
        }
    }

    fn run(q: &str, c: &Client) -> Result<AuthorizeRequest, AuthorizeError> {
        validate(
            &Params::from_urlencoded(q.as_bytes()).unwrap(),
            Some(c),
            None,
        )
    }

    fn redirect_code(r: Result<AuthorizeRequest, AuthorizeError>) -> &'static str {
        match r {
            Err(AuthorizeError::Redirect(e)) => e.error.code.as_str(),
            Err(AuthorizeError::Page(_)) => "page",
            Ok(_) => "ok",
        }
    }

    #[test]
    fn page_errors_never_redirect() {
        let c = client(false, &["https://app/cb", "https://app/two"]);
        assert_eq!(redirect_code(run("response_type=code", &c)), "page");
        assert_eq!(
            redirect_code(validate(
                &Params::from_urlencoded(b"client_id=zz&response_type=code").unwrap(),
                None,
                None
            )),
            "page"
        );
        assert_eq!(
            redirect_code(run(
                "client_id=c1&response_type=code&redirect_uri=https://evil/cb",
                &c
            )),
            "page"
        );
        assert_eq!(
            redirect_code(run(
                "client_id=c1&response_type=code&redirect_uri=https://app/cb/",
                &c
            )),
            "page"
        );
        assert_eq!(
            redirect_code(run("client_id=c1&response_type=code", &c)),
            "page",
            "several registered, none sent"
        );
        let one = client(false, &["https://app/cb"]);
        let ok = run("client_id=c1&response_type=code", &one).unwrap();
        assert_eq!(
            (ok.redirect_uri.as_str(), ok.redirect_uri_sent),
            ("https://app/cb", false)
        );
    }

    #[test]
    fn redirected_errors() {
        let c = client(true, &["https://app/cb"]);
        let base = format!("client_id=c1&redirect_uri=https://app/cb&code_challenge={CH}&code_challenge_method=S256&state=xyz");
        assert_eq!(
            redirect_code(run(&format!("{base}&response_type=code&scope=openid"), &c)),
            "ok"
        );
        assert_eq!(redirect_code(run(&base, &c)), "invalid_request");
        assert_eq!(
            redirect_code(run(&format!("{base}&response_type=token"), &c)),
            "unsupported_response_type"
        );
        assert_eq!(
            redirect_code(run(
                &format!("{base}&response_type=code&scope=openid+admin"),
                &c
            )),
            "invalid_scope"
        );
        assert_eq!(
            redirect_code(run(
                &format!("{base}&response_type=code&prompt=consent+none"),
                &c
            )),
            "invalid_request"
        );
        assert_eq!(
            redirect_code(run(&format!("{base}&response_type=code&prompt=bogus"), &c)),
            "invalid_request"
        );
        assert_eq!(
            redirect_code(run(
                &format!("{base}&response_type=code&prompt=none+login"),
                &c
            )),
            "invalid_request"
        );
        assert_eq!(
            redirect_code(run(&format!("{base}&response_type=code&max_age=-1"), &c)),
            "invalid_request"
        );
        assert_eq!(
            redirect_code(run(&format!("{base}&response_type=code&request=x"), &c)),
            "request_not_supported"
        );
        assert_eq!(
            redirect_code(run(
                &format!("{base}&response_type=code&response_mode=fragment"),
                &c
            )),
            "invalid_request"
        );
        let r = run("client_id=c1&response_type=code&state=s1", &c);
        match r {
            Err(AuthorizeError::Redirect(e)) => {
                assert_eq!(e.state.as_deref(), Some("s1"));
                assert!(e.error.description.contains("PKCE"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            redirect_code(run(
                "client_id=c1&response_type=code&code_challenge=short",
                &c
            )),
            "invalid_request"
        );
        assert_eq!(redirect_code(run(&format!("client_id=c1&response_type=code&code_challenge={CH}&code_challenge_method=S512"), &c)), "invalid_request");
        assert_eq!(
            redirect_code(run(
                "client_id=c1&response_type=code&code_challenge_method=S256",
                &client(false, &["https://app/cb"])
            )),
            "invalid_request"
        );
        let mut cc = client(false, &["https://app/cb"]);
        cc.grant_types = vec![GrantType::ClientCredentials];
        assert_eq!(
            redirect_code(run("client_id=c1&response_type=code", &cc)),
            "unauthorized_client"
        );
    }

    /// OAuth 2.0 Form Post Response Mode: `form_post` is accepted and kept
    /// with the request; every error of such a request is posted too; a
    /// mode Keygate does not answer in is refused, by query.
    #[test]
    fn response_modes() {
        let c = client(false, &["https://app/cb"]);
        let base = "client_id=c1&response_type=code&state=s";
        assert_eq!(run(base, &c).unwrap().response_mode, ResponseMode::Query);
        assert_eq!(
            run(&format!("{base}&response_mode=query"), &c)
                .unwrap()
                .response_mode,
            ResponseMode::Query
        );
        let posted = run(&format!("{base}&response_mode=form_post"), &c).unwrap();
        assert_eq!(posted.response_mode, ResponseMode::FormPost);
        let e = posted.error_redirect(OAuthError::new(ErrorCode::AccessDenied, "no"));
        assert_eq!(
            (e.response_mode, e.state.as_deref(), e.redirect_uri.as_str()),
            (ResponseMode::FormPost, Some("s"), "https://app/cb")
        );
        for bad in [
            "client_id=c1&response_mode=form_post&state=s",
            "client_id=c1&response_type=token&response_mode=form_post&state=s",
            "client_id=c1&response_type=code&response_mode=form_post&state=s&prompt=bogus",
        ] {
            match run(bad, &c) {
                Err(AuthorizeError::Redirect(e)) => {
                    assert_eq!(e.response_mode, ResponseMode::FormPost, "{bad}");
                    assert_eq!(e.state.as_deref(), Some("s"));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        for mode in [
            "fragment",
            "form_post.jwt",
            "query.jwt",
            "jwt",
            "FORM_POST",
            "web_message",
            "form_post ",
        ] {
            let q = format!("{base}&response_mode={}", mode.replace(' ', "+"));
            match run(&q, &c) {
                Err(AuthorizeError::Redirect(e)) => {
                    assert_eq!(e.error.code, ErrorCode::InvalidRequest, "{mode}");
                    assert_eq!(e.response_mode, ResponseMode::Query, "{mode}");
                    assert!(
                        e.error.description.contains("response_mode"),
                        "{mode}: {}",
                        e.error.description
                    );
                    assert!(e.error.description.contains("form_post"));
                }
                other => panic!("{mode}: {other:?}"),
            }
        }
        // A native app's private-use scheme cannot be posted to.
        let app = client(true, &["com.example.app:/cb"]);
        match run(
            &format!("client_id=c1&response_type=code&response_mode=form_post&state=s&code_challenge={CH}&code_challenge_method=S256"),
            &app,
        ) {
            Err(AuthorizeError::Redirect(e)) => {
                assert_eq!(e.response_mode, ResponseMode::Query);
                assert!(e.error.description.contains("http or https"), "{}", e.error.description);
            }
            other => panic!("{other:?}"),
        }
        // An untrusted redirect URI is never posted to either.
        assert_eq!(
            redirect_code(run(
                "client_id=c1&response_type=code&response_mode=form_post&redirect_uri=https://evil/cb",
                &c
            )),
            "page"
        );
        // prompt=none's refusals keep the mode.
        let none = run(&format!("{base}&response_mode=form_post&prompt=none"), &c).unwrap();
        match next_step(&none, None, 0, false) {
            NextStep::Fail(e) => assert_eq!(e.response_mode, ResponseMode::FormPost),
            other => panic!("{other:?}"),
        }
        assert_eq!(ResponseMode::ALL, ["query", "form_post"]);
        for m in ResponseMode::ALL {
            assert_eq!(ResponseMode::parse(Some(m)).unwrap().as_str(), m);
        }
    }

    #[test]
    fn plain_is_the_default_method() {
        let mut c = client(true, &["https://app/cb"]);
        c.pkce = PkcePolicy::PlainAllowed;
        let r = run(
            &format!("client_id=c1&response_type=code&code_challenge={CH}"),
            &c,
        )
        .unwrap();
        assert_eq!(r.code_challenge_method, Some(CodeChallengeMethod::Plain));
    }

    /// RFC 9700 2.1.1: a public client must use S256 unless it was
    /// registered with `--pkce plain-allowed`; confidential clients may
    /// use plain.
    #[test]
    fn public_clients_need_s256() {
        let plain = format!("client_id=c1&response_type=code&state=s&code_challenge={CH}&code_challenge_method=plain");
        let omitted = format!("client_id=c1&response_type=code&state=s&code_challenge={CH}");
        let s256 = format!("{omitted}&code_challenge_method=S256");
        let public = client(true, &["https://app/cb"]);
        for q in [&plain, &omitted] {
            match run(q, &public) {
                Err(AuthorizeError::Redirect(e)) => {
                    assert_eq!(e.error.code, ErrorCode::InvalidRequest);
                    assert!(
                        e.error.description.contains("S256"),
                        "{}",
                        e.error.description
                    );
                    assert_eq!(e.state.as_deref(), Some("s"));
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        assert_eq!(
            run(&s256, &public).unwrap().code_challenge_method,
            Some(CodeChallengeMethod::S256)
        );
        let mut allowed = public.clone();
        allowed.pkce = PkcePolicy::PlainAllowed;
        for q in [&plain, &omitted] {
            assert_eq!(
                run(q, &allowed).unwrap().code_challenge_method,
                Some(CodeChallengeMethod::Plain)
            );
        }
        let confidential = client(false, &["https://app/cb"]);
        for q in [&plain, &omitted] {
            assert_eq!(redirect_code(run(q, &confidential)), "ok");
        }
    }

    #[test]
    fn dpop_jkt_binds_the_code_to_a_key() {
        // RFC 9449 10: a thumbprint is kept for the grant; anything else is
        // invalid_request at the redirect URI.
        let c = client(false, &["https://app/cb"]);
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        let base = "client_id=c1&response_type=code&scope=openid";
        let r = run(&format!("{base}&dpop_jkt={jkt}"), &c).unwrap();
        assert_eq!(r.dpop_jkt.as_deref(), Some(jkt));
        assert_eq!(run(base, &c).unwrap().dpop_jkt, None);
        // Empty is omitted (RFC 6749 3.1).
        assert_eq!(
            run(&format!("{base}&dpop_jkt="), &c).unwrap().dpop_jkt,
            None
        );
        for bad in [
            "short",
            "0ZcOCORZNYy%2BDWpqq30jZyJGHTN0d2HglBV3uiguA4I",
            &format!("{jkt}A"),
        ] {
            assert_eq!(
                redirect_code(run(&format!("{base}&dpop_jkt={bad}"), &c)),
                "invalid_request",
                "{bad}"
            );
        }
    }

    /// What the OpenID conformance suite's Basic OP modules send.
    #[test]
    fn optional_openid_parameters_are_accepted() {
        let c = client(false, &["https://app/cb"]);
        for extra in [
            "prompt=consent",
            "prompt=select_account",
            "prompt=login+consent",
            "display=page",
            "display=popup",
            "ui_locales=se+en-US",
            "claims_locales=de",
            "login_hint=ann%40example.com",
            "acr_values=urn%3Amace%3Aincommon%3Aiap%3Asilver+1",
            "extra_unknown_parameter=whatever",
        ] {
            let r = run(
                &format!("client_id=c1&response_type=code&scope=openid&{extra}"),
                &c,
            );
            assert_eq!(redirect_code(r.clone()), "ok", "{extra}: {r:?}");
        }
        let r = run("client_id=c1&response_type=code&prompt=login+consent", &c).unwrap();
        assert!(r.prompt_login && !r.prompt_none);
        let r = run("client_id=c1&response_type=code&prompt=consent", &c).unwrap();
        assert!(!r.prompt_login && !r.prompt_none);
    }

    #[test]
    fn sign_in_decisions() {
        let c = client(false, &["https://app/cb"]);
        let s = Session {
            tenant_id: "t".into(),
            user_sub: "u".into(),
            auth_time: 1000,
            expires_at: 9999,
            ip: None,
            user_agent: None,
            amr: vec!["pwd".into()],
            sid: "s".into(),
        };
        let req = |q: &str| run(&format!("client_id=c1&response_type=code&{q}"), &c).unwrap();
        assert!(matches!(
            next_step(&req("x=1"), Some(&s), 1100, false),
            NextStep::IssueCode {
                auth_time: 1000,
                ..
            }
        ));
        assert_eq!(next_step(&req("x=1"), None, 1100, false), NextStep::SignIn);
        assert_eq!(
            next_step(&req("prompt=login"), Some(&s), 1100, false),
            NextStep::SignIn
        );
        assert_eq!(
            next_step(&req("max_age=50"), Some(&s), 1100, false),
            NextStep::SignIn
        );
        assert!(matches!(
            next_step(&req("max_age=100"), Some(&s), 1100, false),
            NextStep::IssueCode { .. }
        ));
        assert!(matches!(
            next_step(&req("prompt=none"), Some(&s), 1100, false),
            NextStep::IssueCode { .. }
        ));
        match next_step(&req("prompt=none&state=q"), None, 1100, false) {
            NextStep::Fail(e) => {
                assert_eq!(e.error.code, ErrorCode::LoginRequired);
                assert_eq!(e.state.as_deref(), Some("q"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_step(&req("prompt=none&max_age=0"), Some(&s), 1100, false),
            NextStep::Fail(_)
        ));
        assert_eq!(
            next_step(&req("max_age=0"), Some(&s), 1000, false),
            NextStep::SignIn,
            "max_age=0 is prompt=login, even in the second of the sign-in"
        );
    }

    #[test]
    fn the_claims_parameter() {
        let c = client(false, &["https://app/cb"]);
        let q = |claims: &str| {
            format!(
                "client_id=c1&response_type=code&state=s&claims={}",
                url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
            )
        };
        let r = run(
            &q(r#"{"id_token":{"email":null},"userinfo":{"phone_number":null}}"#),
            &c,
        )
        .unwrap();
        assert_eq!(r.claims.id_token, ["email"]);
        assert_eq!(r.claims.userinfo, ["phone_number"]);
        assert_eq!((r.acr_mfa, r.needs_mfa), (None, false));
        let r = run("client_id=c1&response_type=code", &c).unwrap();
        assert!(r.claims.is_empty());
        // Malformed: invalid_request, redirected with the state.
        for bad in ["nope", "[1]", r#"{"userinfo":1}"#] {
            match run(&q(bad), &c) {
                Err(AuthorizeError::Redirect(e)) => {
                    assert_eq!(e.error.code, ErrorCode::InvalidRequest, "{bad}");
                    assert_eq!(e.state.as_deref(), Some("s"));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // An essential acr naming a second factor demands one.
        let r = run(
            &q(r#"{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}"#),
            &c,
        )
        .unwrap();
        assert_eq!((r.acr_mfa, r.needs_mfa), (Some("mfa"), true));
        let auth0 = "http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fmulti-factor";
        let r = run(
            &format!(
                "{}&acr_values={auth0}",
                q(r#"{"id_token":{"acr":{"essential":true,"value":"mfa"}}}"#)
            ),
            &c,
        )
        .unwrap();
        assert_eq!(r.acr_mfa, Some(crate::amr::MFA_ACR_VALUES[0]));
    }

    #[test]
    fn a_demanded_second_factor_steps_up_a_password_session() {
        let c = client(false, &["https://app/cb"]);
        let session = |amr: &[&str], auth_time| Session {
            tenant_id: "t".into(),
            user_sub: "u".into(),
            auth_time,
            expires_at: 9999,
            ip: None,
            user_agent: None,
            amr: amr.iter().map(|a| a.to_string()).collect(),
            sid: "s".into(),
        };
        let req = |q: &str| run(&format!("client_id=c1&response_type=code&{q}"), &c).unwrap();
        let pwd = session(&["pwd"], 1000);
        let mfa = session(&["pwd", "otp", "mfa"], 1000);
        // What acr_values asks for, read from the request.
        let r = req("acr_values=mfa");
        assert_eq!((r.acr_mfa, r.needs_mfa), (Some("mfa"), true));
        let r = req("acr_values=silver");
        assert_eq!((r.acr_mfa, r.needs_mfa), (None, false));
        let auth0 = "http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fmulti-factor";
        let r = req(&format!("acr_values={auth0}"));
        assert_eq!(
            r.acr_mfa,
            Some("http://schemas.openid.net/pape/policies/2007/06/multi-factor")
        );
        // A password session steps up; a multi-factor one does not.
        let r = req("acr_values=mfa");
        assert_eq!(
            next_step(&r, Some(&pwd), 1100, true),
            NextStep::SecondFactor {
                user_sub: "u".into()
            }
        );
        assert!(matches!(
            next_step(&r, Some(&mfa), 1100, true),
            NextStep::IssueCode {
                auth_time: 1000,
                ..
            }
        ));
        // A session from before amr was kept counts as password-only.
        assert_eq!(
            next_step(&r, Some(&session(&[], 1000)), 1100, true),
            NextStep::SecondFactor {
                user_sub: "u".into()
            }
        );
        // prompt=login and max_age still sign in afresh, second factor or not.
        assert_eq!(
            next_step(&req("acr_values=mfa&prompt=login"), Some(&mfa), 1100, true),
            NextStep::SignIn
        );
        assert_eq!(
            next_step(&req("acr_values=mfa&max_age=50"), Some(&mfa), 1100, true),
            NextStep::SignIn
        );
        // prompt=none cannot show the second-factor page.
        match next_step(
            &req("acr_values=mfa&prompt=none&state=s"),
            Some(&pwd),
            1100,
            true,
        ) {
            NextStep::Fail(e) => {
                assert_eq!(e.error.code, ErrorCode::InteractionRequired);
                assert_eq!(e.state.as_deref(), Some("s"));
            }
            other => panic!("{other:?}"),
        }
        // ... and with a stale session it is login_required as before.
        match next_step(&req("prompt=none&max_age=10"), Some(&pwd), 1100, true) {
            NextStep::Fail(e) => assert_eq!(e.error.code, ErrorCode::LoginRequired),
            other => panic!("{other:?}"),
        }
        // The tenant's policy (needs_mfa) steps up without acr_values.
        assert_eq!(
            next_step(&req("x=1"), Some(&pwd), 1100, true),
            NextStep::SecondFactor {
                user_sub: "u".into()
            }
        );
        // A client requiring a second factor needs one on every request.
        let mut strict = c.clone();
        strict.require_mfa = true;
        let r = run("client_id=c1&response_type=code", &strict).unwrap();
        assert_eq!((r.acr_mfa, r.needs_mfa), (None, true));
    }
}
