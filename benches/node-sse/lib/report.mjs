// Judging a step (did the server keep up?) and printing the results.

/**
 * Why a step does not count as sustained (empty: it does). A step is
 * sustained when the publisher got its rate through the server's POST,
 * every connection received every message of the step within the grace
 * period after the last publish, nothing was lost (no gap, no disconnect),
 * and the publish-to-receive p99 stays under `p99BoundMs`.
 */
export function shortfalls(step, p99BoundMs) {
  const reasons = [];
  if (step.published.failed > 0) reasons.push(`${step.published.failed} POSTs failed`);
  if (step.published.rate < 0.95 * step.targetRate) reasons.push(`published ${step.published.rate.toFixed(0)} msg/s`);
  if (step.complete < 1) reasons.push(`${(100 * step.complete).toFixed(1)} % delivered in time`);
  if (step.gaps > 0) reasons.push(`${step.gaps} gaps`);
  if (step.disconnects > 0) reasons.push(`${step.disconnects} disconnects`);
  if (step.latencyMs.p99 === null || step.latencyMs.p99 > p99BoundMs) reasons.push(`p99 > ${p99BoundMs} ms`);
  return reasons;
}

/** The client's own threads were nearly saturated: a failure may be the client's, not the server's. */
export const clientSaturated = (step) =>
  step.client.receiverUtilizationMax > 0.9 || step.client.publisherUtilization > 0.9;

/**
 * The highest step met, or null. A miss below it is shown in the step
 * table; the run stops after consecutive misses, so a step met above a miss
 * is not a fluke of an overloaded server.
 */
export function sustained(steps) {
  return steps.filter((step) => step.shortfalls.length === 0).at(-1) ?? null;
}

const fixed = (value, digits) => (value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));
const thousands = (value) => (value === null || value === undefined ? '-' : Math.round(value).toLocaleString('en-US'));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
const perDelivery = (seconds, deliveries) => (deliveries > 0 ? (seconds * 1e6) / deliveries : null);

/** Server and client CPU microseconds per delivery of a step. */
export const cpuMicrosPerDelivery = (step) => ({
  server: perDelivery(step.server.cpuSeconds, step.deliveries),
  client: perDelivery(step.client.cpuSeconds, step.deliveries),
});

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function stepTable(contenders) {
  const rows = [];
  for (const [name, c] of Object.entries(contenders)) {
    for (const s of c.steps) {
      const cpu = cpuMicrosPerDelivery(s);
      rows.push([
        name,
        s.targetRate,
        thousands(s.deliveriesPerSecond),
        fixed(100 * s.complete, 1),
        `${fixed(s.latencyMs.p50, 1)}/${fixed(s.latencyMs.p99, 1)}`,
        `${fixed(s.server.delayMs.p50, 1)}/${fixed(s.server.delayMs.p99, 1)}`,
        fixed(s.server.utilization, 2),
        `${fixed(cpu.server, 1)}/${fixed(cpu.client, 1)}`,
        fixed(s.client.receiverUtilizationMax, 2) + (s.clientSaturated ? '!' : ''),
        fixed(s.othersCpuSeconds, 1),
        s.shortfalls.length === 0 ? 'ok' : s.shortfalls.join('; '),
      ]);
    }
  }
  return table(
    ['server', 'msg/s', 'deliveries/s', 'got %', 'latency p50/p99 ms', 'loop delay p50/p99 ms', 'server ELU', 'CPU us/dlv srv/client', 'client ELU', 'others CPU s', 'verdict'],
    rows
  );
}

/**
 * pushbus / peer of sustained deliveries/s, marked as a bound when a side
 * sustained every step (its limit is higher) or none (its limit is lower
 * than the first step's).
 */
function sustainedRatio(pushbus, peer) {
  if (pushbus.sustained === null && peer.sustained === null) return '-';
  if (peer.sustained === null) return `>${ratio(pushbus.sustained, peer.firstOffered)}`;
  if (pushbus.sustained === null) return `<${ratio(pushbus.firstOffered, peer.sustained)}`;
  if (pushbus.ceiling && peer.ceiling) return '-';
  const bound = pushbus.ceiling ? '>=' : peer.ceiling ? '<=' : '';
  return bound + ratio(pushbus.sustained, peer.sustained);
}

/**
 * The summary: each contender's sustained deliveries/s, and its
 * latency, loop delay and CPU cost at the highest rate every contender
 * sustained (the lowest step if some sustained none), with ratios pushbus / peer.
 */
function summaryTable(contenders, { atTop = false } = {}) {
  const entries = Object.entries(contenders);
  const measured = entries.map(([, c]) => c).filter((c) => c.steps.length > 0);
  const commonRate =
    measured.length === 0
      ? '-'
      : Math.min(...measured.map((c) => c.sustained?.targetRate ?? 0)) || Math.min(...measured.map((c) => c.steps[0].targetRate));
  const facts = Object.fromEntries(
    entries.map(([name, c]) => {
      const common = c.steps.find((s) => s.targetRate === commonRate);
      return [
        name,
        {
          sustainedRate: c.sustained ? `${c.sustainedIsCeiling ? '>=' : ''}${c.sustained.targetRate}` : 'none',
          sustained: c.sustained?.deliveriesPerSecond ?? null,
          ceiling: Boolean(c.sustainedIsCeiling),
          firstOffered: c.steps[0]?.offeredDeliveriesPerSecond ?? null, // above anything it sustained when it sustained none
          p99: common?.latencyMs.p99 ?? null,
          loopP99: common?.server.delayMs.p99 ?? null,
          cpu: common ? cpuMicrosPerDelivery(common).server : null,
          topP99: c.sustained?.latencyMs.p99 ?? null,
          topLoopP99: c.sustained?.server.delayMs.p99 ?? null,
          topCpu: c.sustained ? cpuMicrosPerDelivery(c.sustained).server : null,
        },
      ];
    })
  );
  const pushbus = facts.pushbus; // the ratios need it in the run
  const rows = Object.entries(facts).map(([name, f]) => [
    name,
    f.sustainedRate,
    thousands(f.sustained),
    pushbus === undefined ? '-' : name === 'pushbus' ? '1.00x' : sustainedRatio(pushbus, f),
    fixed(f.p99, 1),
    fixed(f.loopP99, 1),
    fixed(f.cpu, atTop ? 2 : 1),
    ratio(pushbus?.cpu, f.cpu),
    ...(atTop ? [fixed(f.topP99, 1), fixed(f.topLoopP99, 1), fixed(f.topCpu, 2)] : []),
  ]);
  return {
    commonRate,
    text: table(
      [
        'server',
        'sustained msg/s',
        'deliveries/s',
        'pushbus/this',
        `p99 ms @${commonRate}`,
        `loop p99 ms @${commonRate}`,
        `srv CPU us/dlv @${commonRate}`,
        'pushbus/this',
        ...(atTop ? ['p99 ms @top', 'loop p99 ms @top', 'srv CPU us/dlv @top'] : []),
      ],
      rows
    ),
  };
}

/** The per-step table and the summary with ratios pushbus / peer, as text. */
export function formatResults(results) {
  const { options } = results;
  const rust = options.client === 'loadclient';
  const summary = summaryTable(results.contenders, { atTop: rust });
  let othersBusy = 0;
  let machineTotal = 0;
  for (const c of Object.values(results.contenders)) {
    for (const s of c.steps) {
      othersBusy += s.othersCpuSeconds ?? 0;
      machineTotal += s.machineCpuSeconds?.total ?? 0;
    }
  }
  const busy = machineTotal > 0 ? (100 * othersBusy) / machineTotal : null;
  return [
    `${results.machine.cores} cores, ${results.machine.cpu}, Node ${results.machine.node}; during the steps other processes ` +
      `used ${fixed(busy, 0)} % of the machine's CPU (load average ${results.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} at the start).` +
      (results.machine.cores < 4 ? ' With fewer than 4 cores the load client and the server share them: see CPU us/dlv.' : ''),
    '',
    stepTable(results.contenders),
    '',
    summary.text,
    ...Object.entries(results.contenders)
      .filter(([, c]) => c.error)
      .map(([name, c]) => `${name} did not finish: ${c.error}`),
    '',
    `sustained: the highest step met; a step is met when each of the ${options.connections} connections got ` +
      `every message within ${options.graceSeconds} s of the last publish, with no gap or disconnect, the POSTs kept the rate, ` +
      `and latency p99 <= ${options.p99BoundMs} ms ('>=': the top step was met). ` +
      `CPU ratio < 1: pushbus spends less per delivery. client ELU '!': a receiving thread of the load client was over 90 % busy.`,
    ...(rust
      ? [
          `--client loadclient: the SSE contenders were driven by benches/peers' Rust loadclient (${options.publishers} publishers, ` +
            `a step met when its publishers stayed within 100 ms of schedule` +
            (options.pin ? `; servers on cpu ${options.pin.server}, loadclient on cpu ${options.pin.client}` : '') +
            `); its 'client ELU' is the loadclient thread's CPU share of one core, its deliveries/s the step's deliveries over its publishing time; @top: at the contender's sustained step.`,
        ]
      : []),
  ].join('\n');
}
