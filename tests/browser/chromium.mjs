// Debian's headless Chromium, launched the one way every browser test here
// launches it (playwright-core drives it and downloads no browser). The
// driver is imported on first use, so a script that may finish without a
// browser (mcp_client.mjs registering only) never loads it.

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches `$CHROMIUM` (default /usr/bin/chromium), headless. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
}
