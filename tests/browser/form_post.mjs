// The form_post response mode (OAuth 2.0 Form Post Response Mode) in
// Debian's headless Chromium: a person signs in to an application that
// asked for response_mode=form_post, and the application (a small HTTP
// server here, on the client's redirect URI) receives the code and state
// in the body of a POST, never in a URL. Then, with the session, a second
// request posts at once; and in a browser that runs no scripts the page's
// button posts the same answer.
//
// Run by the Rust test crates/keygate/tests/e2e/form_post.rs, which
// redeems the codes and reads one JSON object per line from stdout:
//   {"step":"signed_in"|"session"|"noscript", "method": "POST",
//    "content_type": "...", "query": "...", "params": {...}, "pages": [...]}
// where "pages" lists the documents the browser showed (200) on the way.
//
// Environment:
//   KEYGATE_AUTHORIZE_URLS  a JSON array of three authorization URLs
//   KEYGATE_CALLBACK        the client's redirect URI, http://127.0.0.1:PORT/callback
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the person, already registered
//   CHROMIUM                the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const urls = JSON.parse(env('KEYGATE_AUTHORIZE_URLS'));
const callback = new URL(env('KEYGATE_CALLBACK'));
if (urls.length !== 3) throw new Error('KEYGATE_AUTHORIZE_URLS must hold three URLs');

const watchdog = setTimeout(() => {
  console.error('form_post.mjs: timed out');
  process.exit(2);
}, 90_000);

function step(message) {
  console.error(`form_post.mjs: ${message}`);
}

// The application: records what reached its redirect URI.
let arrived = [];
let waiting = null;
const app = createServer((req, res) => {
  const url = new URL(req.url, callback);
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    if (url.pathname !== callback.pathname) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><h1>callback</h1>');
    const got = {
      method: req.method,
      content_type: req.headers['content-type'] ?? null,
      query: url.search,
      params: Object.fromEntries(new URLSearchParams(body)),
    };
    arrived.push(got);
    if (waiting) {
      waiting(got);
      waiting = null;
    }
  });
});
await new Promise((resolve, reject) => {
  app.once('error', reject);
  app.listen(Number(callback.port), '127.0.0.1', resolve);
});

/** The next request to reach the application. */
function nextArrival() {
  return new Promise((resolve, reject) => {
    waiting = resolve;
    setTimeout(() => reject(new Error('nothing reached the application')), 20_000);
  });
}

const browser = await launchChromium();

let failed = false;
const problems = [];
let pages = [];

async function open(javaScriptEnabled) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('response', (r) => {
    const req = r.request();
    if (req.resourceType() === 'document' && req.frame() === page.mainFrame() && r.status() === 200
        && !r.url().startsWith(callback.href)) {
      pages.push(new URL(r.url()).pathname);
    }
  });
  // A Content-Security-Policy violation is reported on the console.
  page.on('console', (m) => {
    if (m.type() === 'error' && !(m.location().url || '').endsWith('/favicon.ico')) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return page;
}

async function signIn(page) {
  await page.locator('input[name="email"]').fill(env('KEYGATE_EMAIL'));
  await page.locator('input[name="password"]').fill(env('KEYGATE_PASSWORD'));
  await page.locator('form[method="post"] button[type="submit"]').click();
}

function report(what, got, extra = {}) {
  console.log(JSON.stringify({ step: what, ...got, pages, ...extra }));
}

let page;
try {
  // 1. Signed out: the sign-in page; its answer posts the code.
  step('first request: sign in');
  page = await open(true);
  pages = [];
  await page.goto(urls[0]);
  let arrival = nextArrival();
  await signIn(page);
  report('signed_in', await arrival);
  await page.waitForURL((u) => u.href.startsWith(callback.href));

  // 2. Signed in: /authorize answers with the posting page at once.
  step('second request: the session');
  pages = [];
  arrival = nextArrival();
  await page.goto(urls[1]);
  report('session', await arrival);
  await page.waitForURL((u) => u.href.startsWith(callback.href));

  // 3. No scripts: the page's button posts the answer.
  step('third request: no scripts');
  const still = await open(false);
  page = still;
  pages = [];
  await page.goto(urls[2]);
  await signIn(page);
  const button = page.getByRole('button', { name: 'Continue', exact: true });
  await button.waitFor();
  arrival = nextArrival();
  await button.click();
  report('noscript', await arrival, { button: true });

  if (problems.length) throw new Error(`the pages logged errors: ${problems.join(' | ')}`);
} catch (e) {
  failed = true;
  console.error(`form_post.mjs: FAILED${page ? ` at ${page.url()}` : ''}: ${e && e.stack ? e.stack : e}`);
  console.error(`form_post.mjs: arrived: ${JSON.stringify(arrived)}`);
  if (page) {
    try {
      console.error(`form_post.mjs: page content: ${await page.content()}`);
    } catch {}
  }
} finally {
  await browser.close().catch(() => {});
  app.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
