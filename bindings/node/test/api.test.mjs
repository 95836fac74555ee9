// The package's API: publish, subscribe, resume, gaps, patterns, iteration,
// frames, presence, polls, tokens, framing helpers, access tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pushbus, { Bus, Message, Gap, Closed, PushbusError, framing, formatKey, parseKey, isToken, verifyToken } from 'pushbus';
import { collect, within, hs256, PACKAGE_DIR } from './helpers.mjs';

const require = createRequire(import.meta.url);

test('both entry points give the same classes, and the library matches the package version', () => {
  const cjs = require('pushbus');
  assert.equal(cjs.Bus, Bus);
  assert.equal(cjs.PushbusError, PushbusError);
  assert.equal(pushbus.Bus, Bus);
  const pkg = JSON.parse(readFileSync(`${PACKAGE_DIR}/package.json`, 'utf8'));
  assert.equal(pushbus.version, pkg.version);
});

test('a subscriber gets every message in order, with keys, kinds, event types and times', async () => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('chat.lobby');
    const got = collect(sub, 'message', 3);
    const before = Date.now();
    const k1 = bus.publish('chat.lobby', { user: 'ann', text: 'hi' }, { event: 'message' });
    const k2 = bus.publish('chat.lobby', 'plain text');
    const k3 = bus.publish('chat.lobby', Buffer.from([0, 255, 1]));
    const [m1, m2, m3] = await got;
    assert.ok(m1 instanceof Message);
    assert.deepEqual([m1.key, m2.key, m3.key], [k1, k2, k3]);
    assert.deepEqual([m1.seq, m2.seq, m3.seq], [1, 2, 3]);
    assert.deepEqual([m1.kind, m2.kind, m3.kind], ['json', 'text', 'binary']);
    assert.deepEqual(m1.json(), { user: 'ann', text: 'hi' });
    assert.equal(m1.event, 'message');
    assert.equal(m2.event, '');
    assert.equal(m2.text(), 'plain text');
    assert.deepEqual([...m3.data], [0, 255, 1]);
    assert.equal(m1.topic, 'chat.lobby');
    assert.equal(m1.subscription, sub);
    // pushbus stamps times from the coarse real-time clock (a tick of 1-10 ms).
    assert.ok(m1.time >= before - 20 && m1.time <= Date.now() + 20, `time ${m1.time} vs ${before}`);
    // Keys render exactly as the C library renders them.
    assert.equal(formatKey(parseKey(k2)), k2);
    assert.match(k2, /^[0-9a-f]+-2$/);
    assert.equal(bus.head('chat.lobby'), k3);
  } finally {
    bus.close();
  }
});

test('keys rendered in JavaScript equal pushbus_key_format for large epochs and seqs', () => {
  for (const [epoch, seq] of [
    [0n, 0n],
    [1n, 1n],
    [0xffffffffn, 4294967296n],
    [0xfedcba987654n, 9007199254740993n],
    [0xfedcba9876543210n, 12n],
    [0xffffffffffffffffn, 0xffffffffffffffffn],
  ]) {
    const text = formatKey({ epoch, seq }); // pushbus_key_format
    assert.equal(text, `${epoch.toString(16)}-${seq}`);
    const raw = Buffer.alloc(16);
    raw.writeBigUInt64LE(epoch, 0);
    raw.writeBigUInt64LE(seq, 8);
    assert.equal(pushbus._internal.keyText(raw, 0), text); // the drain's renderer
    // Epochs are 48 bits: only those parse back.
    if (epoch < 1n << 48n) assert.deepEqual(parseKey(text), { epoch, seq });
    else assert.throws(() => parseKey(text), { code: 'PUSHBUS_BAD_TOKEN' });
  }
});

test('payloads are copies that outlive later drains', async () => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('t');
    const got = collect(sub, 'message', 600);
    for (let i = 0; i < 600; i++) bus.publish('t', `payload number ${i} `.repeat(1 + (i % 7)));
    const messages = await got;
    messages.forEach((m, i) => assert.equal(m.text(), `payload number ${i} `.repeat(1 + (i % 7))));
  } finally {
    bus.close();
  }
});

test('resume after a key gets exactly what followed; oldest and last n start where they say', async () => {
  const bus = new Bus();
  try {
    const keys = [];
    for (let i = 0; i < 10; i++) keys.push(bus.publish('room', { i }));
    const after = bus.subscribe('room', { start: { after: keys[4] } });
    const oldest = bus.subscribe('room', { start: 'oldest' });
    const last = bus.subscribe('room', { start: { last: 3 } });
    const now = bus.subscribe('room');
    const [a, o, l] = await Promise.all([collect(after, 'message', 5), collect(oldest, 'message', 10), collect(last, 'message', 3)]);
    assert.deepEqual(a.map((m) => m.json().i), [5, 6, 7, 8, 9]);
    assert.deepEqual(o.map((m) => m.json().i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(l.map((m) => m.json().i), [7, 8, 9]);
    const live = collect(now, 'message', 1);
    bus.publish('room', { i: 10 });
    assert.equal((await live)[0].json().i, 10);
  } finally {
    bus.close();
  }
});

test('a key no longer held gives a gap event, then the oldest held', async () => {
  const bus = new Bus({ ringMaxMessages: 4 });
  try {
    const first = bus.publish('t', 'm1');
    for (let i = 2; i <= 10; i++) bus.publish('t', `m${i}`);
    const sub = bus.subscribe('t', { start: { after: first } });
    const gap = collect(sub, 'gap', 1);
    const messages = collect(sub, 'message', 4);
    const [g] = await gap;
    assert.ok(g instanceof Gap);
    assert.equal(g.from, first);
    assert.equal(g.topic, 't');
    assert.equal(g.lost, 5);
    assert.deepEqual((await messages).map((m) => m.text()), ['m7', 'm8', 'm9', 'm10']);
    // A key from another life of the topic (another epoch) is a gap too.
    const stale = bus.subscribe('t', { start: { after: '1234abcd-3' } });
    const [g2] = await collect(stale, 'gap', 1);
    assert.equal(g2.from, '1234abcd-3');
    assert.equal(bus.stats().gaps, 2);
  } finally {
    bus.close();
  }
});

test("a lagging subscription with lag 'close' gets a closed event and ends its iterator", async () => {
  const bus = new Bus({ ringMaxMessages: 8 });
  try {
    const sub = bus.subscribe('t', { lag: 'close' });
    for (let i = 0; i < 20; i++) bus.publish('t', `m${i}`); // nobody consumes yet: it falls behind
    const seen = [];
    for await (const event of sub) seen.push(event);
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof Closed);
    assert.equal(seen[0].reason, 'lagged');
    assert.equal(seen[0].topic, 't');
    assert.equal(sub.closed, true);
    assert.equal(bus.stats().lagCloses, 1);
    assert.equal(bus.stats().subscriptions, 0);
  } finally {
    bus.close();
  }
});

test('patterns match topics created later; a multi-topic token resumes every topic', async () => {
  const bus = new Bus();
  try {
    const poller = bus.poller();
    const sub = poller.subscribe(['chat.*', 'alerts.>']);
    const got = collect(sub, 'message', 3);
    bus.publish('chat.new-room', 'a');
    bus.publish('alerts.eu.fire', 'b');
    bus.publish('other', 'not matched');
    bus.publish('chat.deep.not', 'not matched either');
    bus.publish('chat.x', 'c');
    const topics = (await got).map((m) => m.topic);
    assert.deepEqual(topics.sort(), ['alerts.eu.fire', 'chat.new-room', 'chat.x']);

    const two = poller.subscribe(['a', 'b']);
    const seenTwo = collect(two, 'message', 2);
    bus.publish('a', '1');
    bus.publish('b', '2');
    await seenTwo;
    const token = two.token();
    assert.ok(token.includes('a:') && token.includes('b:'), token);
    assert.ok(isToken(token));
    two.close();
    bus.publish('a', '3');
    bus.publish('b', '4');
    const resumed = poller.subscribe(['a', 'b'], { start: { after: token } });
    const rest = await collect(resumed, 'message', 2);
    assert.deepEqual(rest.map((m) => m.text()).sort(), ['3', '4']);
  } finally {
    bus.close();
  }
});

test('async iteration over a subscription, a poller and the bus; breaking out closes', async () => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('it');
    for (let i = 0; i < 5; i++) bus.publish('it', String(i));
    const seen = [];
    await within(
      (async () => {
        for await (const event of sub) {
          seen.push(event.text());
          if (seen.length === 5) break;
        }
      })(),
      5000,
      'iteration'
    );
    assert.deepEqual(seen, ['0', '1', '2', '3', '4']);
    assert.equal(sub.closed, true, 'break closes the subscription');

    const poller = bus.poller();
    poller.subscribe('p1');
    poller.subscribe('p2');
    setTimeout(() => {
      bus.publish('p1', 'x');
      bus.publish('p2', 'y');
    }, 20);
    const fromPoller = [];
    for await (const event of poller) {
      fromPoller.push(`${event.topic}=${event.text()}`);
      if (fromPoller.length === 2) break;
    }
    assert.deepEqual(fromPoller, ['p1=x', 'p2=y']);
    assert.equal(poller.closed, true);

    bus.subscribe('b1');
    bus.publish('b1', 'z');
    for await (const event of bus) {
      assert.equal(event.text(), 'z');
      break;
    }
  } finally {
    bus.close();
  }
});

test('bus and poller listeners see every subscription; events wait for a consumer', async () => {
  const bus = new Bus();
  try {
    const onBus = collect(bus, 'message', 2);
    const s1 = bus.subscribe('x');
    const s2 = bus.subscribe('y');
    bus.publish('x', '1');
    bus.publish('y', '2');
    const got = await onBus;
    assert.deepEqual(got.map((m) => m.subscription), [s1, s2]);

    // No consumer: the poller is not watched, and nothing is lost meanwhile.
    const poller = bus.poller();
    const quiet = poller.subscribe('q');
    bus.publish('q', 'waited');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(poller.watching, false);
    const late = collect(quiet, 'message', 1);
    assert.equal(poller.watching, true, 'a listener makes it watched');
    assert.equal((await late)[0].text(), 'waited');
    const listener = () => {};
    quiet.on('gap', listener);
    assert.equal(poller.watching, true);
    quiet.close();
    assert.equal(poller.watching, false, 'no consumer left: the fd is no longer watched');
  } finally {
    bus.close();
  }
});

test('manual drain returns events without emitting them', () => {
  const bus = new Bus();
  try {
    const poller = bus.poller();
    const sub = poller.subscribe('m');
    for (let i = 0; i < 300; i++) bus.publish('m', String(i));
    const first = poller.drain(256);
    const rest = poller.drain();
    assert.equal(first.length, 256);
    assert.equal(rest.length, 44);
    assert.equal(first[0].subscription, sub);
    assert.equal(rest[43].text(), '299');
    assert.equal(poller.drain().length, 0);
    assert.equal(poller.waitSync(0), false);
    bus.publish('m', 'more');
    assert.equal(poller.waitSync(1000), true);
  } finally {
    bus.close();
  }
});

test('frames are encoded once per message and shared by its subscribers', async () => {
  const bus = new Bus();
  try {
    const poller = bus.poller({ frames: true });
    const a = poller.subscribe('f');
    const b = poller.subscribe('f');
    const both = Promise.all([collect(a, 'message', 1), collect(b, 'message', 1)]);
    const key = bus.publish('f', { user: 'ann', text: '</script><!--\u2028' }, { event: 'message' });
    const [[ma], [mb]] = await both;
    assert.equal(ma.frames, mb.frames, 'one copy of the frames for both subscribers');
    const envelope = JSON.parse(ma.frames.envelope.toString());
    assert.deepEqual(Object.keys(envelope), ['id', 'topic', 'seq', 'event', 'time', 'data']);
    assert.equal(envelope.id, key);
    assert.deepEqual(envelope.data, { user: 'ann', text: '</script><!--\u2028' });
    assert.ok(!ma.frames.envelope.includes('<'), 'script-safe envelope');
    assert.equal(ma.frames.ndjson.toString(), `${ma.frames.envelope}\n`);
    assert.equal(ma.frames.sse.toString(), `id: ${key}\nevent: message\ndata: ${ma.frames.envelope}\n\n`);
  } finally {
    bus.close();
  }
});

test('a drain of several messages to several subscribers gives each delivery its own message and frames', () => {
  const bus = new Bus();
  try {
    const poller = bus.poller({ frames: true });
    const subs = [poller.subscribe('g'), poller.subscribe('g'), poller.subscribe('g')];
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push(bus.publish('g', { i }, { event: 'message' }));
    // Each subscriber gets its run of messages before the next one does:
    // consecutive deliveries alternate between messages.
    const events = poller.drain();
    assert.equal(events.length, 15);
    for (const sub of subs) {
      const mine = events.filter((e) => e.subscription === sub);
      assert.deepEqual(mine.map((m) => m.key), keys);
      assert.deepEqual(mine.map((m) => m.json().i), [0, 1, 2, 3, 4]);
      for (const m of mine) assert.equal(m.frames.sse.toString().split('\n')[0], `id: ${m.key}`);
    }
    const byKey = (sub, key) => events.find((e) => e.subscription === sub && e.key === key);
    assert.equal(byKey(subs[0], keys[3]).frames, byKey(subs[2], keys[3]).frames, 'one copy per message');
  } finally {
    bus.close();
  }
});

test('presence: joined while the subscription is open, leases and leave', async () => {
  const bus = new Bus();
  try {
    const poller = bus.poller();
    const sub = poller.subscribe('chat.p');
    const joins = collect(sub, 'message', 1);
    sub.join('chat.p', 'ann', { name: 'Ann' });
    const [join] = await joins;
    assert.equal(join.event, 'join');
    const present = bus.presence('chat.p');
    assert.equal(present.length, 1);
    assert.equal(present[0].client, 'ann');
    assert.deepEqual(present[0].info, { name: 'Ann' });
    bus.lease('chat.p', 'bob', 30000);
    assert.deepEqual(bus.presence('chat.p').map((p) => p.client), ['ann', 'bob']);
    assert.equal(bus.leave('chat.p', 'bob'), true);
    assert.equal(bus.leave('chat.p', 'bob'), false);
    sub.close();
    assert.deepEqual(bus.presence('chat.p'), []);
    assert.deepEqual(bus.presence('never.created'), []);
  } finally {
    bus.close();
  }
});

test('short poll answers at once with the messages after a key', () => {
  const bus = new Bus();
  try {
    const k1 = bus.publish('chat.poll', { n: 1 });
    const k2 = bus.publish('chat.poll', { n: 2 });
    const all = bus.poll('chat.poll', { start: 'oldest' });
    assert.equal(all.count, 2);
    assert.equal(all.key, k2);
    assert.equal(all.gap, false);
    const json = JSON.parse(all.json.toString());
    assert.deepEqual(json.messages.map((m) => m.data.n), [1, 2]);
    const after = bus.poll('chat.poll', { start: { after: k1 } });
    assert.equal(after.count, 1);
    const none = bus.poll('chat.poll', { start: { after: k2 } });
    assert.equal(none.count, 0);
    assert.equal(none.key, k2);
  } finally {
    bus.close();
  }
});

test('stats count publishes, deliveries, topics and subscriptions', async () => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('s');
    const got = collect(sub, 'message', 3);
    for (let i = 0; i < 3; i++) bus.publish('s', 'x');
    await got;
    const stats = bus.stats();
    assert.equal(stats.published, 3);
    assert.equal(stats.delivered, 3);
    assert.equal(stats.topics, 1);
    assert.equal(stats.subscriptions, 1);
    assert.equal(stats.replayBytes, 3);
    sub.close();
    assert.equal(bus.stats().subscriptions, 0);
  } finally {
    bus.close();
  }
});

test('framing helpers', () => {
  const preamble = framing.ssePreamble(3000).toString();
  assert.ok(preamble.startsWith('retry: 3000\n'), preamble.slice(0, 20));
  assert.ok(preamble.length >= 2048);
  assert.equal(framing.sseHeartbeat.toString(), ': ping\n\n');
  assert.equal(framing.sseEvent('k-1', 'message', 'a\r\nb').toString(), 'id: k-1\nevent: message\ndata: a\ndata: b\n\n');
  assert.throws(() => framing.sseEvent('bad\nid', null, 'x'), { code: 'PUSHBUS_INVALID_ARGUMENT' });
  assert.throws(() => framing.sseEvent(null, 'bad event', 'x'), { code: 'PUSHBUS_INVALID_EVENT' });
  assert.equal(framing.lastEventId(null, null), 'now');
  assert.deepEqual(framing.lastEventId('ab-1', 'cd-2'), { after: 'ab-1' });
  assert.deepEqual(framing.lastEventId(undefined, 'cd-2'), { after: 'cd-2' });
  assert.throws(() => framing.lastEventId('garbage\n', null), { code: 'PUSHBUS_BAD_TOKEN' });
  assert.equal(framing.wsAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.throws(() => framing.wsAccept('short'), { code: 'PUSHBUS_INVALID_ARGUMENT' });
  assert.equal(framing.isIframeCallback('parent.cb_1$'), true);
  assert.equal(framing.isIframeCallback('alert(1)'), false);
  assert.equal(framing.isIframeCallback(''), false);
  assert.equal(framing.iframeScriptOpen('cb').toString(), '<script>parent.cb(');
  assert.equal(framing.iframeScriptClose.toString(), ')</script>\n');
  assert.ok(framing.iframePreamble().length >= 2048);
  assert.ok(framing.xhrPreamble().length >= 2048);
  const gap = JSON.parse(framing.gapEnvelope('chat.lobby', 'old"key', 'abc-7').toString());
  assert.deepEqual(gap, { event: 'gap', topic: 'chat.lobby', from: 'old"key', to: 'abc-7' });
});

test('access tokens: claims, rooms, bad signatures and expiry', async () => {
  const secret = 'app-secret';
  const now = Math.floor(Date.now() / 1000);
  const token = await hs256({ sub: 'ann', exp: now + 60, rooms: ['lobby', 'team.*'] }, secret);
  const claims = verifyToken(token, secret);
  assert.equal(claims.sub, 'ann');
  assert.equal(claims.exp, now + 60);
  assert.equal(claims.allows('lobby'), true);
  assert.equal(claims.allows('team.a'), true);
  assert.equal(claims.allows('other'), false);
  claims.free();
  claims.free();
  assert.throws(() => claims.allows('lobby'), { code: 'PUSHBUS_CLOSED' });
  assert.throws(() => verifyToken(token, 'wrong secret'), { code: 'PUSHBUS_INVALID_JWT' });
  assert.throws(() => verifyToken(`${token}x`, secret), { code: 'PUSHBUS_INVALID_JWT' });
  const expired = await hs256({ sub: 'ann', exp: now - 60, rooms: ['*'] }, secret);
  assert.throws(() => verifyToken(expired, secret), { code: 'PUSHBUS_EXPIRED_JWT' });
  // At a time before expiry, it is valid.
  assert.equal(verifyToken(expired, secret, now - 120).allows('anything'), true);
});
