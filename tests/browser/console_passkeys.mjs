// A console operator's passkey in Debian's headless Chromium with the
// DevTools protocol's virtual authenticator (CTAP2, internal, resident
// keys, user verification): the operator signs in with its password and
// the authenticator app (enrolled here from the secret the page shows),
// adds a passkey on the Security page (the same authenticator a second
// time is refused), signs out, signs in with its
// password and a passkey whose signature is altered on its way (refused,
// still on the second step), then with the passkey as it is; it removes
// the passkey, and the next sign-in offers none. Any
// Content-Security-Policy violation fails the run. A screenshot of the
// Security page is saved for the docs.
//
// Run by the Rust test crates/keygate/tests/e2e/console_passkeys.rs, which
// reads the steps from stdout (one JSON object per line).
//
// Environment:
//   KEYGATE_CONSOLE_URL     {PUBLIC_URL}/admin/ (on localhost: WebAuthn needs a host name)
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the operator (made by `keygate admin create`)
//   KEYGATE_SCREENSHOTS     a folder for console-security.png
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { base32, totp } from './totp.mjs';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const consoleUrl = env('KEYGATE_CONSOLE_URL');
const email = env('KEYGATE_EMAIL');
const password = env('KEYGATE_PASSWORD');
const shots = env('KEYGATE_SCREENSHOTS');

const watchdog = setTimeout(() => {
  console.error('console_passkeys.mjs: timed out');
  process.exit(2);
}, 100_000);

function out(v) {
  console.log(JSON.stringify(v));
}

const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(15_000);
const page = await context.newPage();
const violations = [];
page.on('console', (m) => {
  if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
});
page.on('pageerror', (e) => violations.push(String(e)));

const cdp = await context.newCDPSession(page);
await cdp.send('WebAuthn.enable');
await cdp.send('WebAuthn.addVirtualAuthenticator', {
  options: {
    protocol: 'ctap2',
    transport: 'internal',
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

const path = () => new URL(page.url()).pathname;

async function passwordStep() {
  await page.goto(consoleUrl);
  if (path() !== '/admin/sign-in') throw new Error(`not sent to sign in: ${page.url()}`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in/second-factor');
}

try {
  // First sign-in: password, then the authenticator app enrolled.
  await passwordStep();
  const secret = (await page.locator('#secret').textContent()).trim();
  const offeredAtEnrolment = await page.locator('#kg-passkey').count();
  await page.getByLabel('Code from the app').fill(totp(base32(secret)));
  await page.getByRole('button', { name: 'Confirm and sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/');
  out({ step: 'signed_in_with_totp', offered: offeredAtEnrolment });

  // The Security page, reached from the navigation: add a passkey.
  await page.getByRole('link', { name: 'Security' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/security');
  await page.getByLabel('Name of the new passkey').fill('Test laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/security' && u.search === '?added');
  const names = await page.locator('tbody tr td:first-child').allTextContents();
  out({ step: 'added', names });
  await page.screenshot({ path: `${shots}/console-security.png`, fullPage: true });
  // The same authenticator again: excluded, so refused.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  const addError = page.locator('[data-passkey-error]');
  await addError.waitFor({ state: 'visible' });
  out({ step: 'same_again_refused', error: (await addError.textContent()).trim(), rows: await page.locator('tbody tr').count() });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in');

  // Password again: the second step offers the code and a passkey.
  await passwordStep();
  const codeOffered = await page.getByLabel('Code from the app').isVisible();
  const button = page.getByRole('button', { name: 'Use a passkey' });
  await button.waitFor({ state: 'visible' });

  // A wrong passkey: its signature altered on the way to the server.
  const finish = '**/admin/sign-in/passkey/finish';
  await page.route(finish, async (route) => {
    const body = JSON.parse(route.request().postData());
    const sig = body.credential.response.signature;
    body.credential.response.signature = sig.slice(0, -4) + (sig.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await route.continue({ postData: JSON.stringify(body) });
  });
  await button.click();
  const error = page.locator('[data-passkey-error]');
  await error.waitFor({ state: 'visible' });
  out({ step: 'wrong_passkey_refused', url: path(), codeOffered, error: (await error.textContent()).trim() });
  await page.unroute(finish);

  // The passkey as it is.
  await page.waitForFunction(() => !document.querySelector('#kg-passkey button').disabled);
  await button.click();
  await page.waitForURL((u) => u.pathname === '/admin/');
  out({ step: 'signed_in_with_passkey', heading: (await page.locator('h1').textContent()).trim() });

  // Removed on the Security page: the next sign-in offers no passkey.
  await page.getByRole('link', { name: 'Security' }).click();
  await page.getByRole('button', { name: 'Remove passkey Test laptop' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/security' && u.search === '?removed');
  out({ step: 'removed', rows: await page.locator('tbody tr').count() });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in');
  await passwordStep();
  out({ step: 'none_offered', offered: await page.locator('#kg-passkey').count(), violations });
} finally {
  clearTimeout(watchdog);
  await browser.close();
}
