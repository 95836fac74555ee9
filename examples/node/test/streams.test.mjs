// XHR streaming (fetch), hidden-iframe streaming (raw HTTP) and WebSocket (ws).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, post, getJson, openStream, parseNdjson, until, metric, texts, sleep } from './helpers.mjs';

let srv;
before(async () => {
  srv = await startServer({ PING_MS: '200', STREAM_BUDGET: '8192', ALLOWED_ORIGINS: 'http://allowed.example' });
});
after(async () => {
  await srv?.stop();
});

/** Reads an XHR stream with fetch until it ends (or `stopWhen`): { head, text }. */
async function readXhr(url, stopWhen = () => false, ms = 5000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const res = await fetch(url, { signal: ac.signal });
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += decoder.decode(chunk, { stream: true });
      if (stopWhen(text)) break;
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { res, text };
}

test('XHR: headers, 2 KiB prelude, one envelope per line in order, heartbeats', { timeout: 5000 }, async () => {
  const room = 'xhr-1';
  const k0 = (await post(srv.base, room, { user: 'ann', text: 'm0' })).json.id;
  for (let i = 1; i < 5; i++) await post(srv.base, room, { user: 'ann', text: `m${i}` });
  const { res, text } = await readXhr(`${srv.base}/rooms/${room}/xhr?key=${k0}`, (t) => t.includes('"m4"') && /\n\n$/.test(t));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/x-ndjson/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-accel-buffering'), 'no');
  assert.ok(text.indexOf('{') >= 2048, 'prelude of at least 2 KiB');
  assert.deepEqual(texts(parseNdjson(text)), ['m1', 'm2', 'm3', 'm4']);
});

test('XHR: byte budget closes the stream; reopening from the last key loses and repeats nothing', { timeout: 10000 }, async () => {
  const room = 'xhr-2';
  const first = (await post(srv.base, room, { user: 'ann', text: 'start' })).json.id;
  const want = [];
  for (let i = 0; i < 40; i++) {
    want.push(`m${i}-${'y'.repeat(500)}`);
    await post(srv.base, room, { user: 'ann', text: want[i] });
  }
  let key = first;
  const got = [];
  let opens = 0;
  while (got.length < want.length && opens < 20) {
    opens++;
    const { text } = await readXhr(`${srv.base}/rooms/${room}/xhr?key=${key}`, () => false, 3000);
    const envs = parseNdjson(text);
    for (const e of envs) {
      got.push(e.data.text);
      key = e.id;
    }
  }
  assert.ok(opens > 1, 'the budget closed the stream at least once');
  assert.deepEqual(got, want);
  assert.ok((await metric(srv.base, 'chat_stream_budget_closed_total')) > 0);
});

test('XHR: a stale key and a garbage key give a gap line', { timeout: 5000 }, async () => {
  const room = 'xhr-3';
  await post(srv.base, room, { user: 'ann', text: 'held' });
  for (const bad of ['1-1', 'garbage']) {
    const { text } = await readXhr(`${srv.base}/rooms/${room}/xhr?key=${bad}`, (t) => t.includes('"held"') && t.endsWith('\n'));
    const envs = parseNdjson(text);
    assert.equal(envs[0].event, 'gap');
    assert.equal(envs[0].from, bad);
    assert.deepEqual(texts(envs.slice(1)), ['held']);
  }
});

test('iframe: hostile callbacks are 400', { timeout: 5000 }, async () => {
  for (const cb of ['', 'alert(1)//', '</script><script>alert(1)', '1abc', 'a b', 'x'.repeat(65), 'f%0A']) {
    const r = await getJson(`${srv.base}/rooms/iframe-1/iframe?cb=${encodeURIComponent(cb)}`);
    assert.equal(r.status, 400, cb);
    assert.ok(!r.text.includes('<script'));
  }
  const none = await getJson(`${srv.base}/rooms/iframe-1/iframe`);
  assert.equal(none.status, 400);
});

test('iframe: padding, one script per message, escaped payloads, heartbeat, budget', { timeout: 8000 }, async () => {
  const room = 'iframe-2';
  const k0 = (await post(srv.base, room, { user: 'ann', text: 'm0' })).json.id;
  await post(srv.base, room, { user: 'ann', text: '</script><script>alert(1)</script><!--' });
  await post(srv.base, room, { user: 'ann', text: 'line\u2028sep' });
  const s = openStream(`${srv.base}/rooms/${room}/iframe?cb=chat.onMessage&key=${k0}`);
  const res = await s.response;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  await s.waitFor((t) => t.includes('parent.chat.onMessage(null)'), 3000);
  const text = s.text();
  s.close();
  assert.ok(text.indexOf('<script>') >= 2048, 'padding of at least 2 KiB');
  const scripts = [...text.matchAll(/<script>parent\.chat\.onMessage\((.*?)\)<\/script>/g)].map((m) => m[1]);
  const envs = scripts.filter((x) => x !== 'null').map((x) => JSON.parse(x));
  assert.deepEqual(texts(envs), ['</script><script>alert(1)</script><!--', 'line\u2028sep']);
  assert.equal((text.match(/<script>/g) || []).length, scripts.length);
  assert.ok(!text.includes('\u2028'));

  // Byte budget: the stream closes by itself; the page reopens from its key.
  for (let i = 0; i < 30; i++) await post(srv.base, room, { user: 'ann', text: 'z'.repeat(500) });
  const b = openStream(`${srv.base}/rooms/${room}/iframe?cb=f&key=${k0}`);
  await b.ended;
  assert.ok(b.text().length >= 8192 && b.text().endsWith('</script>\n'));
});

/** Opens a WebSocket and collects its envelopes. */
async function openWs(url, options) {
  const ws = new WebSocket(url, options);
  const got = [];
  ws.on('message', (d, binary) => {
    assert.equal(binary, false);
    got.push(JSON.parse(d.toString()));
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, got };
}

const wsBase = () => srv.base.replace('http:', 'ws:');

test('WebSocket: order, posting over the socket, resume from a key, presence', { timeout: 8000 }, async () => {
  const room = 'ws-1';
  const a = await openWs(`${wsBase()}/rooms/${room}/ws?user=wes`);
  const users = async () => (await getJson(`${srv.base}/rooms/${room}/connectors`)).json.connectors.map((c) => c.user);
  await until(async () => (await users()).includes('wes'), 2000);
  for (let i = 0; i < 10; i++) a.ws.send(JSON.stringify({ type: 'message', user: 'wes', text: `w${i}` }));
  a.ws.send('not json');
  a.ws.send(JSON.stringify({ type: 'message', user: '', text: 'invalid user' }));
  for (let i = 10; i < 20; i++) await post(srv.base, room, { user: 'ann', text: `w${i}` });
  await until(() => texts(a.got).length === 20, 3000);
  const msgs = a.got.filter((e) => e.event === 'message');
  assert.deepEqual(texts(msgs), Array.from({ length: 20 }, (_, i) => `w${i}`));
  assert.deepEqual(Object.keys(msgs[0]), ['id', 'topic', 'seq', 'event', 'time', 'data']);
  a.ws.close();
  await until(async () => !(await users()).includes('wes'), 5000);

  // Resume after the 10th: exactly the rest, in order.
  const b = await openWs(`${wsBase()}/rooms/${room}/ws?key=${msgs[9].id}`);
  await until(() => texts(b.got).length === 10, 3000);
  await sleep(100);
  assert.deepEqual(texts(b.got), Array.from({ length: 10 }, (_, i) => `w${i + 10}`));
  b.ws.close();

  // A stale key: a gap first.
  const c = await openWs(`${wsBase()}/rooms/${room}/ws?key=1-1`);
  await until(() => texts(c.got).length === 20, 3000);
  assert.equal(c.got[0].event, 'gap');
  assert.equal(c.got[0].from, '1-1');
  c.ws.close();
});

test('WebSocket: bad room 400, disallowed origin 403, allowed origin ok', { timeout: 5000 }, async () => {
  const status = (url, options) =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, options);
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => {});
    });
  assert.equal(await status(`${wsBase()}/rooms/bad.room/ws`), 400);
  assert.equal(await status(`${wsBase()}/rooms/ok/ws`, { origin: 'http://evil.example' }), 403);
  assert.equal(await status(`${wsBase()}/rooms/ok/ws`, { origin: 'null' }), 403);
  assert.equal(await status(`${wsBase()}/rooms/ok/ws`, { origin: 'http://allowed.example' }), 101);
});

test('WebSocket: a reader that stops reading is cut off', { timeout: 20000 }, async () => {
  const slow = await startServer({ WRITE_LIMIT: '65536' });
  try {
    const room = 'ws-slow';
    const base = slow.base.replace('http:', 'ws:');
    const reader = await openWs(`${base}/rooms/${room}/ws`);
    reader.ws._socket.pause(); // stop reading at the TCP level
    const closed = new Promise((resolve) => reader.ws.once('close', resolve));
    const writer = await openWs(`${base}/rooms/${room}/ws?key=1-1`);
    writer.ws.on('message', () => {});
    const text = 'x'.repeat(4000);
    let cut = false;
    for (let round = 0; round < 100 && !cut; round++) {
      for (let i = 0; i < 100; i++) writer.ws.send(JSON.stringify({ type: 'message', user: 'ann', text }));
      await sleep(20);
      cut = (await metric(slow.base, 'chat_slow_readers_closed_total')) > 0;
    }
    assert.ok(cut, 'the slow reader was cut off');
    reader.ws._socket.resume();
    await closed;
    writer.ws.terminate();
  } finally {
    await slow.stop();
  }
});
