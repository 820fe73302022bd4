// An MCP-style client built on openid-client (v6) against Keygate: it
// discovers the issuer, registers itself (RFC 7591) as a public client
// with a loopback redirect URI it serves itself, reads its registration
// back (RFC 7592), asks for a token for an API with PKCE S256 and
// `resource` (RFC 8707), lets a person sign in and allow it in Debian's
// headless Chromium, catches the redirect on its loopback server and
// exchanges the code, checking state, nonce and the id_token's signature.
//
// Run by the Rust test crates/keygate/tests/e2e/real_clients.rs, which
// reads one JSON object per line from stdout:
//   {"step":"discovered", ...}      what discovery said
//   {"step":"refused", ...}         registration without the initial access
//                                   token (only with KEYGATE_INITIAL_ACCESS_TOKEN)
//   {"step":"registered", ...}      the registration answer
//   {"step":"read_back", ...}       GET registration_client_uri
//   {"step":"consent", ...}         the consent page as the person saw it
//   {"step":"tokens", ...}          the claims of the tokens
//   {"step":"refreshed", ...}       the claims after a refresh (when the
//                                   scope holds offline_access)
//
// Environment:
//   KEYGATE_ISSUER          the tenant's issuer (http://127.0.0.1:PORT/acme/as)
//   KEYGATE_RESOURCE        the API to ask a token for
//   KEYGATE_SCOPE           the scope to ask for (e.g. "openid mcp:tools")
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the person, already registered
//   KEYGATE_INITIAL_ACCESS_TOKEN      optional: the tenant registers only
//                           with it; the script first tries without it
//   KEYGATE_REGISTER_ONLY   "1": stop after registering and reading back
//                           (no browser)
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import * as client from 'openid-client';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const issuer = new URL(env('KEYGATE_ISSUER'));
const resource = env('KEYGATE_RESOURCE');
const scope = env('KEYGATE_SCOPE');
const initialAccessToken = process.env.KEYGATE_INITIAL_ACCESS_TOKEN || undefined;
const registerOnly = process.env.KEYGATE_REGISTER_ONLY === '1';

// Nothing here should take long; never hang the test run.
const watchdog = setTimeout(() => {
  console.error('mcp_client.mjs: timed out');
  process.exit(2);
}, 90_000);

function step(message) {
  console.error(`mcp_client.mjs: ${message}`);
}

function out(record) {
  console.log(JSON.stringify(record));
}

/** A JWT's claims, unverified (for the report only). */
function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** What an openid-client error says, for the report. */
function describe(e) {
  const challenge = Array.isArray(e?.cause) ? e.cause[0] : undefined;
  return {
    name: e?.name,
    code: e?.code,
    status: e?.status,
    // ResponseBodyError carries `error`; WWWAuthenticateChallengeError
    // carries the parsed challenges (scheme and parameters) as its cause.
    error: e?.error ?? challenge?.parameters?.error,
    scheme: challenge?.scheme,
    message: String(e?.message ?? e),
  };
}

// The loopback server of the redirect URI, on a port of its own (as MCP
// clients do): it hands the first request to /callback to the flow.
let onCallback;
const callbackArrived = new Promise((resolve) => {
  onCallback = resolve;
});
const app = createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (url.pathname !== '/callback') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>agent</title><h1>You can close this window.</h1>');
  onCallback(url);
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(0, '127.0.0.1', resolve);
});
const redirectUri = `http://127.0.0.1:${app.address().port}/callback`;

// The test server speaks plain http. Discovery as MCP clients do it: the
// authorization server metadata of RFC 8414 (for an issuer with a path,
// /.well-known/oauth-authorization-server inserted before the path).
const insecure = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' };

let browser;
let page;
let failed = false;
try {
  // 1. Discovery: the authorization server's metadata (no client yet).
  step(`discovering ${issuer.href}`);
  const probe = await client.discovery(issuer, 'not-registered-yet', undefined, client.None(), insecure);
  const meta = probe.serverMetadata();
  out({
    step: 'discovered',
    issuer: meta.issuer,
    registration_endpoint: meta.registration_endpoint,
    code_challenge_methods_supported: meta.code_challenge_methods_supported,
    supports_pkce_s256: meta.supportsPKCE('S256'),
  });
  if (!meta.registration_endpoint) throw new Error('no registration_endpoint in discovery');

  // 2. Registration: a public client (no secret), PKCE binds its codes.
  const metadata = {
    client_name: 'MCP Agent',
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope,
  };
  if (initialAccessToken) {
    step('registering without the initial access token');
    try {
      await client.dynamicClientRegistration(issuer, metadata, client.None(), insecure);
      throw new Error('registration without the initial access token succeeded');
    } catch (e) {
      if (e?.message === 'registration without the initial access token succeeded') throw e;
      out({ step: 'refused', ...describe(e) });
    }
  }
  step('registering');
  const config = await client.dynamicClientRegistration(issuer, metadata, client.None(), {
    ...insecure,
    initialAccessToken,
  });
  const registered = config.clientMetadata();
  out({
    step: 'registered',
    client_id: registered.client_id,
    client_secret: registered.client_secret ?? null,
    token_endpoint_auth_method: registered.token_endpoint_auth_method,
    redirect_uris: registered.redirect_uris,
    registration_client_uri: registered.registration_client_uri,
    registration_access_token: registered.registration_access_token,
  });

  // 3. RFC 7592: the registration as the server keeps it.
  step('reading the registration back');
  const readBack = await fetch(registered.registration_client_uri, {
    headers: { authorization: `Bearer ${registered.registration_access_token}`, accept: 'application/json' },
  });
  out({ step: 'read_back', status: readBack.status, body: await readBack.json() });

  if (!registerOnly) {
    // 4. The authorization request: PKCE S256, state, nonce, the API.
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizeUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
      resource,
    });

    // 5. The person signs in and allows the agent in Chromium.
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    step('opening the authorization URL');
    await page.goto(authorizeUrl.href);
    await page.locator('input[name="email"]').fill(env('KEYGATE_EMAIL'));
    await page.locator('input[name="password"]').fill(env('KEYGATE_PASSWORD'));
    await page.locator('form[method="post"] button[type="submit"]').click();
    step('expecting the consent page');
    const allow = page.getByRole('button', { name: 'Allow', exact: true });
    await allow.waitFor();
    out({
      step: 'consent',
      title: await page.title(),
      heading: (await page.locator('h1').innerText()).trim(),
      scopes: (await page.locator('ul.scopes li').allInnerTexts()).map((s) => s.trim()),
    });
    await allow.click();
    const callbackUrl = await callbackArrived;
    step(`the redirect arrived: ${callbackUrl.pathname}`);

    // 6. The code for tokens: openid-client checks state, iss and the
    // id_token (nonce, aud, signature against the JWKS) and sends the
    // PKCE verifier and the resource.
    client.enableNonRepudiationChecks(config);
    const tokens = await client.authorizationCodeGrant(
      config,
      callbackUrl,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
      { resource },
    );
    out({
      step: 'tokens',
      token_type: tokens.token_type,
      scope: tokens.scope ?? null,
      expires_in: tokens.expiresIn() ?? null,
      has_refresh_token: typeof tokens.refresh_token === 'string',
      access_token: jwtClaims(tokens.access_token),
      id_token: tokens.claims(),
    });

    // 7. With offline_access, a refreshed token is for the same API.
    if (tokens.refresh_token) {
      step('refreshing');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, { resource });
      out({
        step: 'refreshed',
        scope: refreshed.scope ?? null,
        rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
        access_token: jwtClaims(refreshed.access_token),
        id_token: refreshed.id_token ? refreshed.claims() : null,
      });
    }
  }
} catch (e) {
  failed = true;
  console.error(`mcp_client.mjs: FAILED${page ? ` at ${page.url()}` : ''}: ${e && e.stack ? e.stack : e}`);
  console.error(`mcp_client.mjs: ${JSON.stringify(describe(e))}`);
  if (page) {
    try {
      console.error(`mcp_client.mjs: page content: ${await page.content()}`);
    } catch {}
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  app.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
