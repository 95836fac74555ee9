// Errors: every status the API can raise arrives as a PushbusError with its
// name and number; bad arguments are TypeErrors; closing twice is harmless;
// a listener that throws loses no event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, PushbusError, Status } from 'pushbus';
import { collect, runScript } from './helpers.mjs';

function assertStatus(fn, code) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof PushbusError, `not a PushbusError: ${error}`);
    assert.ok(error instanceof Error);
    assert.equal(error.code, code);
    assert.equal(error.status, code === 'PUSHBUS_CLOSED' ? -1 : Status[code]);
    assert.ok(error.message.includes(code), error.message);
    return true;
  });
}

test('publish errors name their status and leave the bus unchanged', () => {
  const bus = new Bus({ maxMessageBytes: 64, maxTopics: 3 });
  try {
    assertStatus(() => bus.publish('bad topic', 'x'), 'PUSHBUS_INVALID_TOPIC');
    assertStatus(() => bus.publish('', 'x'), 'PUSHBUS_INVALID_TOPIC');
    assertStatus(() => bus.publish('a\u0000b', 'x'), 'PUSHBUS_INVALID_TOPIC'); // no truncation at NUL
    assertStatus(() => bus.publish('chat.*', 'x'), 'PUSHBUS_PATTERN_NOT_ALLOWED');
    assertStatus(() => bus.publish('t', 'x', { event: 'has space' }), 'PUSHBUS_INVALID_EVENT');
    assertStatus(() => bus.publish('t', 'x', { event: 'e\u0000' }), 'PUSHBUS_INVALID_EVENT');
    assertStatus(() => bus.publish('t', 'x'.repeat(65)), 'PUSHBUS_MESSAGE_TOO_LARGE');
    assertStatus(() => bus.publish('t', '{"open":', { kind: 'json' }), 'PUSHBUS_INVALID_JSON');
    assertStatus(() => bus.publish('t', Buffer.from([0xff, 0xfe]), { kind: 'text' }), 'PUSHBUS_INVALID_UTF8');
    bus.publish('t1', 'x');
    bus.publish('t2', 'x');
    bus.publish('t3', 'x');
    assertStatus(() => bus.publish('t4', 'x'), 'PUSHBUS_TOO_MANY_TOPICS');
    assert.equal(bus.stats().published, 3);
    assert.throws(() => bus.publish(42, 'x'), TypeError);
    assert.throws(() => bus.publish('t1', undefined), TypeError);
    assert.throws(() => bus.publish('t1', 'x', { kind: 'xml' }), TypeError);
  } finally {
    bus.close();
  }
});

test('subscribe, poll, presence and key errors', () => {
  const bus = new Bus({ maxSubscriptionsPerPoller: 2 });
  try {
    const poller = bus.poller();
    assertStatus(() => poller.subscribe([]), 'PUSHBUS_NO_TOPICS');
    assertStatus(() => poller.subscribe('chat.>.x'), 'PUSHBUS_INVALID_PATTERN');
    assertStatus(() => poller.subscribe('t', { start: { after: 'not a key' } }), 'PUSHBUS_BAD_TOKEN');
    poller.subscribe('a');
    poller.subscribe('b');
    assertStatus(() => poller.subscribe('c'), 'PUSHBUS_TOO_MANY_SUBSCRIPTIONS');
    assert.throws(() => poller.subscribe('t', { start: 'yesterday' }), TypeError);
    assert.throws(() => poller.subscribe('t', { lag: 'drop' }), TypeError);
    assertStatus(() => bus.poll('chat.*'), 'PUSHBUS_PATTERN_NOT_ALLOWED');
    assertStatus(() => bus.poll('t', { start: { after: 'zz-1' } }), 'PUSHBUS_BAD_TOKEN');
    assertStatus(() => bus.lease('t', '', 1000), 'PUSHBUS_INVALID_PRESENCE');
    assertStatus(() => bus.lease('t', 'ann', 1000, '{not json'), 'PUSHBUS_INVALID_PRESENCE');
    assert.throws(() => bus.lease('t', 'ann', -1), RangeError);
  } finally {
    bus.close();
  }
  assertStatus(() => new Bus({ ringMaxMessages: 0 }), 'PUSHBUS_INVALID_CONFIG');
  assertStatus(() => new Bus({ maxMessageBytes: 10, ringMaxBytes: 5 }), 'PUSHBUS_INVALID_CONFIG');
  assert.throws(() => new Bus({ noSuchOption: 1 }), TypeError);
  assert.throws(() => new Bus({ lagPolicy: 'drop' }), TypeError);
});

test('calls on closed objects throw PUSHBUS_CLOSED; closing twice is harmless', () => {
  const bus = new Bus();
  const poller = bus.poller();
  const sub = poller.subscribe('t');
  sub.close();
  sub.close();
  assert.equal(sub.closed, true);
  assertStatus(() => sub.token(), 'PUSHBUS_CLOSED');
  assertStatus(() => sub.join('t', 'ann'), 'PUSHBUS_CLOSED');
  const other = poller.subscribe('u');
  poller.close();
  poller.close();
  assert.equal(other.closed, true, 'closing a poller closes its subscriptions');
  other.close();
  assertStatus(() => poller.subscribe('t'), 'PUSHBUS_CLOSED');
  assertStatus(() => poller.drain(), 'PUSHBUS_CLOSED');
  const kept = bus.poller();
  bus.close();
  bus.close();
  assert.equal(kept.closed, true, 'closing a bus closes its pollers');
  assertStatus(() => bus.publish('t', 'x'), 'PUSHBUS_CLOSED');
  assertStatus(() => bus.poller(), 'PUSHBUS_CLOSED');
  assertStatus(() => bus.stats(), 'PUSHBUS_CLOSED');
});

test('a bus closed after deliveries closes the pollers made from it', async () => {
  const bus = new Bus();
  const poller = bus.poller();
  const sub = poller.subscribe('t');
  bus.publish('t', 'x');
  const [m] = await collect(sub, 'message', 1);
  assert.equal(m.text(), 'x');
  bus.close();
  assert.equal(poller.closed, true);
});

test('a listener that throws surfaces the error and loses no event', async () => {
  const result = await runScript(`
    import { Bus } from 'pushbus';
    const bus = new Bus();
    const sub = bus.subscribe('t');
    const seen = [];
    let errors = 0;
    process.on('uncaughtException', (e) => { errors++; if (e.message !== 'boom') throw e; });
    sub.on('message', (m) => {
      seen.push(m.text());
      if (m.text() === '2' || m.text() === '5') throw new Error('boom');
      if (seen.length === 10) { console.log(JSON.stringify({ seen, errors })); bus.close(); }
    });
    for (let i = 0; i < 10; i++) bus.publish('t', String(i));
  `);
  assert.equal(result.code, 0, result.stderr);
  const { seen, errors } = JSON.parse(result.stdout);
  assert.deepEqual(seen, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(errors, 2);
});
