// Drives the admin console in Debian's headless Chromium, as an operator
// would: the sign-in page, the authenticator app's enrolment (the code
// computed here from the secret the page shows), the dashboard, the
// operators page reached by keyboard alone, the phone-sized layout, and
// signing out. Screenshots of each page are saved for the docs.
//
// Run by the Rust test crates/keygate/tests/e2e/console_browser.rs, which
// reads the steps from stdout (one JSON object per line).
//
// Environment:
//   KEYGATE_CONSOLE_URL     {PUBLIC_URL}/admin/
//   KEYGATE_EMAIL, KEYGATE_PASSWORD   the operator (made by `keygate admin create`)
//   KEYGATE_SCREENSHOTS     a folder for console-*.png
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
  console.error('console.mjs: timed out');
  process.exit(2);
}, 90_000);

function out(v) {
  console.log(JSON.stringify(v));
}

const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
// The policy allows no script and one stylesheet: any violation is a failure.
const violations = [];
page.on('console', (m) => {
  if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
});

try {
  await page.goto(consoleUrl);
  if (!page.url().endsWith('/admin/sign-in')) throw new Error(`not sent to sign in: ${page.url()}`);
  await page.screenshot({ path: `${shots}/console-sign-in.png`, fullPage: true });
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in/second-factor');
  const secret = (await page.locator('#secret').textContent()).trim();
  await page.locator('.qr svg').waitFor();
  await page.screenshot({ path: `${shots}/console-enrol.png`, fullPage: true });
  await page.getByLabel('Code from the app').fill(totp(base32(secret)));
  await page.getByRole('button', { name: 'Confirm and sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/');
  const bars = await page.locator('.chart svg rect').count();
  const heading = await page.locator('h1').textContent();
  out({ step: 'dashboard', heading, bars });
  await page.screenshot({ path: `${shots}/console-dashboard.png`, fullPage: true });

  // By keyboard alone: Tab to "Operators", Enter.
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent?.trim() === 'Operators');
  }
  if (!reached) throw new Error('Tab never reached the Operators link');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/admin/operators');
  out({ step: 'operators_by_keyboard', outline, rows: await page.locator('tbody tr').count() });
  await page.screenshot({ path: `${shots}/console-operators.png`, fullPage: true });

  // A phone: nothing wider than the screen.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(consoleUrl);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  out({ step: 'phone', overflow });
  await page.screenshot({ path: `${shots}/console-dashboard-phone.png`, fullPage: true });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in');
  await page.goto(consoleUrl);
  out({ step: 'signed_out', url: new URL(page.url()).pathname, violations });
} finally {
  clearTimeout(watchdog);
  await browser.close();
}
