// Drain-and-dispatch CPU per delivery for a fan-out: 1,000 subscriptions of
// one poller (frames on, a 'message' listener each), K messages published
// per round. `node bench/fanout.mjs [K] [rounds]`; prints the best of 5.
import pushbus from 'pushbus';
const { Bus } = pushbus;
const SUBS = 1000;
const K = Number(process.argv[2] || 1);
const ROUNDS = Number(process.argv[3] || 300);
const bus = new Bus();
const poller = bus.poller({ frames: true });
let got = 0;
let want = 0;
let done = () => {};
const sink = [];
for (let i = 0; i < SUBS; i++) {
  poller.subscribe('bench.fanout').on('message', (m) => {
    sink.push(m.frames.sse);
    if (++got === want) done();
  });
}
const body = { user: 'u', text: 'x'.repeat(64) };
async function round() {
  want += SUBS * K;
  const delivered = new Promise((resolve) => (done = resolve));
  for (let k = 0; k < K; k++) bus.publish('bench.fanout', body, { event: 'message' });
  await delivered;
  sink.length = 0;
}
for (let i = 0; i < 50; i++) await round();
const runs = [];
for (let rep = 0; rep < 5; rep++) {
  const start = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) await round();
  const used = process.cpuUsage(start);
  runs.push((used.user + used.system) / (ROUNDS * K * SUBS));
}
console.log(`fan-out to ${SUBS}, ${K} message(s) a round: ${Math.min(...runs).toFixed(3)} us CPU per delivery (best of ${runs.map((r) => r.toFixed(3)).join(' ')})`);
bus.close();
