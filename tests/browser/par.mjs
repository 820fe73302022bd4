// A confidential client on openid-client (v6) that pushes its
// authorization request (RFC 9126) before sending the person to Keygate:
// it discovers the issuer, pushes the request with PKCE S256, state and
// nonce (client_secret_basic), lets the person sign in in Debian's
// headless Chromium, catches the redirect on its loopback server and
// exchanges the code; then it opens the same authorization URL again,
// which must be refused (a pushed request gives one code).
//
// Run by crates/keygate/tests/e2e/par.rs, which reads one JSON object per
// line from stdout:
//   {"step":"discovered", ...}   the PAR metadata
//   {"step":"pushed", ...}       the parameters of the authorization URL
//   {"step":"tokens", ...}       the claims of the tokens
//   {"step":"reused", ...}       the page the used request_uri showed
//
// Environment:
//   KEYGATE_ISSUER, KEYGATE_CLIENT_ID, KEYGATE_CLIENT_SECRET
//   KEYGATE_REDIRECT_PORT        the loopback port of the registered redirect URI
//   KEYGATE_EMAIL, KEYGATE_PASSWORD
//   CHROMIUM                     the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import * as client from 'openid-client';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const watchdog = setTimeout(() => {
  console.error('par.mjs: timed out');
  process.exit(2);
}, 90_000);

const out = (record) => console.log(JSON.stringify(record));
const step = (message) => console.error(`par.mjs: ${message}`);

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
  res.end('<!doctype html><title>app</title><h1>Signed in.</h1>');
  onCallback(url);
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(Number(env('KEYGATE_REDIRECT_PORT')), '127.0.0.1', resolve);
});
const redirectUri = `http://127.0.0.1:${app.address().port}/callback`;

let browser;
let page;
let failed = false;
try {
  const config = await client.discovery(
    new URL(env('KEYGATE_ISSUER')),
    env('KEYGATE_CLIENT_ID'),
    undefined,
    client.ClientSecretBasic(env('KEYGATE_CLIENT_SECRET')),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  out({
    step: 'discovered',
    pushed_authorization_request_endpoint: meta.pushed_authorization_request_endpoint,
    require_pushed_authorization_requests: meta.require_pushed_authorization_requests ?? null,
  });

  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  step('pushing the authorization request');
  const authorizeUrl = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  out({ step: 'pushed', url: authorizeUrl.href, params: Object.fromEntries(authorizeUrl.searchParams) });

  browser = await launchChromium();
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  step('signing in');
  await page.goto(authorizeUrl.href);
  await page.locator('input[name="email"]').fill(env('KEYGATE_EMAIL'));
  await page.locator('input[name="password"]').fill(env('KEYGATE_PASSWORD'));
  await page.locator('form[method="post"] button[type="submit"]').click();
  const callbackUrl = await callbackArrived;

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  out({ step: 'tokens', token_type: tokens.token_type, id_token: tokens.claims() });

  step('opening the used authorization URL again');
  const again = await page.goto(authorizeUrl.href);
  out({
    step: 'reused',
    status: again.status(),
    url: page.url(),
    text: (await page.locator('body').innerText()).trim(),
  });
} catch (e) {
  failed = true;
  console.error(`par.mjs: FAILED${page ? ` at ${page.url()}` : ''}: ${e && e.stack ? e.stack : e}`);
  if (page) {
    try {
      console.error(`par.mjs: page content: ${await page.content()}`);
    } catch {}
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  app.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
