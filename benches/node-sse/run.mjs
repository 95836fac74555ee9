#!/usr/bin/env node
// End-to-end SSE fan-out benchmark (issue 5): the pushbus Node chat server
// against a plain node:http fan-out and socket.io, 1,000 loopback
// connections, a stepped publish rate. Use run.sh (it raises the open-file
// limit and installs what is missing); see README.md.
//
//   node run.mjs [--full] [--contenders pushbus,plain,socketio] [--connections N]
//                [--rates 50,100,...] [--step-seconds S] [--workers N] ...
//   node run.mjs --client loadclient [--from 1000 --factor 1.07 --to 4000] [--pin 0:1] ...
//                (the SSE contenders driven by benches/peers' Rust loadclient)
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadClient } from './lib/load.mjs';
import { machineCpuSeconds, machineTicks } from './lib/machine.mjs';
import { ServerProcess } from './lib/server.mjs';
import { LOADCLIENT_BIN, geometricRates, parsePin, runWithLoadclient } from './lib/rust-client.mjs';
import { clientSaturated, formatResults, shortfalls, sustained } from './lib/report.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const ROOT = here('../../');

const CONTENDERS = {
  pushbus: {
    label: 'pushbus chat server, examples/node/server.js via examples/serve.sh (SSE)',
    transport: 'sse',
    command: 'bash',
    args: [`${ROOT}examples/serve.sh`, 'node', '--port', '0'],
    preload: true, // the benchmark does not edit server.js
  },
  plain: {
    label: 'plain node:http fan-out, servers/plain-sse.mjs (SSE)',
    transport: 'sse',
    command: process.execPath,
    args: [here('./servers/plain-sse.mjs'), '--port', '0'],
  },
  perclient: {
    label: "issue 5's plain fan-out: servers/plain-sse.mjs --per-client, a JSON.stringify and a write per client per message (SSE)",
    transport: 'sse',
    command: process.execPath,
    args: [here('./servers/plain-sse.mjs'), '--port', '0', '--per-client'],
  },
  socketio: {
    label: 'socket.io 4.8.4, servers/socketio.mjs (WebSocket transport, not SSE)',
    transport: 'socketio',
    command: process.execPath,
    args: [here('./servers/socketio.mjs'), '--port', '0'],
  },
};

// Publish rates grow geometrically from `from` msg/s by `factor` up to `to`.
// The short run (about two minutes on a 2-core machine) steps by sqrt(2) for
// 2 s; --full (or BENCH_FULL=1) by 2^(1/4) for 10 s.
const PROFILES = {
  short: { from: 25, to: 1600, factor: Math.SQRT2, stepSeconds: 2, warmupSeconds: 2 },
  full: { from: 25, to: 1600, factor: 2 ** 0.25, stepSeconds: 10, warmupSeconds: 5 },
};
// --client loadclient: the Rust client takes far higher rates; finer steps
// from where both SSE servers still keep up on a 2-core machine.
const LOADCLIENT_GRID = { from: 1000, to: 4000, factor: 1.07 };
const LOADCLIENT_PUBLISHERS = 32; // as many POSTs in flight as the Node client allows
// A contender stops after this many missed steps in a row: one miss alone
// is often a neighbour's burst on a shared machine.
const STOP_AFTER_MISSES = 2;
// A step missed while other processes took more than this share of the
// machine's CPU is measured again, up to this many times.
const BUSY_SHARE = 0.1;
const RETRIES_WHEN_BUSY = 2;

function rateGrid({ from, to, factor }) {
  const rates = [];
  for (let rate = from; rate <= to * 1.001; rate *= factor) rates.push(Math.round(rate));
  return rates;
}

const USAGE = `usage: bash benches/node-sse/run.sh [options]   (run.sh raises ulimit -n and installs what is missing)
  --full                 10 s steps at rates x2^(1/4) (also BENCH_FULL=1); both runs stop a contender after two missed steps in a row
  --contenders LIST      of pushbus,plain,perclient,socketio (default: all four, in that order)
  --connections N        receiving connections (default 1000)
  --rates R1,R2,...      publish rates in msg/s (default: 25 up to 1600, x sqrt(2) a step; --full x2^(1/4))
  --step-seconds S       publishing time of a step (default 2; --full 10)
  --grace-seconds S      how long after a step's last publish its deliveries may still arrive (default 1)
  --p99-bound-ms MS      a step is met only with latency p99 under this (default 100)
  --text-bytes N         size of each message's text (default 64)
  --workers N            receiving threads (default: cores - 1, at least 2, at most 8)
  --from R --factor F --to R   the rate grid, geometric (instead of --rates)
  --client node|loadclient     who drives the SSE contenders (default node). loadclient: the Rust epoll
                         client of benches/peers (target/bench-peers/release/loadclient; run.sh builds it),
                         one thread; default contenders pushbus,plain, rates 1000 x1.07 up to 4000;
                         socketio, if asked for, stays on the Node client and the --rates grid
  --publishers N         loadclient: publishing connections, one POST in flight each (default 32)
  --pin S:C              loadclient: servers on cpus S, loadclient (and this runner) on cpus C, by taskset (e.g. 0:1)
  --out DIR              results directory (default target/bench/node-sse)`;

function options() {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      full: { type: 'boolean', default: process.env.BENCH_FULL === '1' },
      contenders: { type: 'string' },
      client: { type: 'string', default: 'node' },
      from: { type: 'string' },
      factor: { type: 'string' },
      to: { type: 'string' },
      publishers: { type: 'string', default: String(LOADCLIENT_PUBLISHERS) },
      pin: { type: 'string' },
      connections: { type: 'string', default: '1000' },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      'grace-seconds': { type: 'string', default: '1' },
      'p99-bound-ms': { type: 'string', default: '100' },
      'text-bytes': { type: 'string', default: '64' },
      workers: { type: 'string' },
      out: { type: 'string', default: `${ROOT}target/bench/node-sse` },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const profile = PROFILES[values.full ? 'full' : 'short'];
  const positive = (flag, text) => {
    const n = Number(text);
    if (!(n > 0 && Number.isFinite(n))) throw new Error(`--${flag} must be a positive number, not ${text}`);
    return n;
  };
  if (values.client !== 'node' && values.client !== 'loadclient') throw new Error(`--client is node or loadclient, not ${values.client}`);
  const rust = values.client === 'loadclient';
  const contenders = (values.contenders ?? (rust ? 'pushbus,plain' : Object.keys(CONTENDERS).join(','))).split(',');
  for (const name of contenders) if (!(name in CONTENDERS)) throw new Error(`unknown contender ${name} (${Object.keys(CONTENDERS)})`);
  const pin = parsePin(values.pin);
  if (pin !== null && !rust) throw new Error('--pin needs --client loadclient');
  const gridGiven = values.from !== undefined || values.factor !== undefined || values.to !== undefined;
  if (gridGiven && values.rates) throw new Error('--rates or --from/--factor/--to, not both');
  const grid = (defaults) => ({
    from: positive('from', values.from ?? defaults.from),
    factor: positive('factor', values.factor ?? defaults.factor),
    to: positive('to', values.to ?? defaults.to),
  });
  const nodeGrid = gridGiven && !rust ? grid(profile) : profile;
  const rustGrid = grid(LOADCLIENT_GRID);
  if (rust && values.rates && contenders.some((name) => CONTENDERS[name].transport === 'sse')) {
    throw new Error('--client loadclient steps geometrically: use --from/--factor/--to, not --rates');
  }
  return {
    client: values.client,
    profile: values.full ? 'full' : 'short',
    contenders,
    connections: positive('connections', values.connections),
    rates: values.rates ? values.rates.split(',').map((r) => positive('rates', r)) : rateGrid(nodeGrid),
    // --client loadclient: the SSE contenders' grid, exactly as the loadclient computes it
    ...(rust ? { loadclientRates: geometricRates(rustGrid.from, rustGrid.factor, rustGrid.to), rateFactor: rustGrid.factor } : {}),
    publishers: positive('publishers', values.publishers),
    pin,
    stepSeconds: positive('step-seconds', values['step-seconds'] ?? profile.stepSeconds),
    warmupSeconds: profile.warmupSeconds,
    graceSeconds: positive('grace-seconds', values['grace-seconds']),
    p99BoundMs: positive('p99-bound-ms', values['p99-bound-ms']),
    textBytes: positive('text-bytes', values['text-bytes']),
    // the receivers need CPU as much as the server: all cores but one, at least two threads
    workers: positive('workers', values.workers ?? Math.max(2, Math.min(8, os.availableParallelism() - 1))),
    out: values.out,
  };
}

/** One step with the server's loop and CPU numbers around it, judged. */
async function measureStep(server, load, stepOptions, opts) {
  const machineBefore = await machineTicks(); // outside the server's window, which holds the client's
  await server.mark();
  const step = await load.runStep(stepOptions);
  step.server = await server.mark();
  step.machineCpuSeconds = machineCpuSeconds(machineBefore, await machineTicks());
  step.othersCpuSeconds = step.machineCpuSeconds ? step.machineCpuSeconds.busy - step.client.cpuSeconds - step.server.cpuSeconds : null;
  step.shortfalls = shortfalls(step, opts.p99BoundMs);
  step.clientSaturated = clientSaturated(step);
  return step;
}

/** The share of the machine's CPU that other processes took during a step (0 when unknown). */
const othersShare = (step) => (step.machineCpuSeconds?.total > 0 ? step.othersCpuSeconds / step.machineCpuSeconds.total : 0);

async function runContender(name, opts) {
  const spec = CONTENDERS[name];
  const result = { label: spec.label, transport: spec.transport, steps: [], sustained: null };
  let server = null;
  let load = null;
  try {
    server = await ServerProcess.start({ ...spec, monitorFile: `${opts.out}/${name}.loop.jsonl` });
    result.pid = server.pid;
    load = new LoadClient({
      kind: spec.transport,
      baseUrl: server.baseUrl,
      room: 'bench',
      connections: opts.connections,
      workers: opts.workers,
      textBytes: opts.textBytes,
    });
    result.connected = await load.connect();
    console.error(`${name}: pid ${server.pid}, ${result.connected}/${opts.connections} connected`);
    if (result.connected < opts.connections) throw new Error(`${name}: only ${result.connected} connections opened`);
    // warm-up: JIT, buffers, the first messages' framing; not reported
    await load.runStep({ step: 0, rate: opts.rates[0], seconds: opts.warmupSeconds, graceSeconds: opts.graceSeconds });
    let misses = 0;
    let id = 0; // every attempt has its own id, so late deliveries of one never count for another
    for (const rate of opts.rates) {
      let step;
      for (let attempt = 1; ; attempt++) {
        step = await measureStep(server, load, { step: ++id, rate, seconds: opts.stepSeconds, graceSeconds: opts.graceSeconds }, opts);
        step.attempt = attempt;
        console.error(
          `${name} ${rate} msg/s: ${Math.round(step.deliveriesPerSecond)} deliveries/s, p99 ${step.latencyMs.p99?.toFixed(1)} ms, ` +
            `others ${(100 * othersShare(step)).toFixed(0)} %, ${step.shortfalls.length === 0 ? 'ok' : step.shortfalls.join('; ')}`
        );
        if (step.shortfalls.length === 0 || othersShare(step) <= BUSY_SHARE || attempt > RETRIES_WHEN_BUSY) break;
      }
      result.steps.push(step);
      misses = step.shortfalls.length === 0 ? 0 : misses + 1;
      if (misses >= STOP_AFTER_MISSES) break;
    }
    result.sustained = sustained(result.steps);
    result.sustainedIsCeiling = result.sustained !== null && result.sustained.targetRate === opts.rates.at(-1);
  } catch (error) {
    // one contender's failure is its result; the others still run
    result.error = error.message;
    console.error(`${name}: ${error.message}`);
  } finally {
    await load?.close();
    result.exit = await server?.stop();
  }
  return result;
}

function machine() {
  const cpus = os.cpus();
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {}
  return {
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    cpu: cpus[0]?.model,
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    commit,
  };
}

let opts;
try {
  opts = options();
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
mkdirSync(opts.out, { recursive: true });
const startedAt = new Date();
const results = {
  startedAt: startedAt.toISOString(),
  machine: machine(),
  loadAverageAtStart: os.loadavg(),
  options: opts,
  contenders: {},
};
console.error(
  `node-sse: ${opts.profile} run, ${opts.connections} connections, ${opts.workers} receiving threads, ` +
    `steps ${opts.rates.join('/')} msg/s of ${opts.stepSeconds} s; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`
);
if (opts.pin !== null) {
  // this runner (and the Node client's threads, for socketio) on the client's cpus
  execFileSync('taskset', ['-a', '-p', '-c', opts.pin.client, String(process.pid)], { stdio: 'ignore' });
}
if (opts.client === 'loadclient') {
  console.error(
    `loadclient (${LOADCLIENT_BIN}): steps ${opts.loadclientRates.map((r) => Math.round(r)).join('/')} msg/s of ${opts.stepSeconds} s, ` +
      `${opts.publishers} publishers` + (opts.pin ? `, pinned: servers cpu ${opts.pin.server}, loadclient cpu ${opts.pin.client}` : '')
  );
}
const rules = { busyShare: BUSY_SHARE, retriesWhenBusy: RETRIES_WHEN_BUSY, stopAfterMisses: STOP_AFTER_MISSES };
for (const name of opts.contenders) {
  const rust = opts.client === 'loadclient' && CONTENDERS[name].transport === 'sse';
  results.contenders[name] = rust
    ? await runWithLoadclient(name, CONTENDERS[name], { ...opts, rates: opts.loadclientRates }, rules)
    : await runContender(name, opts);
}
results.loadAverageAtEnd = os.loadavg();
results.seconds = (Date.now() - startedAt) / 1000;

const file = `${opts.out}/results-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
const json = JSON.stringify(results, null, 2);
writeFileSync(file, json);
writeFileSync(`${opts.out}/latest.json`, json);
console.log(formatResults(results));
console.log(`\n${results.seconds.toFixed(0)} s; results: ${file}`);
