// `--client loadclient`: the SSE contenders driven by the Rust epoll load
// client of benches/peers (binary `loadclient`, workload `w5`) instead of
// the Node client, whose receiving threads are the limit on a small machine
// (about 7 us of client CPU per delivery against 2-3 us of the server's).
//
// The loadclient holds the connections and publishes (POST, one request at a
// time on each of `--publishers` keep-alive connections), steps its rate up
// by a constant factor and prints one JSON line per step (`w5_step`). It
// stops at its first step that does not keep up. This module runs it as a
// child process, reads its steps as they come, brackets each one with the
// server's loop-monitor reports (SIGUSR2, as the Node client does), judges
// it by the runner's rules and, after a miss, starts it again at the next
// rate (or the same one, when other processes were busy), so that a
// contender stops, as with the Node client, after two missed steps in a row.
//
// The pure parts (arguments, records, verdicts, rate grid, --pin) are
// exported for test/rust-client.test.mjs.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { machineCpuSeconds, machineTicks } from './machine.mjs';
import { sustained } from './report.mjs';
import { ServerProcess } from './server.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Where benches/scripts/run.sh builds it too (CARGO_TARGET_DIR=target/bench-peers). */
export const LOADCLIENT_BIN = `${ROOT}target/bench-peers/release/loadclient`;
/** The loadclient's own limit on how far its publishers may fall behind schedule (net/workload.rs). */
const MAX_PUBLISH_LAG_MS = 100;
const CONNECT_TIMEOUT_MS = 60000;
const SOCKETS_CLOSED_TIMEOUT_MS = 10000;
const EXIT_TIMEOUT_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rates of a geometric grid, `from` times `factor` a step, up to `to`,
 * computed as the loadclient computes them (f64, `rate *= factor`), so that
 * a run started again at one of them goes on with the very same numbers.
 */
export function geometricRates(from, factor, to) {
  if (!(factor > 1)) throw new Error(`the rate factor must be above 1, not ${factor}`);
  const rates = [];
  for (let rate = from; rate <= to * 1.001; rate *= factor) rates.push(rate);
  return rates;
}

/** `--pin S:C` (cpu lists for taskset, e.g. `0:1` or `0:1-3`) as { server, client }, or null for no pinning. */
export function parsePin(text) {
  if (text === undefined || text === null || text === '' || text === 'none') return null;
  const cpus = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
  const [server, client, ...rest] = text.split(':');
  if (rest.length > 0 || !cpus.test(server ?? '') || !cpus.test(client ?? '')) {
    throw new Error(`--pin wants SERVER_CPUS:CLIENT_CPUS as taskset cpu lists (e.g. 0:1), not ${text}`);
  }
  return { server, client };
}

/** `command args` under `taskset -c cpus` when `cpus` is set. */
export function pinned(cpus, command, args) {
  return cpus ? { command: 'taskset', args: ['-c', cpus, command, ...args] } : { command, args };
}

/** The loadclient's command line for a capacity run (w5) or a warm-up (w3). */
export function loadclientArgs({ addr, label, serverPid, publishers, stepSeconds, connections, startRate, factor, maxRate, warmup }) {
  const common = ['--target', `pushbus=${addr}`, '--label', label, '--publishers', String(publishers), '--server-pid', String(serverPid)];
  if (warmup) {
    return [...common, '--warmup', '0', '--seconds', String(warmup.seconds), 'w3', '--subscribers', String(connections), '--rate', String(warmup.rate)];
  }
  return [
    ...common,
    '--seconds',
    String(stepSeconds),
    'w5',
    '--connections',
    String(connections),
    '--start-rate',
    String(startRate),
    '--factor',
    String(factor),
    '--max-rate',
    String(maxRate),
  ];
}

/** One line of the loadclient's output as an object, or null when it is not a JSON record. */
export function parseRecord(line) {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  try {
    const record = JSON.parse(text);
    return record !== null && typeof record === 'object' && typeof record.workload === 'string' ? record : null;
  } catch {
    return null;
  }
}

/**
 * Why a loadclient step does not count as sustained (empty: it does): the
 * runner's rules as far as the loadclient reports them. Its publishers keep
 * the rate when they are at most 100 ms behind schedule (stricter than the
 * Node client's 95 % of the rate); a failed POST ends the loadclient (the
 * step is then missing, not here); a disconnect shows as deliveries missing.
 */
export function rustShortfalls(record, p99BoundMs) {
  const reasons = [];
  if (record.publish_behind_ms > MAX_PUBLISH_LAG_MS) reasons.push(`publishers ${record.publish_behind_ms.toFixed(0)} ms behind`);
  if (!(record.delivered_fraction >= 1)) reasons.push(`${(100 * (record.delivered_fraction ?? 0)).toFixed(1)} % delivered in time`);
  if (record.gaps === true) reasons.push('gaps');
  const p99Ms = typeof record.p99_us === 'number' && record.samples > 0 ? record.p99_us / 1000 : null;
  if (p99Ms === null || p99Ms > p99BoundMs) reasons.push(`p99 > ${p99BoundMs} ms`);
  if (reasons.length === 0 && record.kept_up === false) reasons.push('the loadclient says it did not keep up');
  return reasons;
}

/**
 * A `w5_step` record in the shape of the Node client's steps (lib/load.mjs),
 * so that lib/report.mjs prints both. `deliveriesPerSecond` is the step's
 * deliveries over its publishing time (the loadclient does not report when
 * the last one arrived); `targetRate` is rounded for the tables, `exactRate`
 * is the loadclient's.
 */
export function stepFromRecord(record, { connections, stepSeconds, p99BoundMs }) {
  const count = Math.ceil(record.rate * stepSeconds);
  const publishSeconds = count / record.rate;
  const deliveries = record.samples ?? 0;
  const ms = (us) => (typeof us === 'number' ? us / 1000 : null);
  const step = {
    targetRate: Math.round(record.rate),
    exactRate: record.rate,
    seconds: stepSeconds,
    published: { ok: count, failed: 0, rate: record.rate, behindMs: record.publish_behind_ms },
    expected: count * connections,
    deliveries,
    complete: record.delivered_fraction ?? 0,
    deliveriesPerSecond: deliveries / publishSeconds,
    offeredDeliveriesPerSecond: record.rate * connections,
    latencyMs: deliveries > 0 ? { p50: ms(record.p50_us), p99: ms(record.p99_us), p999: ms(record.p999_us), max: ms(record.max_us) } : { p50: null, p99: null, max: null },
    gaps: record.gaps === true ? 1 : 0,
    disconnects: 0,
    loadclient: record,
  };
  step.shortfalls = rustShortfalls(record, p99BoundMs);
  return step;
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat; null when it is gone. */
export function processCpuSeconds(pid, ticksPerSecond = 100) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the name: state is field 3; utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** How many sockets a process holds (its open file descriptors that are sockets). */
function socketCount(pid) {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count++;
    } catch {} // closed while we looked
  }
  return count;
}

async function waitForSockets(pid, done, timeoutMs, what) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (done(socketCount(pid))) return;
    await sleep(20);
  }
  throw new Error(`server ${pid}: ${what} did not happen within ${timeoutMs / 1000} s`);
}

/** A loadclient child process: its records as they come, its end, stopped by its pid. */
class Loadclient {
  constructor(pin, args) {
    const { command, args: argv } = pinned(pin?.client, LOADCLIENT_BIN, args);
    this.child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.stderrTail = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => {
      this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** The next record, or null once the loadclient's output has ended. */
  async next() {
    for (;;) {
      const { value, done } = await this.lines.next();
      if (done) return null;
      const record = parseRecord(value);
      if (record !== null) return record;
    }
  }

  /** SIGTERM by pid (then SIGKILL), unless it has already exited. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const exited = await Promise.race([this.exited, sleep(EXIT_TIMEOUT_MS).then(() => null)]);
      if (exited === null) this.child.kill('SIGKILL');
    }
    return this.exited;
  }
}

/**
 * Runs one SSE contender with the loadclient. `spec` is the contender of
 * run.mjs; `opts` the runner's options (rates from geometricRates,
 * rateFactor, connections, stepSeconds, warmupSeconds, p99BoundMs,
 * publishers, pin) and the rules: busyShare, retriesWhenBusy, stopAfterMisses.
 */
export async function runWithLoadclient(name, spec, opts, { busyShare, retriesWhenBusy, stopAfterMisses }) {
  const result = { label: spec.label, transport: spec.transport, client: 'loadclient', steps: [], sustained: null, segments: [] };
  if (!existsSync(LOADCLIENT_BIN)) {
    result.error = `${LOADCLIENT_BIN} is missing: CARGO_TARGET_DIR=target/bench-peers cargo build --release --locked --manifest-path benches/peers/Cargo.toml --bin loadclient`;
    console.error(`${name}: ${result.error}`);
    return result;
  }
  let server = null;
  let client = null;
  try {
    const { command, args } = pinned(opts.pin?.server, spec.command, spec.args);
    server = await ServerProcess.start({ ...spec, command, args, monitorFile: `${opts.out}/${name}.loop.jsonl` });
    result.pid = server.pid;
    const addr = server.baseUrl.replace(/^http:\/\//, '');
    const idleSockets = socketCount(server.pid);
    const base = { addr, label: name, serverPid: server.pid, publishers: opts.publishers, connections: opts.connections };
    const expectSockets = opts.connections + opts.publishers;
    console.error(`${name}: pid ${server.pid}, ${addr}, loadclient w5, ${opts.connections} connections, ${opts.publishers} publishers` + (opts.pin ? `, server on cpu ${opts.pin.server}, loadclient on cpu ${opts.pin.client}` : ''));

    const finish = async () => {
      const exit = await client.stop();
      if (exit.code !== 0 && exit.code !== null) result.segments.at(-1).exit = { ...exit, stderr: client.stderrTail.trim().slice(-500) };
      client = null;
      // the server has closed the last run's sockets before the next opens its own
      await waitForSockets(server.pid, (n) => n <= idleSockets + 2, SOCKETS_CLOSED_TIMEOUT_MS, 'closing the loadclient connections');
    };

    // warm-up: JIT, buffers, the first messages' framing; not reported (w3 at the first rate)
    client = new Loadclient(opts.pin, loadclientArgs({ ...base, warmup: { rate: opts.rates[0], seconds: opts.warmupSeconds } }));
    result.segments.push({ warmup: true, pid: client.pid });
    const warm = await client.next();
    if (warm?.error) throw new Error(`warm-up: ${warm.error}`);
    await finish();

    let index = 0; // the next rate to measure
    let misses = 0;
    let attempt = 1;
    let id = 0;
    while (index < opts.rates.length) {
      client = new Loadclient(
        opts.pin,
        loadclientArgs({ ...base, stepSeconds: opts.stepSeconds, startRate: opts.rates[index], factor: opts.rateFactor, maxRate: opts.rates.at(-1) * 1.001 })
      );
      result.segments.push({ fromRate: opts.rates[index], pid: client.pid });
      // the first step's server window starts once every connection is open
      await waitForSockets(server.pid, (n) => n >= idleSockets + expectSockets || client.child.exitCode !== null, CONNECT_TIMEOUT_MS, `${opts.connections} connections`);
      await server.mark();
      let machineBefore = await machineTicks();
      let clientCpuBefore = processCpuSeconds(client.pid) ?? 0;
      let restart = false;
      for (;;) {
        const record = await client.next();
        if (record === null) break; // ended: its last step was missed, or every rate was measured
        if (record.workload === 'w5') {
          result.segments.at(-1).summary = record;
          continue;
        }
        if (record.error) {
          result.segments.at(-1).error = record.error;
          continue;
        }
        if (record.workload !== 'w5_step') continue;
        const serverNumbers = await server.mark();
        const machineAfter = await machineTicks();
        // once the loadclient has exited, its own figure (a share of one core over the step)
        const clientCpuAfter = processCpuSeconds(client.pid) ?? clientCpuBefore + (record.client_cpu ?? 0) * serverNumbers.seconds;
        if (Math.abs(record.rate - opts.rates[index]) > 1e-9 * record.rate) {
          throw new Error(`the loadclient measured ${record.rate} msg/s where ${opts.rates[index]} was expected`);
        }
        const step = stepFromRecord(record, { connections: opts.connections, stepSeconds: opts.stepSeconds, p99BoundMs: opts.p99BoundMs });
        step.step = ++id;
        step.attempt = attempt;
        step.server = serverNumbers;
        const window = serverNumbers.seconds;
        step.client = {
          cpuSeconds: clientCpuAfter - clientCpuBefore,
          // one thread: its share of a core is how busy it was
          receiverUtilizationMax: window > 0 ? (clientCpuAfter - clientCpuBefore) / window : null,
          publisherUtilization: 0,
        };
        step.clientSaturated = step.client.receiverUtilizationMax > 0.9;
        step.machineCpuSeconds = machineCpuSeconds(machineBefore, machineAfter);
        step.othersCpuSeconds = step.machineCpuSeconds ? step.machineCpuSeconds.busy - step.client.cpuSeconds - step.server.cpuSeconds : null;
        const others = step.machineCpuSeconds?.total > 0 ? step.othersCpuSeconds / step.machineCpuSeconds.total : 0;
        [machineBefore, clientCpuBefore] = [machineAfter, clientCpuAfter];
        console.error(
          `${name} ${step.targetRate} msg/s: ${Math.round(step.deliveriesPerSecond)} deliveries/s, p99 ${step.latencyMs.p99?.toFixed(1)} ms, ` +
            `loop p99 ${step.server.delayMs.p99?.toFixed(1)} ms, server ${((1e6 * step.server.cpuSeconds) / Math.max(1, step.deliveries)).toFixed(2)} us/dlv, ` +
            `others ${(100 * others).toFixed(0)} %, ${step.shortfalls.length === 0 ? 'ok' : step.shortfalls.join('; ')}`
        );
        const met = step.shortfalls.length === 0;
        if (!met && others > busyShare && attempt <= retriesWhenBusy) {
          // measured again, as the Node runner does; the retry replaces this step
          attempt++;
          restart = true;
          break;
        }
        result.steps.push(step);
        index++;
        attempt = 1;
        misses = met ? 0 : misses + 1;
        if (misses >= stopAfterMisses) {
          index = opts.rates.length;
          break;
        }
        if (!met && record.kept_up !== false) continue; // missed by the p99 bound only: the loadclient goes on
      }
      await finish();
      const failure = result.segments.at(-1).error;
      if (failure) throw new Error(`loadclient: ${failure}`); // a failed POST or connection: not a step's verdict
    }
  } catch (error) {
    // the steps measured so far still count
    result.error = error.message;
    console.error(`${name}: ${error.message}`);
  } finally {
    await client?.stop();
    result.exit = await server?.stop();
  }
  result.sustained = sustained(result.steps);
  result.sustainedIsCeiling = result.sustained !== null && result.sustained.exactRate === opts.rates.at(-1);
  return result;
}
