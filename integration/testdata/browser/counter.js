// Drives the failover counter page (/samples/) in Debian's headless
// Chromium through a proxy: three incr, then it prints the JSESSIONID
// cookie and waits for a line on stdin (the test kills the node that
// serves it meanwhile); then it reconnects until the page is connected
// again, expects the count 3, clicks incr once more (4) and prints the
// cookie the browser holds now (re-pinned by the 101).
// Usage: node counter.js http://PROXY/samples/
'use strict';
const { withBrowser, run } = require('./browser');
const readline = require('readline');

const url = process.argv[2];
const timeout = 15000;

async function sessionCookie(context) {
  const c = (await context.cookies()).find((c) => c.name === 'JSESSIONID');
  return c ? c.value : '';
}

async function expectCount(page, n) {
  await page.waitForFunction((n) => document.getElementById('count').textContent === String(n), n, { timeout });
  console.log('ok count ' + n);
}

run(() => withBrowser(async (browser) => {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log('page error: ' + e));
  await page.goto(url);
  await page.waitForSelector('#incr:not([disabled])', { timeout });
  for (let i = 1; i <= 3; i++) {
    await page.click('#incr');
    await expectCount(page, i);
  }
  console.log('cookie ' + await sessionCookie(browser));
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.click('#reconnect');
    try {
      await page.waitForSelector('#incr:not([disabled])', { timeout: 1000 });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error('the page did not reconnect');
    }
  }
  await expectCount(page, 3);
  await page.click('#incr');
  await expectCount(page, 4);
  console.log('cookie ' + await sessionCookie(browser));
  console.log('all ok');
}));
