// Drives the chat page in Debian's headless Chromium: two pages join one
// room, see each other's messages, and the user count goes 1 → 2 → 1.
// Usage: node chat.js http://127.0.0.1:PORT/samples/chat.html
'use strict';
const { withBrowser, run } = require('./browser');

const url = process.argv[2];
const timeout = 15000;

async function join(context, name, room) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(name + ' page error: ' + e));
  await page.goto(url);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForSelector('#input:not([disabled])', { timeout });
  return page;
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
}

async function expectLine(page, text, who) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === t),
    text, { timeout });
  console.log('ok ' + who + ' sees "' + text + '"');
}

async function expectCount(page, n, who) {
  await page.waitForFunction((n) => document.getElementById('count').textContent === String(n), n, { timeout });
  console.log('ok ' + who + ' sees ' + n + ' user(s)');
}

run(() => withBrowser(async (browser) => {
  const room = 'room-' + Date.now();
  const kim = await join(browser, 'kim', room);
  await expectCount(kim, 1, 'kim');
  const lee = await join(browser, 'lee', room);
  await expectCount(lee, 2, 'lee');
  await expectCount(kim, 2, 'kim');
  await expectLine(kim, '[ENTER] lee joined', 'kim');
  await say(kim, 'hello from kim');
  await expectLine(lee, 'kim: hello from kim', 'lee');
  await say(lee, '안녕 from lee');
  await expectLine(kim, 'lee: 안녕 from lee', 'kim');
  await lee.close();
  await expectLine(kim, '[QUIT] lee left', 'kim');
  await expectCount(kim, 1, 'kim');
  console.log('all ok');
}));
