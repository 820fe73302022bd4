// Signing in through an upstream identity provider in Debian's headless
// Chromium, as a person would: on Keygate's sign-in page they click
// "Continue with NAME", sign in on the upstream's page (node oidc-provider's
// development form, started by the Rust test with oidc_upstream.mjs), allow
// it there, and land on the application with a code. Twice, each time in a
// new browser context (no cookies of either side kept).
//
// Run by the Rust test crates/keygate/tests/e2e/federation_upstream.rs,
// which exchanges the codes; one JSON object per run on stdout:
// {"step": "run1"|"run2", "upstream_pages": ["login", "consent"], "query": {...}}.
//
// Environment:
//   KEYGATE_AUTHORIZE_URL  the authorization URL (shows the sign-in page)
//   KEYGATE_CALLBACK       the client's redirect URI, http://127.0.0.1:PORT/callback,
//                          served here
//   KEYGATE_IDP_NAME       the upstream's name on the sign-in page
//   UPSTREAM_ISSUER        the upstream's issuer (its pages are under it)
//   UPSTREAM_LOGIN         the account to sign in as there (any password)
//   CHROMIUM               the browser (default /usr/bin/chromium)

import { createServer } from 'node:http';
import { launchChromium } from './chromium.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const authorizeUrl = env('KEYGATE_AUTHORIZE_URL');
const callback = env('KEYGATE_CALLBACK');
const idpName = env('KEYGATE_IDP_NAME');
const upstream = env('UPSTREAM_ISSUER');
const login = env('UPSTREAM_LOGIN');

const watchdog = setTimeout(() => {
  console.error('federation.mjs: timed out');
  process.exit(2);
}, 90_000);

function step(message) {
  console.error(`federation.mjs: ${message}`);
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

/** One sign-in, from the application's authorization URL to its callback. */
async function run(n) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  // oidc-provider's development pages import a web font; there is no network.
  await context.route((u) => !u.href.startsWith('http://127.0.0.1') && !u.href.startsWith('http://localhost'),
    (r) => r.abort());
  const page = await context.newPage();
  try {
    step(`run ${n}: Keygate's sign-in page`);
    await page.goto(authorizeUrl);
    const link = page.getByRole('link', { name: `Continue with ${idpName}`, exact: true });
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${upstream}/`)),
      link.click(),
    ]);

    // The upstream's pages, until the application is reached.
    const upstreamPages = [];
    for (let i = 0; i < 4 && !page.url().startsWith(`${callback}?`); i += 1) {
      if (!page.url().startsWith(`${upstream}/`)) {
        throw new Error(`left the upstream for ${page.url()}: ${await page.locator('body').innerText()}`);
      }
      const prompt = await page.locator('input[name="prompt"]').getAttribute('value');
      upstreamPages.push(prompt);
      step(`run ${n}: the upstream's ${prompt} page`);
      // Each form posts, and the upstream redirects on to another page
      // (its next form, or back to Keygate and on to the application).
      const before = page.url();
      let button;
      if (prompt === 'login') {
        await page.locator('input[name="login"]').fill(login);
        await page.locator('input[name="password"]').fill('any password');
        button = page.getByRole('button', { name: 'Sign-in' });
      } else if (prompt === 'consent') {
        button = page.getByRole('button', { name: 'Continue' });
      } else {
        throw new Error(`an unexpected upstream page: ${prompt}`);
      }
      await Promise.all([page.waitForURL((u) => u.href !== before), button.click()]);
    }
    if (!page.url().startsWith(`${callback}?`)) {
      throw new Error(`did not reach the application: ${page.url()}: ${await page.locator('body').innerText()}`);
    }
    const query = Object.fromEntries(new URL(page.url()).searchParams);
    console.log(JSON.stringify({ step: `run${n}`, upstream_pages: upstreamPages, query }));
  } finally {
    await context.close();
  }
}

try {
  await run(1);
  await run(2);
} catch (e) {
  failed = true;
  console.error(`federation.mjs: ${e.stack || e}`);
} finally {
  clearTimeout(watchdog);
  await browser.close();
  app.close();
}
process.exit(failed ? 1 : 0);
