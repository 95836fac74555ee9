// Publishers (bus.publisher(topic)): their keys continue the topic's
// sequence whoever publishes, subscribers get their messages, every bad
// input is a PushbusError that publishes nothing, close() is idempotent and
// final (also through the bus's close()), and an open publisher holds its
// topic against idle expiry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import pushbus, { Bus, Publisher, PushbusError, Status, Message, parseKey } from 'pushbus';
import { collect } from './helpers.mjs';

const require = createRequire(import.meta.url);

function assertStatus(fn, code) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof PushbusError, `not a PushbusError: ${error}`);
    assert.equal(error.code, code);
    assert.equal(error.status, code === 'PUSHBUS_CLOSED' ? -1 : Status[code]);
    assert.ok(error.message.includes(code), error.message);
    return true;
  });
}

test('bus.publisher() gives a Publisher, the same class through both entry points', () => {
  const bus = new Bus();
  try {
    const publisher = bus.publisher('chat.lobby');
    assert.ok(publisher instanceof Publisher);
    assert.equal(require('pushbus').Publisher, Publisher);
    assert.equal(pushbus.Publisher, Publisher);
    assert.equal(publisher.topic, 'chat.lobby');
    assert.equal(publisher.bus, bus);
    assert.equal(publisher.closed, false);
    assert.throws(() => new Publisher({}, 't'), TypeError);
    publisher.close();
  } finally {
    bus.close();
  }
});

test("keys continue the topic's sequence across bus.publish and publisher.publish", () => {
  const bus = new Bus();
  try {
    const k1 = bus.publish('seq.t', 'a');
    const publisher = bus.publisher('seq.t');
    const k2 = publisher.publish('b');
    const k3 = bus.publish('seq.t', 'c');
    const k4 = publisher.publish('d', { event: 'e' });
    const second = bus.publisher('seq.t');
    const k5 = second.publish({ n: 5 });
    const k6 = publisher.publish(Buffer.from([6]));
    const keys = [k1, k2, k3, k4, k5, k6].map(parseKey);
    assert.deepEqual(
      keys.map((k) => k.seq),
      [1n, 2n, 3n, 4n, 5n, 6n]
    );
    assert.ok(keys.every((k) => k.epoch === keys[0].epoch), 'one epoch');
    assert.match(k2, /^[0-9a-f]+-2$/, 'the same key text as bus.publish');
    assert.equal(bus.head('seq.t'), k6);
    assert.equal(bus.stats().published, 6);
    // A publisher creates its topic; its first key is the topic's first.
    const before = bus.stats().topics;
    const fresh = bus.publisher('seq.fresh');
    assert.equal(bus.stats().topics, before + 1);
    assert.equal(parseKey(fresh.publish('x')).seq, 1n);
    assert.equal(parseKey(bus.publish('seq.fresh', 'y')).seq, 2n);
  } finally {
    bus.close();
  }
});

test("a subscriber receives a publisher's messages with their event, kind and payload, in order", async () => {
  const bus = new Bus();
  try {
    const exact = bus.subscribe('chat.lobby');
    const pattern = bus.poller().subscribe('chat.*');
    const got = collect(exact, 'message', 5);
    const gotPattern = collect(pattern, 'message', 5);
    const publisher = bus.publisher('chat.lobby');
    const keys = [
      publisher.publish({ user: 'ann', text: 'hi' }, { event: 'message' }),
      publisher.publish('plain text'),
      bus.publish('chat.lobby', 'from the bus', { event: 'bus' }),
      publisher.publish(new Uint8Array([0, 255, 1]), { event: 'bytes.v1:x-y' }),
      publisher.publish('{"raw":true}', { kind: 'json', event: 'raw' }),
    ];
    const messages = await got;
    const viaPattern = await gotPattern;
    for (const list of [messages, viaPattern]) {
      assert.ok(list.every((m) => m instanceof Message && m.topic === 'chat.lobby'));
      assert.deepEqual(
        list.map((m) => m.key),
        keys
      );
      assert.deepEqual(
        list.map((m) => m.event),
        ['message', '', 'bus', 'bytes.v1:x-y', 'raw']
      );
      assert.deepEqual(
        list.map((m) => m.kind),
        ['json', 'text', 'text', 'binary', 'json']
      );
      assert.deepEqual(list[0].json(), { user: 'ann', text: 'hi' });
      assert.equal(list[1].text(), 'plain text');
      assert.deepEqual([...list[3].data], [0, 255, 1]);
      assert.deepEqual(list[4].json(), { raw: true });
    }
  } finally {
    bus.close();
  }
});

test('bad topics and patterns at creation throw PushbusError and create nothing', () => {
  const bus = new Bus({ maxTopics: 2, maxTopicLen: 16 });
  try {
    assertStatus(() => bus.publisher('bad topic'), 'PUSHBUS_INVALID_TOPIC');
    assertStatus(() => bus.publisher(''), 'PUSHBUS_INVALID_TOPIC');
    assertStatus(() => bus.publisher('a\u0000b'), 'PUSHBUS_INVALID_TOPIC'); // no truncation at NUL
    assertStatus(() => bus.publisher('x'.repeat(17)), 'PUSHBUS_INVALID_TOPIC');
    assertStatus(() => bus.publisher('chat.*'), 'PUSHBUS_PATTERN_NOT_ALLOWED');
    assertStatus(() => bus.publisher('chat.>'), 'PUSHBUS_PATTERN_NOT_ALLOWED');
    assert.throws(() => bus.publisher(42), TypeError);
    assert.throws(() => bus.publisher(), TypeError);
    assert.equal(bus.stats().topics, 0);
    bus.publisher('t1');
    bus.publish('t2', 'x');
    assertStatus(() => bus.publisher('t3'), 'PUSHBUS_TOO_MANY_TOPICS');
    const stats = bus.stats();
    assert.equal(stats.topics, 2);
    assert.equal(stats.published, 1);
  } finally {
    bus.close();
  }
});

test('each bad message throws PushbusError with its status and publishes nothing', () => {
  const bus = new Bus({ maxMessageBytes: 64 });
  try {
    const poller = bus.poller();
    poller.subscribe('t');
    const publisher = bus.publisher('t');
    const first = publisher.publish('ok');
    const cases = [
      [() => publisher.publish('x', { event: 'has space' }), 'PUSHBUS_INVALID_EVENT'],
      [() => publisher.publish('x', { event: 'e\u0000' }), 'PUSHBUS_INVALID_EVENT'],
      [() => publisher.publish('x', { event: '' }), 'PUSHBUS_INVALID_EVENT'],
      [() => publisher.publish('x', { event: 'e'.repeat(65) }), 'PUSHBUS_INVALID_EVENT'],
      [() => publisher.publish('x'.repeat(65)), 'PUSHBUS_MESSAGE_TOO_LARGE'],
      [() => publisher.publish(Buffer.alloc(65)), 'PUSHBUS_MESSAGE_TOO_LARGE'],
      [() => publisher.publish({ text: 'y'.repeat(64) }), 'PUSHBUS_MESSAGE_TOO_LARGE'],
      [() => publisher.publish('{"open":', { kind: 'json' }), 'PUSHBUS_INVALID_JSON'],
      [() => publisher.publish(Buffer.from('[1,]'), { kind: 'json' }), 'PUSHBUS_INVALID_JSON'],
      [() => publisher.publish(Buffer.from([0xff, 0xfe]), { kind: 'text' }), 'PUSHBUS_INVALID_UTF8'],
      [() => publisher.publish(Buffer.from([0x61, 0xc3]), { kind: 'text' }), 'PUSHBUS_INVALID_UTF8'],
    ];
    for (const [fn, code] of cases) {
      assertStatus(fn, code);
      assert.equal(bus.stats().published, 1, `${code} published nothing`);
      assert.equal(bus.head('t'), first, `${code} left the topic's head`);
    }
    // The same inputs are rejected alike by bus.publish (one argument path).
    assertStatus(() => bus.publish('t', 'x', { event: 'has space' }), 'PUSHBUS_INVALID_EVENT');
    assertStatus(() => bus.publish('t', '{"open":', { kind: 'json' }), 'PUSHBUS_INVALID_JSON');
    // Wrong argument types are TypeErrors, as for bus.publish.
    assert.throws(() => publisher.publish(undefined), TypeError);
    assert.throws(() => publisher.publish(), TypeError);
    assert.throws(() => publisher.publish('x', { kind: 'xml' }), TypeError);
    assert.throws(() => publisher.publish('x', { event: 42 }), TypeError);
    assert.equal(bus.stats().published, 1);
    // Only the good message was delivered, and the sequence has no hole.
    const events = poller.drain();
    assert.deepEqual(
      events.map((e) => e.text()),
      ['ok']
    );
    assert.equal(parseKey(publisher.publish('next')).seq, 2n);
    // null options and a null event are accepted, as by bus.publish.
    assert.equal(parseKey(publisher.publish('n', { event: null })).seq, 3n);
  } finally {
    bus.close();
  }
});

test('close() is idempotent; publishing after close throws PUSHBUS_CLOSED', () => {
  const bus = new Bus();
  try {
    const publisher = bus.publisher('t');
    publisher.publish('x');
    publisher.close();
    publisher.close();
    assert.equal(publisher.closed, true);
    assertStatus(() => publisher.publish('y'), 'PUSHBUS_CLOSED');
    // The closed check comes first, whatever the arguments.
    assertStatus(() => publisher.publish(undefined), 'PUSHBUS_CLOSED');
    assert.equal(publisher.topic, 't', 'the topic stays readable');
    assert.equal(bus.stats().published, 1);
    const disposed = bus.publisher('t');
    disposed[Symbol.dispose]();
    assert.equal(disposed.closed, true);
    disposed.close();
    // The topic lives on for the bus and for other publishers.
    assert.equal(parseKey(bus.publisher('t').publish('z')).seq, 2n);
  } finally {
    bus.close();
  }
});

test("closing the bus closes its publishers; a closed bus makes none", () => {
  const bus = new Bus();
  const a = bus.publisher('a');
  const b = bus.publisher('b');
  b.close();
  bus.close();
  assert.equal(a.closed, true);
  assertStatus(() => a.publish('x'), 'PUSHBUS_CLOSED');
  a.close();
  b.close();
  assertStatus(() => bus.publisher('c'), 'PUSHBUS_CLOSED');
  bus.close();
});

test('user code that closes the handle while its arguments are converted gets PUSHBUS_CLOSED', () => {
  const bus = new Bus();
  try {
    const publisher = bus.publisher('t');
    const closing = {
      toJSON() {
        publisher.close();
        return { late: true };
      },
    };
    assertStatus(() => publisher.publish(closing), 'PUSHBUS_CLOSED');
    const other = new Bus();
    assertStatus(
      () =>
        other.publish('t', {
          toJSON() {
            other.close();
            return 1;
          },
        }),
      'PUSHBUS_CLOSED'
    );
    // A publish made from inside toJSON does not disturb the outer one's
    // event and kind.
    const inner = bus.publisher('inner');
    const outer = bus.publisher('outer');
    const poller = bus.poller();
    poller.subscribe(['inner', 'outer']);
    outer.publish(
      {
        toJSON() {
          inner.publish(Buffer.from([1]), { event: 'in' });
          return { o: 1 };
        },
      },
      { event: 'out' }
    );
    const events = poller.drain();
    assert.deepEqual(
      events.map((e) => [e.topic, e.event, e.kind]),
      [
        ['inner', 'in', 'binary'],
        ['outer', 'out', 'json'],
      ]
    );
    assert.deepEqual(events[1].json(), { o: 1 });
  } finally {
    bus.close();
  }
});

test('an open publisher holds its topic against idle expiry; closed, the topic expires', async () => {
  const bus = new Bus({ topicIdleTtlMs: 5, janitorIntervalMs: 0 });
  try {
    const publisher = bus.publisher('held');
    const k1 = parseKey(publisher.publish('a'));
    bus.publish('idle', 'x');
    assert.equal(bus.stats().topics, 2);
    await sleep(50);
    bus.sweep();
    assert.equal(bus.stats().topics, 1, 'the idle topic expired, the held one did not');
    const k2 = parseKey(bus.publish('held', 'b'));
    assert.deepEqual(k2, { epoch: k1.epoch, seq: 2n }, 'the held topic kept its epoch and sequence');
    publisher.close();
    await sleep(50);
    bus.sweep();
    assert.equal(bus.stats().topics, 0, 'released, the topic expired');
    assert.equal(parseKey(bus.publish('held', 'c')).seq, 1n, 'a new topic starts over');
  } finally {
    bus.close();
  }
});
