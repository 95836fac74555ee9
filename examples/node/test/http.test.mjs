// Plain HTTP endpoints: health, static, posting, polls, presence, metrics, CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, getJson, metric, until, openStream, sleep, texts } from './helpers.mjs';

let srv;
before(async () => {
  srv = await startServer({ ALLOWED_ORIGINS: 'http://allowed.example, http://other.example' });
});
after(async () => {
  await srv?.stop();
});

test('healthz, the page and its assets', { timeout: 5000 }, async () => {
  const h = await fetch(`${srv.base}/healthz`);
  assert.equal(h.status, 200);
  assert.equal(await h.text(), 'ok');
  const page = await fetch(`${srv.base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<html/i);
  const css = await fetch(`${srv.base}/static/style.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type'), /^text\/css/);
  await css.arrayBuffer();
  const traversal = await fetch(`${srv.base}/static/..%2f..%2fnode%2fserver.js`);
  assert.equal(traversal.status, 404);
  await traversal.arrayBuffer();
});

test('post: 201 with the key; bad room, bad JSON, bad fields, oversized body', { timeout: 5000 }, async () => {
  const ok = await post(srv.base, 'post-1', { user: 'ann', text: 'hello' });
  assert.equal(ok.status, 201);
  assert.match(ok.json.id, /^[0-9a-f]+-\d+$/);

  for (const room of ['a.b', 'x'.repeat(65), 'sp%20ace', '%C3%A9t%C3%A9']) {
    const r = await post(srv.base, room, { user: 'ann', text: 'x' });
    assert.equal(r.status, 400, room);
    assert.equal(typeof r.json.error, 'string');
  }
  const r64 = await post(srv.base, 'x'.repeat(64), { user: 'ann', text: 'x' });
  assert.equal(r64.status, 201);

  const badJson = await post(srv.base, 'post-1', '{"user": "ann", ');
  assert.equal(badJson.status, 400);
  assert.equal(typeof badJson.json.error, 'string');
  for (const body of [
    [],
    { text: 'x' },
    { user: '', text: 'x' },
    { user: 'u'.repeat(33), text: 'x' },
    { user: 'ann', text: '' },
    { user: 'ann', text: 'x'.repeat(4097) },
    { user: 'ann', text: 5 },
    'null',
  ]) {
    const r = await post(srv.base, 'post-1', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(typeof r.json.error, 'string');
  }
  const max = await post(srv.base, 'post-1', { user: 'u'.repeat(32), text: 'é'.repeat(2048) });
  assert.equal(max.status, 201);

  const big = await post(srv.base, 'post-1', JSON.stringify({ user: 'ann', text: 'x'.repeat(70 * 1024) }));
  assert.equal(big.status, 413);

  // Nothing but the two valid messages was published.
  const poll = await getJson(`${srv.base}/rooms/post-1/poll`);
  assert.deepEqual(
    poll.json.messages.map((m) => m.data.user),
    ['ann', 'u'.repeat(32)]
  );
});

test('short poll: last 50, ETag, If-None-Match 304, resume, bad key 400, stale key gap', { timeout: 10000 }, async () => {
  const room = 'poll-1';
  const keys = [];
  for (let i = 0; i < 60; i++) keys.push((await post(srv.base, room, { user: 'ann', text: `m${i}` })).json.id);
  const first = await getJson(`${srv.base}/rooms/${room}/poll?user=pat`);
  assert.equal(first.status, 200);
  assert.equal(first.json.messages.length, 50);
  assert.equal(first.json.messages[0].data.text, 'm10');
  assert.equal(first.json.messages[49].data.text, 'm59');
  assert.equal(first.json.key, keys[59]);
  assert.equal(first.headers.get('etag'), keys[59]);
  assert.equal(first.json.gap, null);
  const env = first.json.messages[0];
  assert.deepEqual(Object.keys(env), ['id', 'topic', 'seq', 'event', 'time', 'data']);
  assert.equal(env.topic, `chat.${room}`);
  assert.equal(env.event, 'message');

  // A poll refreshes the poller's presence lease.
  const conn = await getJson(`${srv.base}/rooms/${room}/connectors`);
  assert.ok(conn.json.connectors.some((c) => c.user === 'pat'));

  const resumed = await getJson(`${srv.base}/rooms/${room}/poll?key=${keys[54]}`);
  assert.deepEqual(texts(resumed.json.messages), ['m55', 'm56', 'm57', 'm58', 'm59']);
  // pat's join (from the lease) followed the last message.
  assert.deepEqual(resumed.json.messages.slice(5).map((m) => [m.event, m.data.client]), [['join', 'pat']]);
  const head = resumed.json.key;

  const r304 = await fetch(`${srv.base}/rooms/${room}/poll`, { headers: { 'If-None-Match': head } });
  assert.equal(r304.status, 304);
  assert.equal(r304.headers.get('etag'), head);
  const r304b = await fetch(`${srv.base}/rooms/${room}/poll?key=${head}`, { headers: { 'If-None-Match': head } });
  assert.equal(r304b.status, 304);
  const newer = await getJson(`${srv.base}/rooms/${room}/poll`, { 'If-None-Match': keys[58] });
  assert.equal(newer.status, 200);
  assert.deepEqual(texts(newer.json.messages), ['m59']);

  for (const bad of ['garbage', 'zz-1', '12-', '%0A12-1']) {
    const r = await getJson(`${srv.base}/rooms/${room}/poll?key=${bad}`);
    assert.equal(r.status, 400, bad);
  }
  const stale = await getJson(`${srv.base}/rooms/${room}/poll?key=1-1`);
  assert.equal(stale.status, 200);
  assert.equal(stale.json.gap.event, 'gap');
  assert.equal(stale.json.gap.from, '1-1');
  assert.equal(stale.json.gap.topic, `chat.${room}`);
});

test('long poll: at once when behind, held until the next message, timeout, bad key', { timeout: 15000 }, async () => {
  const room = 'lp-1';
  const k1 = (await post(srv.base, room, { user: 'ann', text: 'one' })).json.id;
  const k2 = (await post(srv.base, room, { user: 'ann', text: 'two' })).json.id;
  const atOnce = await getJson(`${srv.base}/rooms/${room}/longpoll?key=${k1}&timeout=5`);
  assert.deepEqual(atOnce.json.messages.map((m) => m.data.text), ['two']);
  assert.equal(atOnce.json.key, k2);

  const t0 = Date.now();
  const held = getJson(`${srv.base}/rooms/${room}/longpoll?key=${k2}&timeout=10`);
  await sleep(300);
  await post(srv.base, room, { user: 'ann', text: 'three' });
  const answer = await held;
  assert.ok(Date.now() - t0 < 3000);
  assert.deepEqual(answer.json.messages.map((m) => m.data.text), ['three']);

  const t1 = Date.now();
  const empty = await getJson(`${srv.base}/rooms/${room}/longpoll?key=${answer.json.key}&timeout=1`);
  assert.ok(Date.now() - t1 >= 900);
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json.messages, []);
  assert.equal(empty.json.key, answer.json.key);

  assert.equal((await getJson(`${srv.base}/rooms/${room}/longpoll?key=nope`)).status, 400);
  assert.equal((await getJson(`${srv.base}/rooms/${room}/longpoll?timeout=abc`)).status, 400);
});

test('long poll: a client that goes away releases its subscription at once', { timeout: 10000 }, async () => {
  const room = 'lp-2';
  await until(async () => (await metric(srv.base, 'pushbus_subscriptions')) === 0);
  const ac = new AbortController();
  const pending = fetch(`${srv.base}/rooms/${room}/longpoll?timeout=30`, { signal: ac.signal }).catch(() => null);
  await until(async () => (await metric(srv.base, 'chat_open_streams')) !== undefined && (await metric(srv.base, 'pushbus_subscriptions')) === 1);
  ac.abort();
  await pending;
  await until(async () => (await metric(srv.base, 'pushbus_subscriptions')) === 0, 2000);
});

test('presence: a stream joins while open and leaves when closed', { timeout: 10000 }, async () => {
  const room = 'presence-1';
  const s = openStream(`${srv.base}/rooms/${room}/events?user=zoe`);
  await s.waitFor((t) => t.startsWith('retry: 3000'));
  const users = async () => (await getJson(`${srv.base}/rooms/${room}/connectors`)).json.connectors.map((c) => c.user);
  await until(async () => (await users()).includes('zoe'), 2000);
  const c = (await getJson(`${srv.base}/rooms/${room}/connectors`)).json;
  assert.match(c.key, /^[0-9a-f]+-\d+$/);
  assert.equal(typeof c.connectors[0].since, 'number');
  s.close();
  await until(async () => !(await users()).includes('zoe'), 5000);
});

test('metrics: Prometheus text from the bus stats', { timeout: 5000 }, async () => {
  const r = await fetch(`${srv.base}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  const text = await r.text();
  for (const name of ['pushbus_published_total', 'pushbus_delivered_total', 'pushbus_gaps_total', 'pushbus_subscriptions', 'pushbus_topics', 'pushbus_replay_bytes']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    assert.match(text, new RegExp(`^${name} \\d+$`, 'm'));
  }
  assert.ok((await metric(srv.base, 'pushbus_published_total')) > 0);
});

test('CORS: preflight for listed origins only, ACAO on answers, never for null', { timeout: 5000 }, async () => {
  const pre = await fetch(`${srv.base}/rooms/lobby/messages`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://allowed.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'http://allowed.example');
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type/);
  assert.ok(Number(pre.headers.get('access-control-max-age')) > 0);
  assert.match(pre.headers.get('vary'), /Origin/);

  for (const origin of ['http://evil.example', 'null']) {
    const r = await fetch(`${srv.base}/rooms/lobby/messages`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
  }
  const get = await fetch(`${srv.base}/rooms/lobby/poll`, { headers: { Origin: 'http://other.example' } });
  assert.equal(get.headers.get('access-control-allow-origin'), 'http://other.example');
  assert.match(get.headers.get('access-control-expose-headers'), /ETag/);
  await get.arrayBuffer();
  const err = await post(srv.base, 'bad.room', { user: 'a', text: 'b' }, { Origin: 'http://other.example' });
  assert.equal(err.status, 400);
  assert.equal(err.headers.get('access-control-allow-origin'), 'http://other.example');
});
