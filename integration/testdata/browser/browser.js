// The one way the browser tests start Chromium: Debian's, headless, in a
// fresh profile that is removed afterwards. withBrowser runs fn with the
// browser context and closes both whatever fn does.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function withBrowser(fn) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    await fn(browser);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// run runs main and exits 1, printing FAIL, when it throws.
function run(main) {
  main().catch((e) => { console.error('FAIL: ' + (e && e.stack || e)); process.exit(1); });
}

module.exports = { withBrowser, run };
