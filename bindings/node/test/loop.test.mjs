// The event loop is never blocked: a 10 ms timer keeps firing on time while
// 1,000,000 messages flow through pushbus; a publish wakes the loop within
// milliseconds; an idle watched poller costs no CPU; processes exit cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bus } from 'pushbus';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { collect, runScript, within, PACKAGE_DIR } from './helpers.mjs';

const TOTAL = 1_000_000;

test('a 10 ms timer stays on time while 1,000,000 messages flow to subscribers', { timeout: 120_000 }, async (t) => {
  const bus = new Bus({ ringMaxMessages: 65536, ringMaxBytes: 64 << 20 });
  try {
    // Two consumers on two pollers (as two parts of a server would be),
    // one of them a for-await loop, the other an EventEmitter listener.
    const listenerPoller = bus.poller();
    const iterPoller = bus.poller();
    const listened = listenerPoller.subscribe('flow');
    const iterated = iterPoller.subscribe('flow');
    let received = 0;
    let expectSeq = 1;
    let gaps = 0;
    listened.on('gap', () => gaps++);
    listened.on('message', (m) => {
      if (m.seq !== expectSeq) throw new Error(`out of order: ${m.seq} after ${expectSeq - 1}`);
      expectSeq++;
      received++;
    });
    let iterReceived = 0;
    const iterDone = (async () => {
      for await (const event of iterated) {
        if (event.type !== 'message') throw new Error(`unexpected ${event.type}`);
        iterReceived++;
        if (iterReceived === TOTAL) break;
      }
    })();

    // The timer: fires every 10 ms; record the largest gap between firings.
    let ticks = 0;
    let last = performance.now();
    let worst = 0;
    const gapsMs = [];
    const timer = setInterval(() => {
      const now = performance.now();
      gapsMs.push(now - last);
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 10);

    // The producer: chunks of 1,000 publishes per macrotask, never more than
    // 32,768 ahead of the slowest consumer (so the ring never overflows).
    const payload = Buffer.from('{"user":"ann","text":"hello, world"}');
    const started = performance.now();
    let published = 0;
    await new Promise((resolve, reject) => {
      function produce() {
        try {
          const slowest = Math.min(received, iterReceived);
          const until = Math.min(TOTAL, published + 1000, slowest + 32768);
          while (published < until) {
            bus.publish('flow', payload, { kind: 'json' });
            published++;
          }
          if (published < TOTAL) setImmediate(produce);
          else resolve();
        } catch (error) {
          reject(error);
        }
      }
      produce();
    });
    const deadline = performance.now() + 60_000;
    while ((received < TOTAL || iterReceived < TOTAL) && performance.now() < deadline) await sleep(5);
    await iterDone;
    const elapsed = performance.now() - started;
    clearInterval(timer);

    assert.equal(received, TOTAL);
    assert.equal(iterReceived, TOTAL);
    assert.equal(gaps, 0);
    assert.equal(bus.stats().delivered, 2 * TOTAL);
    const expectedTicks = Math.floor(elapsed / 10);
    t.diagnostic(
      `1,000,000 messages x 2 subscribers in ${elapsed.toFixed(0)} ms ` +
        `(${((2 * TOTAL) / elapsed / 1000).toFixed(2)} M deliveries/s); ` +
        `timer: ${ticks} ticks of ~${expectedTicks}, worst gap ${worst.toFixed(1)} ms`
    );
    gapsMs.sort((a, b) => a - b);
    const p99 = gapsMs[Math.floor(gapsMs.length * 0.99)];
    t.diagnostic(`timer gaps: p50 ${gapsMs[gapsMs.length >> 1].toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    // Nearly every gap is under 50 ms; one V8 full GC (10-20 ms here) on a
    // machine shared with compilers may stretch a single gap past it.
    assert.ok(p99 < 50, `p99 timer gap ${p99.toFixed(1)} ms`);
    assert.ok(worst < 100, `the timer was held up for ${worst.toFixed(1)} ms`);
    // setInterval drifts by each late firing: require most ticks, not all.
    assert.ok(ticks >= expectedTicks * 0.5, `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`);
  } finally {
    bus.close();
  }
});

test('a publish wakes the loop within milliseconds, every time', { timeout: 30_000 }, async (t) => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('wake');
    const latencies = [];
    for (let i = 0; i < 300; i++) {
      // Let the loop go idle (blocked in epoll) before publishing.
      await sleep(i % 10 === 0 ? 5 : 1);
      const got = collect(sub, 'message', 1, 1000);
      const t0 = process.hrtime.bigint();
      // Publish from a timer so the loop is woken from its poll phase.
      setTimeout(() => bus.publish('wake', String(i)), 0);
      const [m] = await got;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
      assert.equal(m.text(), String(i));
    }
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length * 0.5)];
    const p99 = latencies[Math.floor(latencies.length * 0.99)];
    t.diagnostic(`publish-to-listener latency (incl. a 0 ms timer): p50 ${p50.toFixed(0)} us, p99 ${p99.toFixed(0)} us`);
    assert.ok(p99 < 50_000, `p99 ${p99} us`);
  } finally {
    bus.close();
  }
});

test('publishes from another thread wake the loop; no gap, no blocking', { timeout: 60_000 }, async (t) => {
  // A worker thread publishes through the same native bus (the C ABI is
  // thread-safe): broker-side writes to the pipe must wake libuv. Flow
  // control through a SharedArrayBuffer keeps it within the ring.
  const COUNT = 200_000;
  const bus = new Bus({ ringMaxMessages: 65536 });
  try {
    const sub = bus.subscribe('xthread');
    const shared = new Int32Array(new SharedArrayBuffer(8)); // [received, published]
    let received = 0;
    let gaps = 0;
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 10);
    sub.on('gap', () => gaps++);
    const done = new Promise((resolve) => {
      sub.on('message', (m) => {
        if (m.seq !== received + 1) throw new Error(`seq ${m.seq} after ${received}`);
        received++;
        if ((received & 1023) === 0 || received === COUNT) {
          Atomics.store(shared, 0, received);
          Atomics.notify(shared, 0);
        }
        if (received === COUNT) resolve();
      });
    });
    const worker = new Worker(
      `
      const { workerData } = require('node:worker_threads');
      const { _internal } = require(workerData.pkg);
      const { c } = _internal.native;
      const shared = workerData.shared;
      const topic = 'xthread';
      const payload = Buffer.from('"from the worker"');
      const key = Buffer.alloc(16);
      for (let i = 0; i < workerData.count; i++) {
        while (i - Atomics.load(shared, 0) > 32768) Atomics.wait(shared, 0, Atomics.load(shared, 0), 50);
        const status = c.publish(workerData.bus, topic, topic.length, null, 0, 0, payload, payload.length, key);
        if (status !== 0) throw new Error('publish failed: ' + status);
        Atomics.store(shared, 1, i + 1);
      }
      `,
      { eval: true, workerData: { pkg: PACKAGE_DIR, bus: bus._ptr('test'), shared, count: COUNT } }
    );
    const exited = once(worker, 'exit');
    await within(done, 50_000, 'cross-thread delivery');
    const [code] = await exited;
    clearInterval(timer);
    assert.equal(code, 0);
    assert.equal(received, COUNT);
    assert.equal(gaps, 0);
    t.diagnostic(`cross-thread: ${COUNT} messages, timer worst gap ${worst.toFixed(1)} ms`);
    assert.ok(worst < 100, `timer held up ${worst.toFixed(1)} ms`); // see the 1,000,000 test
  } finally {
    bus.close();
  }
});

test('an idle watched poller costs no CPU (no busy loop)', { timeout: 30_000 }, async (t) => {
  const bus = new Bus();
  try {
    const sub = bus.subscribe('idle');
    const got = collect(sub, 'message', 1);
    bus.publish('idle', 'one');
    await got;
    sub.on('message', () => {});
    assert.equal(sub.poller.watching, true);
    const before = process.cpuUsage();
    const t0 = performance.now();
    await sleep(1000);
    const wall = performance.now() - t0;
    const used = process.cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    t.diagnostic(`idle: ${cpuMs.toFixed(1)} ms of CPU in ${wall.toFixed(0)} ms`);
    assert.ok(cpuMs < 100, `idle CPU ${cpuMs} ms in ${wall} ms`);
  } finally {
    bus.close();
  }
});

test('the process exits by itself once everything is closed', async () => {
  const result = await runScript(`
    import { Bus } from 'pushbus';
    const bus = new Bus();
    const sub = bus.subscribe('t');
    sub.on('message', (m) => { console.log('got', m.text()); bus.close(); });
    bus.publish('t', 'hello');
  `);
  assert.equal(result.timedOut, false, 'the process did not exit');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'got hello');
});

test('a watched poller keeps the process alive until closed; unref() lets it exit', async () => {
  const kept = await runScript(
    `
    import { Bus } from 'pushbus';
    const bus = new Bus();
    const sub = bus.subscribe('t');
    sub.on('message', () => {});
    setTimeout(() => { console.log('still alive'); bus.close(); }, 300);
  `
  );
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stdout.trim(), 'still alive');
  const unrefd = await runScript(`
    import { Bus } from 'pushbus';
    const bus = new Bus();
    const poller = bus.poller().unref();
    poller.subscribe('t').on('message', () => {});
    const t = setTimeout(() => console.log('kept alive'), 2000);
    t.unref();
  `);
  assert.equal(unrefd.code, 0, unrefd.stderr);
  assert.equal(unrefd.stdout, '');
});

test('exiting with objects open, messages in flight and the janitor running never crashes', async () => {
  const result = await runScript(`
    import { Bus } from 'pushbus';
    const buses = [new Bus({ janitorIntervalMs: 1 }), new Bus()];
    for (const bus of buses) {
      for (let p = 0; p < 4; p++) {
        const sub = bus.poller({ frames: true }).subscribe(['t', 'u.>']);
        sub.on('message', () => {});
        sub.join('t', 'client' + p);
      }
    }
    let n = 0;
    function pump() {
      for (let i = 0; i < 500; i++) for (const bus of buses) bus.publish('t', 'x' + i);
      if (++n === 20) { console.log('exiting'); process.exit(0); }
      setImmediate(pump);
    }
    pump();
  `);
  assert.equal(result.signal, null, `killed by ${result.signal}: ${result.stderr}`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'exiting');
  const natural = await runScript(`
    import { Bus } from 'pushbus';
    const bus = new Bus({ janitorIntervalMs: 1 });
    const poller = bus.poller();
    poller.subscribe('t');
    bus.publish('t', 'never drained');
    globalThis.keep = [bus, poller];
  `);
  assert.equal(natural.signal, null, natural.stderr);
  assert.equal(natural.code, 0, natural.stderr);
});
