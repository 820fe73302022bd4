// The admin console in Debian's headless Chromium: an operator signs in
// with a password and an authenticator app (the TOTP secret read from the
// enrolment page, its code computed here per RFC 6238), creates a client
// whose secret is shown once and gets a token with it at the token
// endpoint, disables a person; then a page on another origin submits a
// form to the console in the same browser, and the console refuses it.
//
// Run by the Rust test crates/keygate/tests/e2e/console_pages.rs, which
// reads one JSON object per line from stdout:
//   {"step":"signed_in","url":...}
//   {"step":"client","client_id":...,"token_status":200,"token_type":...}
//   {"step":"disabled","state":"disabled"}
//   {"step":"phone","wide":[]}   (pages wider than a 360-pixel screen)
//   {"step":"cross_site","status":403,"body_has_refused":true}
//
// Environment:
//   KEYGATE_BASE             the server, http://127.0.0.1:PORT
//   KEYGATE_TENANT           the tenant whose client and user are used
//   KEYGATE_OPERATOR, KEYGATE_OPERATOR_PASSWORD   the operator (an admin)
//   KEYGATE_USER_EMAIL       the person to disable
//   KEYGATE_CROSS_PORT       a free port for the other origin's page
//   KEYGATE_SCREENSHOTS      when set: docs/images/console-client.png and
//                            console-user.png are (re)written at 1280x800
//   CHROMIUM                 the browser (default /usr/bin/chromium)

import { base32, totp } from './totp.mjs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const base = env('KEYGATE_BASE');
const tenant = env('KEYGATE_TENANT');
const crossPort = Number(env('KEYGATE_CROSS_PORT'));
const shots = process.env.KEYGATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../docs/images/', import.meta.url))
  : null;

const watchdog = setTimeout(() => {
  console.error('console_pages.mjs: timed out');
  process.exit(2);
}, 100_000);

function report(o) {
  console.log(JSON.stringify(o));
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}console-${name}.png`, fullPage: false });
}

// The other origin: a page whose form posts to the console at once.
let target = '';
const other = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>elsewhere</title>
<form id="f" method="post" action="${target}"><input name="csrf" value="guessed"></form>
<script>document.getElementById('f').submit()</script>`);
});
await new Promise((resolve, reject) => {
  other.once('error', reject);
  other.listen(crossPort, '127.0.0.1', resolve);
});

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();

  // Sign in: password, then the authenticator app's enrolment.
  await page.goto(`${base}/admin/`);
  if (!page.url().endsWith('/admin/sign-in')) throw new Error(`not sent to sign in: ${page.url()}`);
  await page.getByLabel('E-mail').fill(env('KEYGATE_OPERATOR'));
  await page.getByLabel('Password').fill(env('KEYGATE_OPERATOR_PASSWORD'));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/admin/sign-in/second-factor');
  const secret = base32(await page.locator('#secret').innerText());
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL(`${base}/admin/`);
  report({ step: 'signed_in', url: page.url() });

  // A confidential client for client_credentials.
  await page.goto(`${base}/admin/tenants/${tenant}/clients`);
  await page.getByLabel('Name', { exact: true }).fill('Reporting service');
  await page.getByLabel('Type', { exact: true }).selectOption('confidential');
  await page.getByLabel('Authorization code', { exact: true }).uncheck();
  await page.getByLabel('Refresh token', { exact: true }).uncheck();
  await page.getByLabel('Client credentials', { exact: true }).check();
  await page.getByRole('button', { name: 'Create client' }).click();
  const clientSecret = await page.getByLabel('Client secret').inputValue();
  const about = await page.getByText('Client ID:').innerText();
  const clientId = about.replace('Client ID:', '').trim();
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const res = await fetch(`${base}/${tenant}/as/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const tok = await res.json();
  report({ step: 'client', client_id: clientId, token_status: res.status, token_type: tok.token_type ?? null });
  await page.getByRole('link', { name: 'Go to the client' }).click();
  await page.waitForURL(`**/clients/${clientId}`);
  if ((await page.content()).includes(clientSecret)) throw new Error('the secret was shown again');
  await shot(page, 'client');

  // Disable the person, found by their address.
  await page.goto(`${base}/admin/tenants/${tenant}/users`);
  await page.getByLabel('E-mail address', { exact: true }).first().fill(env('KEYGATE_USER_EMAIL'));
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: env('KEYGATE_USER_EMAIL') }).click();
  await page.waitForURL(/\/users\/[^/]+$/);
  const userUrl = page.url();
  await shot(page, 'user');
  await page.getByRole('button', { name: 'Disable the user' }).click();
  const state = (await page.locator('#state').innerText()).trim();
  report({ step: 'disabled', state });

  // Readable on a phone: no page is wider than a 360-pixel screen.
  await page.setViewportSize({ width: 360, height: 740 });
  const wide = [];
  for (const path of [`/admin/tenants/${tenant}/clients`, `/admin/tenants/${tenant}/clients/${clientId}`,
    new URL(userUrl).pathname, `/admin/tenants/${tenant}`, '/admin/events']) {
    await page.goto(`${base}${path}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) wide.push(`${path}: ${overflow}px`);
  }
  report({ step: 'phone', wide });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Another origin's form, in the same browser (so with the console
  // cookie where the browser sends it): refused, nothing changes.
  target = `${userUrl}/enable`;
  const answer = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
  await page.goto(`http://127.0.0.1:${crossPort}/`);
  const refused = await answer;
  const text = await refused.text();
  report({ step: 'cross_site', status: refused.status(), body_has_refused: /Refused|Not allowed|Signed out/.test(text) });

  await context.close();
} finally {
  await browser.close();
  other.close();
  clearTimeout(watchdog);
}
