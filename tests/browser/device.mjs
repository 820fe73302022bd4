// The device authorization grant (RFC 8628) with openid-client (v6) as the
// device and Debian's headless Chromium as the person's phone: the device
// discovers the issuer, starts a device authorization and polls the token
// endpoint (pollDeviceAuthorizationGrant) while the person opens
// verification_uri_complete, finds the code filled in, signs in through
// the hosted sign-in, comes back to the device page, checks the code
// again and allows the device. The device's poll then gets its tokens,
// which openid-client validates (the id_token's signature, iss, aud), and
// refreshes them.
//
// Run by the Rust test crates/keygate/tests/e2e/device_flow.rs, which reads
// one JSON object per line from stdout:
//   {"step":"discovered", ...}     what discovery said
//   {"step":"authorization", ...}  the device authorization response
//   {"step":"allowed", ...}        what the person saw: the pages, the
//                                  pre-filled codes, the confirmation page
//   {"step":"tokens", ...}         the token response and its claims
//   {"step":"refreshed", ...}      the claims after a refresh
//
// Environment:
//   KEYGATE_ISSUER          the tenant's issuer (http://127.0.0.1:PORT/acme/as)
//   KEYGATE_CLIENT_ID       a public client allowed the device_code grant
//   KEYGATE_SCOPE           the scope to ask for
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the person, already registered
//   CHROMIUM                the browser (default /usr/bin/chromium)

import * as client from 'openid-client';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const issuer = new URL(env('KEYGATE_ISSUER'));
const clientId = env('KEYGATE_CLIENT_ID');
const scope = env('KEYGATE_SCOPE');

const watchdog = setTimeout(() => {
  console.error('device.mjs: timed out');
  process.exit(2);
}, 100_000);

function step(message) {
  console.error(`device.mjs: ${message}`);
}

function out(record) {
  console.log(JSON.stringify(record));
}

function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// The test server speaks plain http.
const insecure = { execute: [client.allowInsecureRequests] };

let browser;
let failed = false;
try {
  step(`discovering ${issuer.href}`);
  const config = await client.discovery(issuer, clientId, undefined, client.None(), insecure);
  const meta = config.serverMetadata();
  out({
    step: 'discovered',
    device_authorization_endpoint: meta.device_authorization_endpoint,
    grant_types_supported: meta.grant_types_supported,
  });

  // 1. The device asks for its codes.
  step('initiating the device authorization');
  const authorization = await client.initiateDeviceAuthorization(config, { scope });
  out({ step: 'authorization', ...authorization, device_code: undefined, device_code_length: authorization.device_code.length });

  // 2. It polls, at the interval, until the person answers.
  step('polling');
  const polling = client.pollDeviceAuthorizationGrant(config, authorization);
  // Reported when awaited below; never an unhandled rejection meanwhile.
  polling.catch(() => {});

  // 3. The person, on another screen.
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const pages = [];
  page.on('response', (r) => {
    const req = r.request();
    if (req.resourceType() === 'document' && req.frame() === page.mainFrame() && r.status() === 200) {
      pages.push(new URL(r.url()).pathname);
    }
  });

  step('opening verification_uri_complete');
  await page.goto(authorization.verification_uri_complete);
  const prefilled = await page.locator('input[name="user_code"]').inputValue();
  const labelled = await page.locator('label[for="user_code"]').count();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  step('signing in');
  await page.locator('input[name="email"]').fill(env('KEYGATE_EMAIL'));
  await page.locator('input[name="password"]').fill(env('KEYGATE_PASSWORD'));
  await page.locator('form[method="post"] button[type="submit"]').click();
  step('back on the device page');
  await page.waitForURL((u) => u.pathname.endsWith('/device'));
  const prefilledAgain = await page.locator('input[name="user_code"]').inputValue();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  step('the confirmation page');
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  await allow.waitFor();
  const confirmation = {
    heading: (await page.locator('h1').innerText()).trim(),
    text: (await page.locator('p.sub').innerText()).trim(),
    scopes: (await page.locator('ul.scopes li').allInnerTexts()).map((s) => s.trim()),
    deny: await page.getByRole('button', { name: 'Deny', exact: true }).count(),
  };
  await allow.click();
  const done = (await page.locator('h1').innerText()).trim();
  out({ step: 'allowed', pages, prefilled, prefilledAgain, labelled, confirmation, done });

  // 4. The device's poll gets the tokens (validated by openid-client).
  const tokens = await polling;
  out({
    step: 'tokens',
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expires_in,
    has_refresh_token: Boolean(tokens.refresh_token),
    id_token: tokens.id_token ? tokens.claims() : null,
    access_token: jwtClaims(tokens.access_token),
  });

  // 5. The refresh token works like any other.
  step('refreshing');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  out({
    step: 'refreshed',
    has_refresh_token: Boolean(refreshed.refresh_token),
    rotated: refreshed.refresh_token !== tokens.refresh_token,
    access_token: jwtClaims(refreshed.access_token),
  });
} catch (e) {
  failed = true;
  console.error('device.mjs failed:', e?.stack ?? e, e?.cause ?? '');
} finally {
  clearTimeout(watchdog);
  if (browser) await browser.close();
}
process.exit(failed ? 1 : 0);
