// The load client: receiving worker threads (lib/receiver.mjs) share the
// connections; this thread publishes through the server's
// `POST /rooms/{room}/messages` at a steady rate and gathers each step's
// results. Publisher and receivers are threads of one process, so the
// publish time stamped into each message and the receive time come from one
// clock (lib/stamp.mjs).
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { createHistogram, performance } from 'node:perf_hooks';
import { nowMicros, stampText } from './stamp.mjs';

// POSTs in flight at most: past that the publisher falls behind its schedule
// and the step reports a lower publish rate (the server is not keeping up).
const MAX_POSTS_IN_FLIGHT = 32;
const CONNECT_CONCURRENCY = 50;
const PROGRESS_POLL_MS = 50;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Percentiles of a histogram of microseconds, in milliseconds. */
export function latencySummary(histogram) {
  if (histogram.count === 0) return { p50: null, p99: null, max: null };
  return {
    p50: histogram.percentile(50) / 1000,
    p99: histogram.percentile(99) / 1000,
    max: histogram.max / 1000,
  };
}

export class LoadClient {
  /**
   * @param {object} o
   * @param {'sse'|'socketio'} o.kind  how receivers connect
   * @param {string} o.baseUrl         http://127.0.0.1:PORT
   * @param {string} o.room
   * @param {number} o.connections
   * @param {number} o.workers         receiving threads
   * @param {number} o.textBytes       size of each message's text
   */
  constructor({ kind, baseUrl, room, connections, workers, textBytes }) {
    Object.assign(this, { kind, baseUrl, room, connections, textBytes });
    this.workerCount = Math.min(workers, connections);
    // Idle keep-alive sockets close after 2 s, before any server's own
    // keep-alive timeout (5 s for node:http) can race a new POST on them.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: MAX_POSTS_IN_FLIGHT, timeout: 2000 });
    this.workers = [];
    this.connected = 0;
  }

  /** Starts the workers and opens every connection; resolves with how many opened. */
  async connect() {
    const replies = [];
    for (let i = 0; i < this.workerCount; i++) {
      // an even share, the remainder to the first workers
      const share = Math.floor(this.connections / this.workerCount) + (i < this.connections % this.workerCount ? 1 : 0);
      const worker = new Worker(new URL('./receiver.mjs', import.meta.url), {
        workerData: { kind: this.kind, baseUrl: this.baseUrl, room: this.room, connections: share, connectConcurrency: CONNECT_CONCURRENCY },
      });
      worker.on('error', (error) => console.error(`receiver ${i}: ${error.stack}`));
      this.workers.push(worker);
      replies.push(nextMessage(worker, 'connected'));
    }
    const connected = await Promise.all(replies);
    this.connected = connected.reduce((sum, r) => sum + r.connected, 0);
    return this.connected;
  }

  async #ask(message, replyType) {
    const replies = this.workers.map((worker) => nextMessage(worker, replyType));
    for (const worker of this.workers) worker.postMessage(message);
    return Promise.all(replies);
  }

  /** POSTs one message; resolves with null when it was published (201), else why not. */
  #post(text) {
    const body = JSON.stringify({ user: 'bench', text });
    return new Promise((resolve) => {
      const req = http.request(
        `${this.baseUrl}/rooms/${this.room}/messages`,
        { method: 'POST', agent: this.agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 201 ? null : `status ${res.statusCode}`));
        }
      );
      req.on('error', (error) => resolve(error.code ?? error.message));
      req.end(body);
    });
  }

  /** Publishes `rate` messages a second for `seconds`, open loop (bounded in flight). */
  #publish(step, rate, seconds) {
    const total = Math.max(1, Math.round(rate * seconds));
    const intervalMicros = 1e6 / rate;
    const postMicros = createHistogram();
    const result = { attempted: 0, ok: 0, failures: {}, startMicros: nowMicros(), lastIssueMicros: 0 };
    let inFlight = 0;
    return new Promise((resolve) => {
      const issue = () => {
        const sent = nowMicros();
        result.attempted++;
        result.lastIssueMicros = sent;
        inFlight++;
        this.#post(stampText(step, sent, this.textBytes)).then((failure) => {
          postMicros.record(Math.max(1, nowMicros() - sent));
          if (failure === null) result.ok++;
          else result.failures[failure] = (result.failures[failure] ?? 0) + 1;
          inFlight--;
          if (result.attempted === total && inFlight === 0) resolve({ ...result, postMicros });
          else tick();
        });
      };
      const tick = () => {
        const due = Math.min(total, Math.floor((nowMicros() - result.startMicros) / intervalMicros) + 1);
        while (result.attempted < due && inFlight < MAX_POSTS_IN_FLIGHT) issue();
        clearTimeout(timer);
        if (result.attempted < total) timer = setTimeout(tick, 1);
      };
      let timer = null;
      tick();
    });
  }

  /**
   * One step: publish at `rate` for `seconds`, then wait up to `graceSeconds`
   * for every delivery of the step's messages. Returns the step's numbers.
   */
  async runStep({ step, rate, seconds, graceSeconds }) {
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    for (const worker of this.workers) worker.postMessage({ type: 'begin', step });

    const published = await this.#publish(step, rate, seconds);
    const publishedMicros = nowMicros();
    const expected = published.ok * this.connected;
    let delivered = 0;
    while (delivered < expected && nowMicros() - publishedMicros < graceSeconds * 1e6) {
      await sleep(PROGRESS_POLL_MS);
      delivered = (await this.#ask({ type: 'progress', step }, 'progress')).reduce((sum, r) => sum + r.deliveries, 0);
    }

    const reports = await this.#ask({ type: 'end', step }, 'report');
    const publisherUtilization = performance.eventLoopUtilization(eluBefore).utilization;
    const cpu = process.cpuUsage(cpuBefore);

    const latency = createHistogram();
    for (const r of reports) if (r.latencyMicros.count > 0) latency.add(r.latencyMicros);
    const deliveries = reports.reduce((sum, r) => sum + r.deliveries, 0);
    const lastMicros = Math.max(...reports.map((r) => r.lastMicros));
    // the schedule issues one message per interval: the last one's interval counts too
    const issueSeconds = (published.lastIssueMicros - published.startMicros + 1e6 / rate) / 1e6;
    const deliverySeconds = (lastMicros - published.startMicros) / 1e6;
    const sum = (field) => reports.reduce((total, r) => total + r[field], 0);
    return {
      step,
      targetRate: rate,
      seconds,
      published: {
        ok: published.ok,
        failed: published.attempted - published.ok,
        failures: published.failures,
        rate: published.attempted / issueSeconds,
        postMs: latencySummary(published.postMicros),
      },
      expected,
      deliveries,
      complete: expected > 0 ? deliveries / expected : 0,
      deliveriesPerSecond: deliverySeconds > 0 ? deliveries / deliverySeconds : 0,
      offeredDeliveriesPerSecond: rate * this.connected,
      latencyMs: latencySummary(latency),
      gaps: sum('gaps'),
      disconnects: sum('disconnects'),
      lateDeliveries: sum('late'), // of earlier steps, after their end
      foreignMessages: sum('foreign'), // without the benchmark's stamp: none expected
      client: {
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        systemCpuSeconds: cpu.system / 1e6,
        publisherUtilization,
        receiverUtilizationMax: Math.max(...reports.map((r) => r.utilization)),
      },
    };
  }

  async close() {
    await Promise.all(
      this.workers.map((worker) => {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.postMessage({ type: 'close' });
        return Promise.race([exited, sleep(2000).then(() => worker.terminate())]);
      })
    );
    this.agent.destroy();
  }
}

function nextMessage(worker, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code) => reject(new Error(`receiver exited (${code}) before '${type}'`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}
