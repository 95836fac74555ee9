// Server-Sent Events, read by the npm `eventsource` package (real
// reconnection with Last-Event-ID) and by raw HTTP for the wire details.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { startServer, post, getJson, openStream, parseSse, until, metric, texts } from './helpers.mjs';

let srv;
before(async () => {
  srv = await startServer({ PING_MS: '200' });
});
after(async () => {
  await srv?.stop();
});

/** An EventSource whose current connection the test can cut (the client sees the stream end and reconnects by itself). */
function cuttableEventSource(url) {
  const requests = [];
  let cut = () => {};
  const wrappedFetch = async (input, init) => {
    requests.push({ url: String(input), headers: { ...(init.headers || {}) } });
    const res = await fetch(input, init);
    if (!res.body) return res;
    const reader = res.body.getReader();
    let controller;
    const body = new ReadableStream({
      start(c) {
        controller = c;
      },
      async pull(c) {
        try {
          const { value, done } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch {
          try {
            c.close();
          } catch {}
        }
      },
    });
    cut = () => {
      reader.cancel().catch(() => {});
      try {
        controller.close();
      } catch {}
    };
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const es = new EventSource(url, { fetch: wrappedFetch });
  return { es, requests, cut: () => cut() };
}

function collect(es, types = ['message', 'gap', 'join', 'leave']) {
  const got = [];
  for (const t of types) es.addEventListener(t, (e) => got.push({ type: e.type, id: e.lastEventId, env: JSON.parse(e.data) }));
  return got;
}

test('SSE headers, retry and padding first, pings', { timeout: 5000 }, async () => {
  const s = openStream(`${srv.base}/rooms/sse-h/events`);
  const res = await s.response;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-accel-buffering'], 'no');
  await s.waitFor((t) => t.includes(': ping'), 2000);
  const text = s.text();
  assert.ok(text.startsWith('retry: 3000\n:'), JSON.stringify(text.slice(0, 20)));
  s.close();
});

test('SSE: every message in order, then a real reconnection with Last-Event-ID loses nothing and repeats nothing', { timeout: 15000 }, async () => {
  const room = 'sse-1';
  const { es, requests, cut } = cuttableEventSource(`${srv.base}/rooms/${room}/events?user=eve`);
  const got = collect(es, ['message']);
  await new Promise((resolve, reject) => {
    es.onopen = resolve;
    es.onerror = reject;
  });
  es.onerror = null;
  for (let i = 0; i < 20; i++) await post(srv.base, room, { user: 'ann', text: `a${i}` });
  await until(() => got.length === 20, 3000);
  cut();
  // Published while the client is away: it must get them on reconnection.
  for (let i = 0; i < 10; i++) await post(srv.base, room, { user: 'ann', text: `b${i}` });
  await until(() => requests.length === 2, 6000);
  for (let i = 10; i < 15; i++) await post(srv.base, room, { user: 'ann', text: `b${i}` });
  await until(() => got.length === 35, 3000);
  es.close();
  const want = [...Array.from({ length: 20 }, (_, i) => `a${i}`), ...Array.from({ length: 15 }, (_, i) => `b${i}`)];
  assert.deepEqual(got.map((g) => g.env.data.text), want);
  assert.equal(requests[1].headers['Last-Event-ID'], got[19].id);
  for (const g of got) assert.equal(g.id, g.env.id);
});

test('SSE: resume from the lastEventId query; the header wins over the query', { timeout: 5000 }, async () => {
  const room = 'sse-2';
  const keys = [];
  for (let i = 0; i < 5; i++) keys.push((await post(srv.base, room, { user: 'ann', text: `m${i}` })).json.id);
  const q = openStream(`${srv.base}/rooms/${room}/events?lastEventId=${keys[1]}`);
  await q.waitFor((t) => t.includes(`id: ${keys[4]}\n`));
  assert.deepEqual(texts(parseSse(q.text()).map((e) => JSON.parse(e.data))), ['m2', 'm3', 'm4']);
  q.close();
  const h = openStream(`${srv.base}/rooms/${room}/events?lastEventId=${keys[1]}`, { 'Last-Event-ID': keys[3] });
  await h.waitFor((t) => t.includes(`id: ${keys[4]}\n`));
  assert.deepEqual(texts(parseSse(h.text()).map((e) => JSON.parse(e.data))), ['m4']);
  h.close();
  // No key: live only.
  const live = openStream(`${srv.base}/rooms/${room}/events`);
  await live.waitFor((t) => t.startsWith('retry:'));
  await post(srv.base, room, { user: 'ann', text: 'live' });
  await live.waitFor((t) => t.includes('"live"'));
  assert.deepEqual(texts(parseSse(live.text()).map((e) => JSON.parse(e.data))), ['live']);
  live.close();
});

test('SSE: a stale key yields a gap, then everything held (eventsource)', { timeout: 5000 }, async () => {
  const room = 'sse-3';
  for (let i = 0; i < 3; i++) await post(srv.base, room, { user: 'ann', text: `m${i}` });
  const es = new EventSource(`${srv.base}/rooms/${room}/events?lastEventId=1-1`);
  const got = collect(es, ['message', 'gap']);
  await until(() => got.length === 4, 3000);
  es.close();
  assert.equal(got[0].type, 'gap');
  assert.deepEqual(got[0].env, { event: 'gap', topic: `chat.${room}`, from: '1-1', to: got[0].id });
  assert.deepEqual(got.slice(1).map((g) => g.env.data.text), ['m0', 'm1', 'm2']);
});

test('SSE: garbage and injected newlines in the resume key give a gap, never raw echo', { timeout: 5000 }, async () => {
  const room = 'sse-4';
  await post(srv.base, room, { user: 'ann', text: 'held' });
  for (const bad of ['garbage', 'a%0D%0Aevent:%20evil%0Adata:%20x', '1-1%00', 'x'.repeat(300)]) {
    const s = openStream(`${srv.base}/rooms/${room}/events?lastEventId=${bad}`);
    const res = await s.response;
    assert.equal(res.statusCode, 200);
    await s.waitFor((t) => t.includes('"held"'));
    const text = s.text();
    s.close();
    assert.ok(!/^event: evil/m.test(text));
    assert.ok(!text.includes('\u0000'));
    const events = parseSse(text);
    assert.equal(events[0].event, 'gap');
    const gap = JSON.parse(events[0].data);
    assert.equal(gap.event, 'gap');
    assert.equal(gap.to, events[0].id);
    assert.equal(events[1].event, 'message');
  }
  // The header too (a too-long one; CR/LF cannot pass Node's HTTP parser).
  const s = openStream(`${srv.base}/rooms/${room}/events`, { 'Last-Event-ID': 'k'.repeat(1000) });
  await s.waitFor((t) => t.includes('"held"'));
  assert.equal(parseSse(s.text())[0].event, 'gap');
  s.close();
});

test('SSE: presence join while open, gone after close', { timeout: 8000 }, async () => {
  const room = 'sse-5';
  const es = new EventSource(`${srv.base}/rooms/${room}/events?user=sam`);
  await new Promise((resolve) => (es.onopen = resolve));
  const users = async () => (await getJson(`${srv.base}/rooms/${room}/connectors`)).json.connectors.map((c) => c.user);
  await until(async () => (await users()).includes('sam'), 2000);
  es.close();
  await until(async () => !(await users()).includes('sam'), 5000);
});

test('SSE: a reader that stops reading is cut off (bounded buffering)', { timeout: 20000 }, async () => {
  const slow = await startServer({ WRITE_LIMIT: '65536' });
  try {
    const room = 'slow';
    const s = openStream(`${slow.base}/rooms/${room}/events`);
    await s.waitFor((t) => t.startsWith('retry:'));
    s.res.pause(); // stop reading: the kernel buffers fill, then the server's
    const text = 'x'.repeat(4000);
    let cut = false;
    for (let round = 0; round < 60 && !cut; round++) {
      await Promise.all(Array.from({ length: 50 }, () => post(slow.base, room, { user: 'ann', text })));
      cut = (await metric(slow.base, 'chat_slow_readers_closed_total')) > 0;
    }
    assert.ok(cut, 'the slow reader was cut off');
    await until(async () => (await metric(slow.base, 'pushbus_subscriptions')) === 0, 3000);
    s.res.resume();
    await s.ended;
    s.close();
  } finally {
    await slow.stop();
  }
});
