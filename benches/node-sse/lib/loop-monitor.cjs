// Measures a server's event loop from inside its process, so that every
// contender is measured the same way:
//
//   - the pushbus chat server (which the benchmark must not edit) loads it
//     with NODE_OPTIONS="--require <this file>";
//   - the benchmark's own servers require it directly.
//
// Either way it starts when LOOP_MONITOR_FILE is set. On SIGUSR2, and once
// at exit, it appends one JSON line to that file with what happened since
// the previous line (event-loop delay percentiles, event-loop utilisation,
// CPU time of the whole process, every thread included), then starts over.
// The runner sends SIGUSR2 at the start and at the end of each step.
'use strict';

const fs = require('node:fs');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');

// A 1 ms sampling timer: a 3 s step gives about 3,000 samples, enough for a
// p99. Its own cost is a few microseconds a millisecond, for every contender.
const RESOLUTION_MS = 1;
const STARTED = Symbol.for('pushbus.bench.loopMonitor');

const ms = (ns) => Number(ns) / 1e6;

function startLoopMonitor(file) {
  if (globalThis[STARTED]) return;
  globalThis[STARTED] = true;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let since = performance.now();
  let elu = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();

  function report(reason) {
    const now = performance.now();
    const cpuDelta = process.cpuUsage(cpu);
    const line = {
      pid: process.pid,
      reason,
      seconds: (now - since) / 1000,
      delayMs: {
        samples: delay.count,
        p50: delay.count ? ms(delay.percentile(50)) : null,
        p99: delay.count ? ms(delay.percentile(99)) : null,
        max: delay.count ? ms(delay.max) : null,
        mean: delay.count ? ms(delay.mean) : null,
      },
      utilization: performance.eventLoopUtilization(elu).utilization,
      cpuSeconds: (cpuDelta.user + cpuDelta.system) / 1e6,
      systemCpuSeconds: cpuDelta.system / 1e6,
      rssBytes: process.memoryUsage.rss(),
    };
    fs.appendFileSync(file, JSON.stringify(line) + '\n');
    delay.reset();
    since = now;
    elu = performance.eventLoopUtilization();
    cpu = process.cpuUsage();
  }

  process.on('SIGUSR2', () => report('signal'));
  process.on('exit', () => report('exit'));
}

if (process.env.LOOP_MONITOR_FILE) startLoopMonitor(process.env.LOOP_MONITOR_FILE);

module.exports = { startLoopMonitor };
