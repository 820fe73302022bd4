// Passkeys in Debian's headless Chromium with the DevTools protocol's
// virtual authenticator (CTAP2, internal, resident keys, user
// verification): a person signs in on the account page with their
// password, adds a passkey, signs in with it alone for an application
// ("Sign in with a passkey"), then with their password and the passkey as
// the second factor, then through the browser's autofill (conditional
// mediation) on the account page and for an application; disabled, the
// person is refused; they remove it, and find it no longer signs them in.
//
// The virtual authenticator answers a conditional request at once (as if
// the person picked the passkey from the autofill), so the steps that
// click a button first turn the autofill off for the page, as a browser
// without conditional mediation would be
// (PublicKeyCredential.isConditionalMediationAvailable answers false while
// localStorage 'kg-test-no-autofill' is '1').
//
// Run by the Rust test crates/keygate/tests/e2e/passkeys.rs, which reads
// one JSON object per line from stdout and exchanges the codes.
//
// Environment:
//   KEYGATE_ISSUER          the tenant's issuer (http://localhost:PORT/acme/as)
//   KEYGATE_AUTHORIZE_URL   the authorization URL (with its PKCE challenge)
//   KEYGATE_CALLBACK        the client's redirect URI (answered here, not served)
//   KEYGATE_CLIENT_ID, KEYGATE_CODE_VERIFIER   to exchange each code at once
//                           (disabling the person later revokes what is left)
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the person, already registered
//   KEYGATE_BIN, KEYGATE_DATABASE_URL, KEYGATE_MASTER_KEY, KEYGATE_SUB
//                           the CLI that disables and enables the person
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { execFileSync } from 'node:child_process';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const issuer = env('KEYGATE_ISSUER');
const authorizeUrl = env('KEYGATE_AUTHORIZE_URL');
const callback = env('KEYGATE_CALLBACK');
const email = env('KEYGATE_EMAIL');
const password = env('KEYGATE_PASSWORD');

const watchdog = setTimeout(() => {
  console.error('passkeys.mjs: timed out');
  process.exit(2);
}, 100_000);

function step(message) {
  console.error(`passkeys.mjs: ${message}`);
}

function out(record) {
  console.log(JSON.stringify(record));
}

const browser = await launchChromium();

let failed = false;
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(15_000);
// The application: its redirect URI answers without a server.
await context.route((u) => u.href.startsWith(callback), (route) =>
  route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><h1>callback</h1>' }));
await context.addInitScript(() => {
  if (window.PublicKeyCredential && localStorage.getItem('kg-test-no-autofill') === '1') {
    PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
  }
});
const page = await context.newPage();
const cspProblems = [];
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspProblems.push(m.text());
});
page.on('pageerror', (e) => cspProblems.push(String(e)));

const cdp = await context.newCDPSession(page);
await cdp.send('WebAuthn.enable');
const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
  options: {
    protocol: 'ctap2',
    transport: 'internal',
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

/** Waits for the callback, exchanges its code at the token endpoint. */
async function landOnCallback(what) {
  await page.waitForURL((u) => u.href.startsWith(`${callback}?`), { timeout: 20_000 });
  const q = new URL(page.url()).searchParams;
  if (q.get('error')) throw new Error(`${what}: the application got ${q.get('error')}: ${q.get('error_description')}`);
  const code = q.get('code');
  if (!code) throw new Error(`${what}: no code in ${page.url()}`);
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: callback,
      client_id: env('KEYGATE_CLIENT_ID'),
      code_verifier: env('KEYGATE_CODE_VERIFIER'),
    }),
  });
  const tokens = await res.json();
  if (!res.ok) throw new Error(`${what}: the token endpoint answered ${res.status}: ${JSON.stringify(tokens)}`);
  return { step: what, state: q.get('state'), iss: q.get('iss'), id_token: tokens.id_token };
}

/** Disables or enables the person with the CLI (`keygate user update`). */
function setDisabled(disabled) {
  execFileSync(env('KEYGATE_BIN'), ['user', 'update', '--tenant', 'acme', env('KEYGATE_SUB'), '--disabled', String(disabled)], {
    env: { ...process.env, KEYGATE_LISTEN: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function signOut() {
  await context.clearCookies();
}

/** Turns the autofill (conditional mediation) off or on for the issuer's pages. */
async function autofill(on) {
  if (!page.url().startsWith(new URL(issuer).origin)) await page.goto(`${issuer}/account/sign-in`);
  await page.evaluate((v) => localStorage.setItem('kg-test-no-autofill', v), on ? '0' : '1');
}

try {
  // 1. The account page, signed in with the password.
  step('signing in on the account page');
  await page.goto(`${issuer}/account`);
  await page.waitForURL(/\/account\/sign-in$/);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL(/\/account\?done=signed-in$/), page.locator('form[method="post"] button[type="submit"]').click()]);
  await autofill(false);

  // 2. A passkey is added, named.
  step('adding a passkey');
  await page.locator('#passkey_name').fill('Laptop');
  await Promise.all([
    page.waitForURL(/\/account\?done=passkey-added$/),
    page.getByRole('button', { name: /add a passkey/i }).click(),
  ]);
  const listed = await page.locator('section[aria-labelledby="passkeys-heading"] li').allInnerTexts();
  out({ step: 'added', listed });

  // 3. The authenticator holds it: a discoverable credential for localhost.
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  out({
    step: 'credentials',
    count: credentials.length,
    resident: credentials.map((c) => c.isResidentCredential),
    rpId: credentials.map((c) => c.rpId),
  });

  // 4. Signed out, an application's sign-in with the passkey alone.
  await signOut();
  step('signing in with the passkey alone');
  await page.goto(authorizeUrl);
  await page.getByRole('button', { name: /sign in with a passkey/i }).click();
  out(await landOnCallback('passkey_sign_in'));

  // 5. Signed out, the password and then the passkey as the second factor.
  await signOut();
  step('password, then the passkey as the second factor');
  await page.goto(authorizeUrl);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form[method="post"] button[type="submit"]').click();
  const usePasskey = page.getByRole('button', { name: /use a passkey/i });
  await usePasskey.waitFor({ timeout: 10_000 });
  const codeForm = await page.locator('input[name="code"]').count();
  await usePasskey.click();
  out({ ...(await landOnCallback('second_factor')), codeForm });

  // 6. The autofill: the account page's sign-in, then an application's,
  // with no click (the person picks the passkey the browser offers).
  await signOut();
  step('signing in on the account page through the autofill');
  await autofill(true);
  await page.goto(`${issuer}/account/sign-in`);
  await page.waitForURL(/\/account\?done=signed-in$/);
  const used = await page.locator('section[aria-labelledby="passkeys-heading"] li').allInnerTexts();
  out({ step: 'account_sign_in', listed: used });
  await signOut();
  step('signing in for an application through the autofill');
  await page.goto(authorizeUrl);
  out(await landOnCallback('autofill_sign_in'));
  // That sign-in's session opens the account page.
  await page.goto(`${issuer}/account`);
  await page.waitForURL(/\/account$/);
  await autofill(false);

  // 7. Disabled, the person cannot sign in with it.
  step('a disabled person is refused');
  setDisabled(true);
  await signOut();
  await page.goto(authorizeUrl);
  await page.getByRole('button', { name: /sign in with a passkey/i }).click();
  const disabledError = page.locator('[data-passkey-error]');
  await disabledError.waitFor({ state: 'visible', timeout: 10_000 });
  out({ step: 'disabled', message: await disabledError.innerText(), url: page.url() });
  setDisabled(false);
  await autofill(true);
  await page.goto(`${issuer}/account/sign-in`);
  await page.waitForURL(/\/account\?done=signed-in$/);
  await autofill(false);

  // 8. Removed, it no longer signs in (the authenticator still has it).
  step('removing the passkey');
  await Promise.all([
    page.waitForURL(/\/account\?done=passkey-removed$/),
    page.locator('section[aria-labelledby="passkeys-heading"] li button', { hasText: 'Remove' }).click(),
  ]);
  await signOut();
  await page.goto(authorizeUrl);
  await page.getByRole('button', { name: /sign in with a passkey/i }).click();
  const error = page.locator('[data-passkey-error]');
  await error.waitFor({ state: 'visible', timeout: 10_000 });
  out({ step: 'refused', message: await error.innerText(), url: page.url() });

  if (cspProblems.length) throw new Error(`Content-Security-Policy problems: ${cspProblems.join(' | ')}`);
} catch (e) {
  failed = true;
  console.error(`passkeys.mjs: FAILED at ${page.url()}: ${e && e.stack ? e.stack : e}`);
  try {
    console.error(`passkeys.mjs: page content: ${await page.content()}`);
  } catch {}
} finally {
  await browser.close().catch(() => {});
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
