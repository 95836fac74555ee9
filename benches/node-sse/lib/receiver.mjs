// A receiving worker of the load client: holds its share of the benchmark's
// connections (SSE over raw node:http, or socket.io-client over WebSocket),
// and for every message delivered records which step it belongs to and its
// publish-to-receive latency. The main thread (lib/load.mjs) drives it:
//
//   main -> worker  {type: 'begin', step}     a step starts: take baselines
//                   {type: 'progress', step}  -> {type: 'progress', deliveries}
//                   {type: 'end', step}       -> {type: 'report', ...} for the step
//                   {type: 'close'}           close every connection, then exit
//   worker -> main  {type: 'connected', connected, failed} once, after connecting
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { createHistogram, performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { SseParser } from './sse.mjs';
import { nowMicros, readStamp } from './stamp.mjs';

const { kind, baseUrl, room, connections, connectConcurrency } = workerData;

const steps = new Map(); // step -> { deliveries, latencyMicros, lastMicros }
const ended = new Set(); // steps already reported: their stragglers count as late
const counts = { gaps: 0, disconnects: 0, late: 0, foreign: 0 }; // since the current step began
const closers = [];
let closing = false;

function stepState(step) {
  let state = steps.get(step);
  if (state === undefined) {
    state = { deliveries: 0, latencyMicros: createHistogram(), lastMicros: 0 };
    steps.set(step, state);
  }
  return state;
}

function deliver(text) {
  const now = nowMicros();
  const stamp = readStamp(text);
  if (stamp === null) return void counts.foreign++;
  if (ended.has(stamp.step)) return void counts.late++;
  const state = stepState(stamp.step);
  state.deliveries++;
  state.latencyMicros.record(Math.max(1, now - stamp.micros));
  state.lastMicros = now;
}

const lost = () => {
  if (!closing) counts.disconnects++;
};

function openSse() {
  return new Promise((resolve) => {
    const parser = new SseParser((event) => {
      if (event.type === 'message') deliver(JSON.parse(event.data).data.text);
      else if (event.type === 'gap') counts.gaps++;
    });
    const req = http.get(`${baseUrl}/rooms/${room}/events`, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(false);
      }
      res.setEncoding('utf8');
      res.on('data', (chunk) => parser.feed(chunk));
      res.on('close', lost);
      resolve(true); // the server subscribes before it answers
    });
    req.on('error', () => resolve(false));
    closers.push(() => req.destroy());
  });
}

function openSocketIo() {
  return new Promise((resolve) => {
    const socket = io(baseUrl, { transports: ['websocket'], query: { room }, reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
    socket.on('message', (envelope) => deliver(envelope.data.text));
    socket.on('disconnect', lost);
    closers.push(() => socket.disconnect());
  });
}

async function connectAll() {
  const open = kind === 'sse' ? openSse : openSocketIo;
  let connected = 0;
  for (let done = 0; done < connections; done += connectConcurrency) {
    const batch = Math.min(connectConcurrency, connections - done);
    const results = await Promise.all(Array.from({ length: batch }, open));
    connected += results.filter(Boolean).length;
  }
  return connected;
}

let baseline = null; // loop utilisation at the start of the current step

parentPort.on('message', (message) => {
  switch (message.type) {
    case 'begin':
      baseline = performance.eventLoopUtilization();
      for (const name of Object.keys(counts)) counts[name] = 0;
      break;
    case 'progress':
      parentPort.postMessage({ type: 'progress', deliveries: steps.get(message.step)?.deliveries ?? 0 });
      break;
    case 'end': {
      const state = stepState(message.step);
      steps.delete(message.step);
      ended.add(message.step);
      parentPort.postMessage({
        type: 'report',
        deliveries: state.deliveries,
        latencyMicros: state.latencyMicros,
        lastMicros: state.lastMicros,
        utilization: performance.eventLoopUtilization(baseline).utilization,
        ...counts,
      });
      break;
    }
    case 'close':
      closing = true;
      for (const close of closers) close();
      // Let the closes go out, then leave even if a socket lingers.
      setTimeout(() => process.exit(0), 200);
      break;
  }
});

const connected = await connectAll();
parentPort.postMessage({ type: 'connected', connected, failed: connections - connected });
