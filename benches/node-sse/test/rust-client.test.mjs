// `--client loadclient`: the loadclient's command line, its records, the
// verdict of a step and the rate grid it shares with the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { geometricRates, loadclientArgs, parsePin, parseRecord, pinned, rustShortfalls, stepFromRecord } from '../lib/rust-client.mjs';

// A w5_step line as benches/peers/src/net/workload.rs prints it.
const STEP = {
  workload: 'w5_step',
  contender: 'pushbus',
  transport: 'loopback',
  param: 1000,
  client_cpu: 0.61,
  server_cpu: 0.97,
  rate: 1070,
  deliveries_per_s: 1070000,
  delivered_fraction: 1,
  publish_behind_ms: 3.2,
  gaps: false,
  kept_up: true,
  p50_us: 2100,
  p99_us: 14800,
  p999_us: 22000,
  max_us: 30000,
  samples: 2140000,
};

test('the rate grid is the loadclient\'s: f64 products, so a run started again at a rate goes on with the same numbers', () => {
  const rates = geometricRates(1000, 1.07, 2000);
  assert.equal(rates[0], 1000);
  assert.equal(rates[1], 1000 * 1.07);
  assert.equal(rates[2], 1000 * 1.07 * 1.07);
  assert.ok(rates.at(-1) <= 2000 * 1.001 && rates.at(-1) * 1.07 > 2000 * 1.001);
  // started again at rates[3] (as a string on the command line), stepping on
  let rate = Number(String(rates[3]));
  for (const expected of rates.slice(3)) {
    assert.equal(rate, expected);
    rate *= 1.07;
  }
  assert.throws(() => geometricRates(1000, 1, 2000), /above 1/);
});

test('--pin takes SERVER:CLIENT taskset cpu lists', () => {
  assert.equal(parsePin(undefined), null);
  assert.equal(parsePin('none'), null);
  assert.deepEqual(parsePin('0:1'), { server: '0', client: '1' });
  assert.deepEqual(parsePin('0,2:1-3'), { server: '0,2', client: '1-3' });
  for (const bad of ['0', '0:', ':1', '0:1:2', 'a:b', '0;1']) assert.throws(() => parsePin(bad), /--pin/);
  assert.deepEqual(pinned('0', 'node', ['x.js']), { command: 'taskset', args: ['-c', '0', 'node', 'x.js'] });
  assert.deepEqual(pinned(undefined, 'node', ['x.js']), { command: 'node', args: ['x.js'] });
});

test('loadclient command lines: w5 with its options before the workload, w3 for the warm-up', () => {
  const base = { addr: '127.0.0.1:9', label: 'plain', serverPid: 42, publishers: 32, connections: 1000 };
  assert.deepEqual(loadclientArgs({ ...base, stepSeconds: 2, startRate: 1070, factor: 1.07, maxRate: 4004 }), [
    '--target', 'pushbus=127.0.0.1:9', '--label', 'plain', '--publishers', '32', '--server-pid', '42',
    '--seconds', '2', 'w5', '--connections', '1000', '--start-rate', '1070', '--factor', '1.07', '--max-rate', '4004',
  ]);
  assert.deepEqual(loadclientArgs({ ...base, warmup: { rate: 1000, seconds: 2 } }).slice(-8), [
    '--warmup', '0', '--seconds', '2', 'w3', '--subscribers', '1000', '--rate', '1000',
  ].slice(-8));
});

test('records: JSON objects with a workload; anything else is not one', () => {
  assert.deepEqual(parseRecord(JSON.stringify(STEP) + '\n'), STEP);
  assert.equal(parseRecord('warning: something'), null);
  assert.equal(parseRecord('{not json'), null);
  assert.equal(parseRecord('{"a":1}'), null);
  assert.equal(parseRecord(''), null);
});

test('a step is met with every delivery in time, no gap, publishers on schedule and p99 under the bound', () => {
  assert.deepEqual(rustShortfalls(STEP, 100), []);
  assert.deepEqual(rustShortfalls({ ...STEP, p99_us: 150000 }, 100), ['p99 > 100 ms']);
  assert.deepEqual(rustShortfalls({ ...STEP, publish_behind_ms: 250 }, 100), ['publishers 250 ms behind']);
  assert.deepEqual(rustShortfalls({ ...STEP, delivered_fraction: 0.9871, kept_up: false }, 100), ['98.7 % delivered in time']);
  assert.deepEqual(rustShortfalls({ ...STEP, gaps: true, kept_up: false }, 100), ['gaps']);
  assert.deepEqual(rustShortfalls({ ...STEP, samples: 0, delivered_fraction: 0, kept_up: false }, 100), ['0.0 % delivered in time', 'p99 > 100 ms']);
  // the loadclient's own verdict is never overruled to a pass
  assert.deepEqual(rustShortfalls({ ...STEP, kept_up: false }, 100), ['the loadclient says it did not keep up']);
});

test('a w5_step becomes a step the report prints', () => {
  const step = stepFromRecord(STEP, { connections: 1000, stepSeconds: 2, p99BoundMs: 100 });
  assert.equal(step.targetRate, 1070);
  assert.equal(step.exactRate, 1070);
  assert.equal(step.expected, 2140 * 1000);
  assert.equal(step.deliveries, 2140000);
  assert.equal(step.deliveriesPerSecond, 1070000);
  assert.equal(step.complete, 1);
  assert.deepEqual(step.latencyMs, { p50: 2.1, p99: 14.8, p999: 22, max: 30 });
  assert.deepEqual(step.shortfalls, []);
  const odd = stepFromRecord({ ...STEP, rate: 1144.9, samples: 0, delivered_fraction: 0, kept_up: false }, { connections: 1000, stepSeconds: 2, p99BoundMs: 100 });
  assert.equal(odd.targetRate, 1145);
  assert.equal(odd.latencyMs.p99, null);
  assert.equal(odd.deliveriesPerSecond, 0);
  assert.notDeepEqual(odd.shortfalls, []);
});
