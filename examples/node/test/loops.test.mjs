// Clients that loop (long poll, short poll) while messages are published,
// a key that fell out of the replay ring, and the WebSocket handshake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, post, getJson, texts, parseSse, openStream } from './helpers.mjs';

let srv;
before(async () => {
  srv = await startServer({ RING_MAX: '64' });
});
after(async () => {
  await srv?.stop();
});

async function publishAll(room, n, prefix) {
  for (let i = 0; i < n; i++) {
    const r = await post(srv.base, room, { user: 'ann', text: `${prefix}${i}` });
    assert.equal(r.status, 201);
  }
}

test('long poll loop: every message once, in order, while publishing', { timeout: 15000 }, async () => {
  const room = 'loop-lp';
  const start = (await getJson(`${srv.base}/rooms/${room}/poll`)).json.key;
  const want = Array.from({ length: 40 }, (_, i) => `p${i}`);
  const got = [];
  const reader = (async () => {
    let key = start;
    while (got.length < want.length) {
      const r = await getJson(`${srv.base}/rooms/${room}/longpoll?key=${key}&timeout=5`);
      assert.equal(r.status, 200);
      assert.equal(r.json.gap, null);
      got.push(...texts(r.json.messages));
      key = r.json.key;
    }
  })();
  await publishAll(room, 40, 'p');
  await reader;
  assert.deepEqual(got, want);
});

test('short poll loop: every message once, in order, while publishing', { timeout: 15000 }, async () => {
  const room = 'loop-sp';
  let key = (await getJson(`${srv.base}/rooms/${room}/poll`)).json.key;
  const got = [];
  const publisher = publishAll(room, 40, 's');
  let done = false;
  publisher.then(() => (done = true));
  let after = 0;
  while (after < 2) {
    const r = await fetch(`${srv.base}/rooms/${room}/poll?key=${key}`, { headers: { 'If-None-Match': key } });
    if (r.status === 200) {
      const body = await r.json();
      got.push(...texts(body.messages));
      key = body.key;
      assert.equal(r.headers.get('etag'), key);
    } else {
      assert.equal(r.status, 304);
      await r.arrayBuffer();
    }
    if (done) after++;
  }
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => `s${i}`));
});

test('a key older than the replay ring gets a gap on polls and streams', { timeout: 10000 }, async () => {
  const room = 'ring';
  const old = (await post(srv.base, room, { user: 'ann', text: 'first' })).json.id;
  await publishAll(room, 100, 'r');
  const p = await getJson(`${srv.base}/rooms/${room}/poll?key=${old}`);
  assert.equal(p.status, 200);
  assert.equal(p.json.gap.from, old);
  assert.equal(texts(p.json.messages).at(-1), 'r99');
  const s = openStream(`${srv.base}/rooms/${room}/events`, { 'Last-Event-ID': old });
  await s.waitFor((t) => t.includes('"r99"'));
  s.close();
  const events = parseSse(s.text());
  assert.equal(events[0].event, 'gap');
  assert.equal(JSON.parse(events[0].data).from, old);
  const msgs = texts(events.slice(1).map((e) => JSON.parse(e.data)));
  assert.equal(msgs.at(-1), 'r99');
  // What follows the gap is contiguous.
  const first = Number(msgs[0].slice(1));
  assert.deepEqual(msgs, Array.from({ length: 100 - first }, (_, i) => `r${first + i}`));
});

function rawUpgrade(port, headers) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      const lines = ['GET /rooms/hs/ws HTTP/1.1', `Host: 127.0.0.1:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
      sock.write(lines.join('\r\n'));
    });
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      data += d;
      if (data.includes('\r\n\r\n')) {
        sock.destroy();
        resolve(data);
      }
    });
    sock.on('error', reject);
    setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer'));
    }, 3000);
  });
}

test('WebSocket handshake: accept key, case-insensitive tokens, 426 for other versions', { timeout: 5000 }, async () => {
  const ok = await rawUpgrade(srv.port, {
    Upgrade: 'WebSocket',
    Connection: 'keep-alive, Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
  });
  assert.match(ok, /^HTTP\/1\.1 101 /);
  assert.match(ok, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
  const old = await rawUpgrade(srv.port, {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '8',
  });
  assert.match(old, /^HTTP\/1\.1 426 /);
  assert.match(old, /\r\nSec-WebSocket-Version: 13\r\n/);
  const bad = await rawUpgrade(srv.port, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13' });
  assert.match(bad, /^HTTP\/1\.1 400 /);
});
