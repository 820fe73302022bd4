// Drives Keygate's hosted pages in Debian's headless Chromium, as a person
// would: register, come back to the application with a code, sign out, sign
// in again, come back with another code.
//
// Run by the Rust test crates/keygate/tests/e2e/browser.rs, which reads the
// codes from stdout (one JSON object per line) and exchanges them.
//
// Environment:
//   KEYGATE_AUTHORIZE_URL   the authorization URL (with its PKCE challenge)
//   KEYGATE_CALLBACK_PORT   the port of the redirect URI http://127.0.0.1:PORT/callback,
//                           served here; the post-logout URI is /signed-out on it
//   KEYGATE_SIGNOFF_URL     the tenant's /signoff URL (with client_id,
//                           post_logout_redirect_uri and state)
//   KEYGATE_SCREENSHOT      where to save a screenshot of the sign-in page (PNG);
//                           a phone-sized one goes next to it (-phone.png)
//   KEYGATE_EMAIL, KEYGATE_PASSWORD, KEYGATE_NAME   the person to register
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const authorizeUrl = env('KEYGATE_AUTHORIZE_URL');
const port = Number(env('KEYGATE_CALLBACK_PORT'));
const signoffUrl = env('KEYGATE_SIGNOFF_URL');
const screenshot = env('KEYGATE_SCREENSHOT');
const email = env('KEYGATE_EMAIL');
const password = env('KEYGATE_PASSWORD');
const name = env('KEYGATE_NAME');
const callback = `http://127.0.0.1:${port}/callback`;
const signedOut = `http://127.0.0.1:${port}/signed-out`;

// Nothing here should take long; never hang the test run.
const watchdog = setTimeout(() => {
  console.error('flow.mjs: timed out');
  process.exit(2);
}, 90_000);

// The application: shows what it received.
const app = createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  res.writeHead(url.pathname === '/callback' || url.pathname === '/signed-out' ? 200 : 404, {
    'content-type': 'text/html; charset=utf-8',
  });
  res.end(`<!doctype html><title>app</title><h1 id="where">${url.pathname}</h1>`);
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(port, '127.0.0.1', resolve);
});

function step(message) {
  console.error(`flow.mjs: ${message}`);
}

/** Waits for the callback and returns its query parameters. */
async function landOnCallback(page, what) {
  await page.waitForURL((u) => u.href.startsWith(`${callback}?`), { timeout: 20_000 });
  const q = new URL(page.url()).searchParams;
  if (q.get('error')) throw new Error(`${what}: the application got error ${q.get('error')}: ${q.get('error_description')}`);
  const code = q.get('code');
  if (!code) throw new Error(`${what}: no code in ${page.url()}`);
  return { step: what, code, state: q.get('state'), iss: q.get('iss') };
}

/** Checks that the page is the sign-in page and returns it. */
async function expectSignIn(page, what) {
  const forms = page.locator('form[method="post"]');
  if ((await forms.count()) !== 1) throw new Error(`${what}: expected one form at ${page.url()}: ${await page.content()}`);
  await forms.locator('input[name="email"]').waitFor({ timeout: 5_000 });
  await forms.locator('input[name="password"]').waitFor({ timeout: 5_000 });
}

const browser = await launchChromium();

let failed = false;
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(15_000);
const page = await context.newPage();
const problems = [];
// Console errors (a style refused by the Content-Security-Policy, say) mean
// the page does not look as designed; the browser's own favicon probe does not count.
page.on('console', (m) => {
  if (m.type() === 'error' && !(m.location().url || '').endsWith('/favicon.ico')) problems.push(`${m.text()} (${m.location().url})`);
});
page.on('pageerror', (e) => problems.push(String(e)));

try {
  // 1. The application sends the person to /authorize: the sign-in page.
  step('opening the authorization URL');
  await page.goto(authorizeUrl);
  await expectSignIn(page, 'first visit');

  // 2. They follow the link to registration and create an account.
  step('registering');
  await page.getByRole('link', { name: /create an account/i }).click();
  await page.waitForURL(/\/register\?/);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('input[name="name"]').fill(name);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(callback)), page.locator('form[method="post"] button[type="submit"]').click()]);
  console.log(JSON.stringify(await landOnCallback(page, 'registered')));

  // 3. They sign out on the tenant's page (confirming) and come back to the application.
  step('signing out');
  await page.goto(signoffUrl);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(signedOut)),
    page.getByRole('button', { name: /sign out/i }).click(),
  ]);
  const back = new URL(page.url());
  console.log(JSON.stringify({ step: 'signed_out', url: back.href, state: back.searchParams.get('state') }));

  // 4. Signed out: the authorization URL shows the sign-in form again.
  step('opening the authorization URL again');
  await page.goto(authorizeUrl);
  await expectSignIn(page, 'after sign-out');
  if (page.url().startsWith(callback)) throw new Error('signed out, yet a code was issued without the form');
  await page.screenshot({ path: screenshot, fullPage: true });
  {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    await p.goto(page.url());
    await expectSignIn(p, 'phone');
    await p.screenshot({ path: screenshot.replace(/\.png$/, '') + '-phone.png', fullPage: true });
    await phone.close();
  }

  // 5. They sign in with the new account and land on the callback again.
  step('signing in');
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(callback)), page.locator('form[method="post"] button[type="submit"]').click()]);
  console.log(JSON.stringify(await landOnCallback(page, 'signed_in')));

  if (problems.length) throw new Error(`the pages logged errors: ${problems.join(' | ')}`);
} catch (e) {
  failed = true;
  console.error(`flow.mjs: FAILED at ${page.url()}: ${e && e.stack ? e.stack : e}`);
  try {
    await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-failure.png', fullPage: true });
    console.error(`flow.mjs: page content: ${await page.content()}`);
  } catch {}
} finally {
  await browser.close().catch(() => {});
  app.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
