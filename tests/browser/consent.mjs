// The consent page of a third-party client in Debian's headless Chromium,
// as a person sees it: they sign in, are asked, and deny (the application
// gets error=access_denied); asked again, they allow (a code arrives); a
// third request for the same scopes goes straight back with a code.
//
// Run by the Rust test crates/keygate/tests/e2e/real_clients.rs, which
// builds the three authorization URLs and reads one JSON object per line
// from stdout: {"step":"denied"|"allowed"|"remembered", "pages": [...],
// "consent": {...}|null, "query": {...}}, where "pages" lists the pages
// (not redirects) the browser showed before it reached the application.
//
// Environment:
//   KEYGATE_AUTHORIZE_URLS  a JSON array of the three authorization URLs
//   KEYGATE_CALLBACK        the client's redirect URI, http://127.0.0.1:PORT/callback,
//                           served here (Playwright's routes do not see the
//                           targets of redirects, so the application is real)
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the person, already registered
//   KEYGATE_SCREENSHOT      where to save a screenshot of the consent page (PNG)
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const urls = JSON.parse(env('KEYGATE_AUTHORIZE_URLS'));
const callback = env('KEYGATE_CALLBACK');
const screenshot = env('KEYGATE_SCREENSHOT');
if (urls.length !== 3) throw new Error('KEYGATE_AUTHORIZE_URLS must hold three URLs');

const watchdog = setTimeout(() => {
  console.error('consent.mjs: timed out');
  process.exit(2);
}, 90_000);

function step(message) {
  console.error(`consent.mjs: ${message}`);
}

// The application: shows what it received.
const app = createServer((req, res) => {
  res.writeHead(new URL(req.url, callback).pathname === new URL(callback).pathname ? 200 : 404, {
    'content-type': 'text/html; charset=utf-8',
  });
  res.end('<!doctype html><title>app</title><h1>callback</h1>');
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(Number(new URL(callback).port), '127.0.0.1', resolve);
});

const browser = await launchChromium();

let failed = false;
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(15_000);
const page = await context.newPage();

// Every page the browser showed (a document answered 200, the
// application's callback aside), since the last reset.
let pages = [];
page.on('response', (r) => {
  const req = r.request();
  if (req.resourceType() === 'document' && req.frame() === page.mainFrame() && r.status() === 200 && !r.url().startsWith(callback)) {
    pages.push(new URL(r.url()).pathname);
  }
});
const problems = [];
page.on('console', (m) => {
  if (m.type() === 'error' && !(m.location().url || '').endsWith('/favicon.ico')) problems.push(`${m.text()} (${m.location().url})`);
});
page.on('pageerror', (e) => problems.push(String(e)));

/** What the consent page says, if the page is one. */
async function consentPage() {
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  const deny = page.getByRole('button', { name: 'Deny', exact: true });
  if ((await allow.count()) !== 1 || (await deny.count()) !== 1) return null;
  return {
    title: await page.title(),
    heading: (await page.locator('h1').innerText()).trim(),
    scopes: (await page.locator('ul.scopes li').allInnerTexts()).map((s) => s.trim()),
  };
}

/** Clicks a button, waits for the application's callback, reports what it got. */
async function decide(button, what, consent) {
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${callback}?`), { timeout: 20_000 }),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
  report(what, consent);
}

function report(what, consent) {
  const query = Object.fromEntries(new URL(page.url()).searchParams);
  console.log(JSON.stringify({ step: what, pages, consent, query }));
}

try {
  // 1. Signed out: the sign-in page, then the consent page; they deny.
  step('first request: sign in, deny');
  pages = [];
  await page.goto(urls[0]);
  await page.locator('input[name="email"]').fill(env('KEYGATE_EMAIL'));
  await page.locator('input[name="password"]').fill(env('KEYGATE_PASSWORD'));
  await page.locator('form[method="post"] button[type="submit"]').click();
  await page.getByRole('button', { name: 'Deny', exact: true }).waitFor();
  const first = await consentPage();
  if (!first) throw new Error('no consent page after signing in');
  await page.screenshot({ path: screenshot, fullPage: true });
  await decide('Deny', 'denied', first);

  // 2. Signed in: the consent page at once; they allow.
  step('second request: allow');
  pages = [];
  await page.goto(urls[1]);
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
  await decide('Allow', 'allowed', await consentPage());

  // 3. The same scopes again: straight back to the application.
  step('third request: remembered');
  pages = [];
  await page.goto(urls[2]);
  await page.waitForURL((u) => u.href.startsWith(`${callback}?`), { timeout: 20_000 });
  report('remembered', null);

  if (problems.length) throw new Error(`the pages logged errors: ${problems.join(' | ')}`);
} catch (e) {
  failed = true;
  console.error(`consent.mjs: FAILED at ${page.url()}: ${e && e.stack ? e.stack : e}`);
  try {
    await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-failure.png', fullPage: true });
    console.error(`consent.mjs: page content: ${await page.content()}`);
  } catch {}
} finally {
  await browser.close().catch(() => {});
  app.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
