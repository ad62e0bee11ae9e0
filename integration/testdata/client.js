#!/usr/bin/env node
// Interoperability checks of the wsc echo endpoint with the Node ws package.
//
// Usage: NODE_PATH=/usr/share/nodejs node client.js ws://127.0.0.1:PORT/samples/echo
//
// Prints one line per check ("ok" or "FAIL") and exits 1 if any check
// failed. Written for ws 8.x (message events carry (data, isBinary)).
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const MIB = 1 << 20;
const TIMEOUT_MS = 15000; // for any one step

const failures = [];

function report(name, ok, detail) {
  if (ok) {
    console.log(`ok   ${name}`);
  } else {
    console.log(`FAIL ${name}: ${detail}`);
    failures.push(name);
  }
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A short description of a message for failure output.
function describe(m) {
  if (!m) return String(m);
  const kind = m.isBinary ? 'binary' : 'text';
  const head = m.data.subarray(0, 40);
  return `${kind} of ${m.data.length} bytes starting ${JSON.stringify(head.toString(m.isBinary ? 'hex' : 'utf8'))}`;
}

// Client wraps a WebSocket with a queue of received messages, so that a
// check can wait for the next one.
class Client {
  constructor(url, perMessageDeflate) {
    this.ws = new WebSocket(url, { perMessageDeflate, handshakeTimeout: TIMEOUT_MS });
    this.messages = [];
    this.waiters = [];
    this.ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary };
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(m);
      else this.messages.push(m);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        for (const w of this.waiters.splice(0)) w.reject(new Error(`closed with ${code}`));
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on('error', (err) => {
      for (const w of this.waiters.splice(0)) w.reject(err);
    });
  }

  open() {
    return withTimeout(new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    }), 'open');
  }

  next() {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift());
    return withTimeout(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })), 'a message');
  }

  // send sends one frame; options as for ws.send.
  send(data, options) {
    return withTimeout(new Promise((resolve, reject) => {
      this.ws.send(data, options, (err) => (err ? reject(err) : resolve()));
    }), 'a send');
  }
}

// checkEcho runs send() and checks that the next message is expected
// (a Buffer) with the expected type.
async function checkEcho(c, name, isBinary, expected, send) {
  try {
    await send();
    const got = await c.next();
    const ok = got.isBinary === isBinary && got.data.equals(expected);
    report(name, ok, `sent ${describe({ data: expected, isBinary })}, got ${describe(got)}`);
  } catch (err) {
    report(name, false, String(err));
  }
}

function echo(c, name, data, isBinary) {
  const expected = Buffer.from(data);
  return checkEcho(c, name, isBinary, expected, () => c.send(data, { binary: isBinary }));
}

// fragmented sends each fragment as a frame: fin false, then true on the last.
function fragmented(c, name, fragments, isBinary) {
  const expected = Buffer.concat(fragments.map((f) => Buffer.from(f)));
  return checkEcho(c, name, isBinary, expected, async () => {
    for (let i = 0; i < fragments.length; i++) {
      await c.send(fragments[i], { binary: isBinary, fin: i === fragments.length - 1 });
    }
  });
}

function randomText(n) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?';
  const bytes = crypto.randomBytes(n);
  for (let i = 0; i < n; i++) bytes[i] = alphabet.charCodeAt(bytes[i] % alphabet.length);
  return bytes.toString('latin1');
}

async function echoChecks(url, label, perMessageDeflate) {
  const c = new Client(url, perMessageDeflate);
  try {
    await c.open();
  } catch (err) {
    report(`${label} open`, false, String(err));
    return;
  }
  const ext = c.ws.extensions;
  if (perMessageDeflate) {
    report(`${label} permessage-deflate negotiated`, ext.includes('permessage-deflate'), `extensions ${JSON.stringify(ext)}`);
  } else {
    report(`${label} no extension negotiated`, ext === '', `extensions ${JSON.stringify(ext)}`);
  }

  await echo(c, `${label} text`, 'Hello, wsc!', false);
  await echo(c, `${label} binary`, Buffer.from([...Array(256).keys()]), true);
  await echo(c, `${label} empty text`, '', false);
  await echo(c, `${label} empty binary`, Buffer.alloc(0), true);
  await fragmented(c, `${label} fragmented text`, ['frag', 'ment', 'ed 텍스트 ✓'], false);
  // A text message may split a UTF-8 sequence between fragments.
  const check = Buffer.from('✓ done', 'utf8');
  await fragmented(c, `${label} fragmented text splitting a UTF-8 sequence`, [check.subarray(0, 1), check.subarray(1, 2), check.subarray(2)], false);
  await fragmented(c, `${label} fragmented binary`, [Buffer.from([0, 1]), Buffer.alloc(0), Buffer.alloc(1000, 0xff)], true);
  await echo(c, `${label} 1 MiB text`, randomText(MIB), false);
  await echo(c, `${label} 1 MiB binary`, crypto.randomBytes(MIB), true);
  await echo(c, `${label} UTF-8 text`, '안녕하세요, 세계! 🌍🚀 — ünïcödé 𝄞', false);

  try {
    const payload = Buffer.from('wsc-ping');
    const pong = withTimeout(new Promise((resolve) => c.ws.once('pong', resolve)), 'pong');
    c.ws.ping(payload);
    const got = await pong;
    report(`${label} ping/pong`, got.equals(payload), `pong payload ${JSON.stringify(got.toString())}`);
  } catch (err) {
    report(`${label} ping/pong`, false, String(err));
  }

  // 100 messages pipelined, then 100 reads: the echoes keep their order.
  try {
    const sent = [];
    for (let i = 0; i < 100; i++) {
      const m = { data: Buffer.from(`message ${i}`), isBinary: i % 2 === 1 };
      sent.push(m);
      c.ws.send(m.data, { binary: m.isBinary });
    }
    let bad = -1;
    let got;
    for (let i = 0; i < sent.length; i++) {
      got = await c.next();
      if (bad < 0 && (got.isBinary !== sent[i].isBinary || !got.data.equals(sent[i].data))) {
        bad = i;
        report(`${label} 100 pipelined messages in order`, false, `message ${i}: got ${describe(got)}`);
      }
    }
    if (bad < 0) report(`${label} 100 pipelined messages in order`, true);
  } catch (err) {
    report(`${label} 100 pipelined messages in order`, false, String(err));
  }

  try {
    c.ws.close(1000, 'bye');
    const { code, reason } = await withTimeout(c.closed, 'close');
    report(`${label} close 1000`, code === 1000, `close code ${code}, reason ${JSON.stringify(reason)}`);
  } catch (err) {
    report(`${label} close 1000`, false, String(err));
  }
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: client.js ws://HOST:PORT/samples/echo');
    process.exit(2);
  }
  console.log(`ws ${require('ws/package.json').version}, node ${process.version}, ${url}`);
  await echoChecks(url, '[deflate]', true);
  await echoChecks(url, '[plain]', false);
}

const watchdog = setTimeout(() => {
  report('run', false, 'did not finish in 50 s');
  process.exit(1);
}, 50000);

main()
  .catch((err) => report('run', false, String(err && err.stack)))
  .finally(() => {
    clearTimeout(watchdog);
    if (failures.length > 0) {
      console.log(`${failures.length} check(s) failed`);
      process.exit(1);
    }
    console.log('all checks passed');
  });
