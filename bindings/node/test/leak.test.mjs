// Nothing leaks: 10,000 subscribe/unsubscribe and poller open/close cycles
// leave the bus with 0 subscriptions and the process with the fds it had;
// pollers dropped without close() are freed by the FinalizationRegistry,
// and objects closed explicitly are never freed twice. Publishers: 10,000
// open/publish/close cycles release every topic they held; dropped ones are
// freed by the finalizer, closed ones (by close() or by their bus's) never
// again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from 'pushbus';
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, collectGarbage, fdCount } from './helpers.mjs';

const CYCLES = 10_000;

test('10,000 poller open/close cycles, each watched and delivering, leak no fd and no subscription', { timeout: 120_000 }, async (t) => {
  const bus = new Bus({ presenceEvents: false });
  try {
    // Warm up once so lazily created fds (the library's, libuv's) exist.
    {
      const p = bus.poller();
      const s = p.subscribe('warm');
      const got = collect(s, 'message', 1);
      bus.publish('warm', 'x');
      await got;
      p.close();
    }
    const baseline = fdCount();
    let peak = baseline;
    for (let i = 0; i < CYCLES; i++) {
      const poller = bus.poller();
      const sub = poller.subscribe([`leak.${i % 16}`, 'leak.all']);
      sub.join(`leak.${i % 16}`, `client-${i}`);
      if (i % 10 === 0) {
        // Every tenth cycle waits for a real delivery through the fd.
        const got = collect(sub, 'message', 1);
        bus.publish('leak.all', String(i));
        const [m] = await got;
        assert.equal(m.text(), String(i));
      } else {
        sub.on('message', () => {}); // starts watching the fd
        assert.equal(poller.watching, true);
        bus.publish('leak.all', String(i));
      }
      if (i % 2 === 0) sub.close();
      poller.close();
      if (i % 1000 === 0) peak = Math.max(peak, fdCount());
    }
    const stats = bus.stats();
    assert.equal(stats.subscriptions, 0);
    assert.deepEqual(bus.presence('leak.3'), []);
    const after = fdCount();
    t.diagnostic(`fds: baseline ${baseline}, peak ${peak}, after ${after}`);
    assert.ok(after <= baseline + 2, `fds grew from ${baseline} to ${after}`);
    assert.ok(peak <= baseline + 4, `fds peaked at ${peak} (baseline ${baseline})`);
  } finally {
    bus.close();
  }
});

test('10,000 subscribe/unsubscribe cycles on one poller', { timeout: 60_000 }, async () => {
  const bus = new Bus();
  try {
    const poller = bus.poller();
    const keeper = poller.subscribe('keep');
    keeper.on('message', () => {});
    const baseline = fdCount();
    for (let i = 0; i < CYCLES; i++) {
      const sub = poller.subscribe(i % 3 === 0 ? 'chat.*' : `room.${i % 100}`, { start: i % 5 === 0 ? 'oldest' : 'now' });
      sub.on('message', () => {});
      if (i % 7 === 0) bus.publish(`room.${i % 100}`, 'x');
      sub.close();
    }
    assert.equal(poller.subscriptions.length, 1);
    assert.equal(bus.stats().subscriptions, 1);
    keeper.close();
    assert.equal(bus.stats().subscriptions, 0);
    assert.equal(poller.watching, false);
    assert.ok(fdCount() <= baseline + 1);
  } finally {
    bus.close();
  }
});

test('pollers dropped without close() are freed by the finalizer; closed ones are not freed again', { timeout: 60_000 }, async () => {
  const bus = new Bus();
  try {
    const baseline = fdCount();
    (() => {
      for (let i = 0; i < 500; i++) {
        const poller = bus.poller();
        poller.subscribe('gc.t');
        void poller.fd; // the fd exists: it must be closed by the finalizer
      }
    })();
    assert.equal(bus.stats().subscriptions, 500);
    assert.ok(fdCount() >= baseline + 500, 'each poller holds its pipe');
    // Closed explicitly, then collected: the finalizer must not free them again.
    (() => {
      for (let i = 0; i < 500; i++) {
        const poller = bus.poller();
        poller.subscribe('gc.u');
        void poller.fd;
        poller.close();
      }
    })();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (bus.stats().subscriptions > 0 || fdCount() > baseline + 2)) {
      await collectGarbage();
    }
    assert.equal(bus.stats().subscriptions, 0);
    assert.ok(fdCount() <= baseline + 2, `fds: ${fdCount()} vs ${baseline}`);
    // Buses too: dropped buses are released (and their janitor threads end).
    (() => {
      for (let i = 0; i < 50; i++) new Bus().publish('t', 'x');
    })();
    await collectGarbage();
    bus.publish('gc.t', 'still fine');
  } finally {
    bus.close();
  }
});

test('10,000 publisher open/publish/close cycles release every topic they held', { timeout: 60_000 }, async () => {
  const bus = new Bus({ topicIdleTtlMs: 5, janitorIntervalMs: 0 });
  try {
    const sub = bus.subscribe('pub.>');
    const got = collect(sub, 'message', CYCLES); // (the default poller's fd is watched from here)
    const baseline = fdCount();
    for (let i = 0; i < CYCLES; i++) {
      // Some topics are shared by many publishers in turn, some are new.
      const publisher = bus.publisher(i % 2 === 0 ? `pub.shared.${(i >> 1) % 16}` : `pub.own.${i}`);
      assert.equal(publisher.topic.startsWith('pub.'), true);
      publisher.publish(i % 3 === 0 ? { i } : String(i), { event: 'leak' });
      if (i % 5 === 0) publisher.close(); // twice: harmless
      publisher.close();
    }
    const messages = await got;
    assert.equal(messages.length, CYCLES);
    assert.equal(messages[CYCLES - 1].event, 'leak');
    sub.close();
    assert.equal(bus.stats().published, CYCLES);
    assert.equal(bus.stats().topics, 16 + CYCLES / 2);
    await sleep(50);
    bus.sweep();
    assert.equal(bus.stats().topics, 0, 'every publisher released its topic');
    assert.ok(fdCount() <= baseline + 1, `fds: ${fdCount()} vs ${baseline}`);
  } finally {
    bus.close();
  }
});

test('publishers dropped without close() are freed by the finalizer; closed ones are not freed again', { timeout: 60_000 }, async () => {
  const bus = new Bus({ topicIdleTtlMs: 5, janitorIntervalMs: 0 });
  try {
    (() => {
      for (let i = 0; i < 500; i++) bus.publisher(`gc.dropped.${i}`).publish('x');
    })();
    // Closed explicitly, then collected: the finalizer must not free them
    // again (a second free would drop the topic's hold twice, or crash).
    (() => {
      for (let i = 0; i < 500; i++) {
        const publisher = bus.publisher(`gc.closed.${i % 10}`);
        publisher.publish('x');
        publisher.close();
      }
    })();
    // Closed by their bus's close(), then collected.
    (() => {
      const other = new Bus();
      for (let i = 0; i < 200; i++) other.publisher(`gc.other.${i}`).publish('x');
      other.close();
    })();
    // Buses dropped with their publishers open: both are finalized, in any order.
    (() => {
      for (let i = 0; i < 50; i++) new Bus().publisher('t').publish('x');
    })();
    const held = bus.publisher('gc.held');
    await sleep(20);
    bus.sweep();
    assert.equal(bus.stats().topics, 501, 'the dropped publishers still hold their topics until collected');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && bus.stats().topics > 1) {
      await collectGarbage();
      await sleep(10);
      bus.sweep();
    }
    assert.equal(bus.stats().topics, 1, 'the finalizer released every dropped publisher');
    // The held publisher and its topic are intact.
    assert.equal(held.publish('still fine').endsWith('-1'), true);
    bus.publish('gc.held', 'x');
    assert.equal(held.publish('y').endsWith('-3'), true);
  } finally {
    bus.close();
  }
});
