// Per-call overhead, drain cost and cross-thread wake-up latency: `node bench/overhead.mjs`.
import pushbus from 'pushbus';
const { Bus, _internal } = pushbus;
import { Worker } from 'node:worker_threads';
const { c } = _internal.native;
function bench(name, n, f) { f(); const s = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(); const ns = Number(process.hrtime.bigint() - s) / n; console.log(`${name}: ${ns.toFixed(0)} ns`); }
bench('koffi call (pushbus_version)', 1e6, () => c.version());
const bus = new Bus({ ringMaxMessages: 65536 });
const sb = Buffer.alloc(56);
bench('pushbus_bus_stats (raw)', 1e6, () => c.bus_stats(bus._ptr(), sb));
const p = Buffer.from('{"a":1}');
bench('bus.publish (no subscriber)', 1e6, () => bus.publish('bench.none', p, { kind: 'json' }));
// drain+dispatch per event
const poller = bus.poller();
const sub = poller.subscribe('bench.sub');
let got = 0;
for (let i = 0; i < 50000; i++) bus.publish('bench.sub', p, { kind: 'json' });
let s = process.hrtime.bigint();
let n = 0; for (;;) { const evs = poller.drain(256); n += evs.length; if (evs.length < 256) break; }
console.log(`drain to Message objects: ${(Number(process.hrtime.bigint() - s) / n).toFixed(0)} ns/event (${n})`);
// wake latency cross-thread
const shared = new BigInt64Array(new SharedArrayBuffer(8));
const lat = [];
sub.on('message', () => { lat.push(Number(process.hrtime.bigint() - Atomics.load(shared, 0)) / 1000); });
const w = new Worker(`
const { workerData } = require('node:worker_threads');
const { _internal } = require(workerData.pkg); const { c } = _internal.native;
const key = Buffer.alloc(16); const p = Buffer.from('1');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (let i = 0; i < 500; i++) { sleep(2); Atomics.store(workerData.shared, 0, process.hrtime.bigint()); c.publish(workerData.bus, 'bench.sub', 9, null, 0, 2, p, 1, key); }
`, { eval: true, workerData: { pkg: process.cwd(), bus: bus._ptr(), shared } });
w.on('exit', () => { setTimeout(() => { lat.sort((a, b) => a - b); console.log(`cross-thread publish -> listener: n=${lat.length} p50 ${lat[lat.length >> 1].toFixed(1)} us, p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(1)} us`); bus.close(); }, 50); });
