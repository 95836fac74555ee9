import pushbus from 'pushbus';
const { Bus } = pushbus;
const bus = new Bus({ ringMaxMessages: 65536 });
const poller = bus.poller();
poller.subscribe('bench.sub');
const p = Buffer.from('{"a":1}');
let total = 0, ns = 0;
for (let r = 0; r < 20; r++) {
  for (let i = 0; i < 50000; i++) bus.publish('bench.sub', p, { kind: 'json' });
  const s = process.hrtime.bigint();
  let n = 0; for (;;) { const evs = poller.drain(256); n += evs.length; if (evs.length < 256) break; }
  ns += Number(process.hrtime.bigint() - s); total += n;
}
console.log(`drain: ${(ns / total).toFixed(0)} ns/event`);
bus.close();
