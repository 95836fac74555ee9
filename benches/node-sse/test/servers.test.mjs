// The contenders put the same bytes on the wire: the plain server's SSE
// stream (headers, preamble, frames, envelope) has the shape of the pushbus
// chat server's, and socket.io delivers the same envelope. Also checks the
// runner's process handling: start by pid, the loop monitor's SIGUSR2
// report, stop by pid.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { ServerProcess } from '../lib/server.mjs';
import { SseParser } from '../lib/sse.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const ROOT = here('../../../');
const scratch = mkdtempSync(join(tmpdir(), 'node-sse-test-'));
const servers = [];
after(() => Promise.all(servers.map((s) => s.stop())));

async function start(name, command, args, preload = false) {
  const server = await ServerProcess.start({ command, args, preload, monitorFile: join(scratch, `${name}.jsonl`) });
  servers.push(server);
  return server;
}

function post(baseUrl, room, body) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(`${baseUrl}/rooms/${room}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (answer += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(answer) }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Opens an SSE stream, posts one message, returns the headers, the raw bytes before the event, and the event. */
function oneSseEvent(baseUrl, room, message, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}/rooms/${room}/events`, { headers }, (res) => {
      let raw = '';
      const parser = new SseParser((event) => {
        req.destroy();
        resolve({ headers: res.headers, raw, event });
      });
      res.setEncoding('utf8');
      res.once('data', () => post(baseUrl, room, message).catch(reject));
      res.on('data', (chunk) => {
        raw += chunk;
        parser.feed(chunk);
      });
    });
    req.on('error', (error) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
}

const envelopeShape = (envelope) => ({
  keys: Object.keys(envelope),
  topic: envelope.topic,
  event: envelope.event,
  data: envelope.data,
  idLooksLikeAKey: /^[0-9a-f]+-[0-9]+$/.test(envelope.id),
  seqMatchesId: envelope.id.endsWith(`-${envelope.seq}`),
});

const haveNodeServer =
  existsSync(join(ROOT, 'examples/node/node_modules/ws')) &&
  existsSync(join(ROOT, 'bindings/node/node_modules/koffi')) &&
  (process.env.PUSHBUS_LIB || existsSync(join(ROOT, 'target/release/libpushbus.so')));

test('the plain server speaks the pushbus chat server’s SSE', { skip: !haveNodeServer && 'the pushbus chat server is not built' }, async () => {
  const pushbus = await start('pushbus', 'bash', [join(ROOT, 'examples/serve.sh'), 'node', '--port', '0'], true);
  const plain = await start('plain', process.execPath, [here('../servers/plain-sse.mjs'), '--port', '0']);
  const message = { user: 'ann', text: 'hi\u00e9 "quoted"' };
  const [a, b] = await Promise.all([oneSseEvent(pushbus.baseUrl, 'lobby', message), oneSseEvent(plain.baseUrl, 'lobby', message)]);
  for (const name of ['content-type', 'cache-control', 'x-accel-buffering', 'transfer-encoding']) {
    assert.equal(b.headers[name], a.headers[name], name);
  }
  const preamble = (raw) => raw.slice(0, raw.indexOf('id: '));
  assert.equal(preamble(b.raw), preamble(a.raw));
  const frameLines = (raw) => raw.slice(raw.indexOf('id: ')).split('\n').map((line) => line.split(':', 1)[0]);
  assert.deepEqual(frameLines(b.raw), frameLines(a.raw));
  assert.equal(b.event.type, a.event.type);
  assert.deepEqual(envelopeShape(JSON.parse(b.event.data)), envelopeShape(JSON.parse(a.event.data)));
  assert.equal(JSON.parse(b.event.data).id, b.event.lastEventId);

  // the loop monitor answers SIGUSR2 in the pushbus server, preloaded, and in the plain one
  for (const server of [pushbus, plain]) {
    const report = await server.mark();
    assert.equal(report.pid, server.pid);
    assert.ok(report.delayMs.samples > 0 && report.cpuSeconds >= 0);
  }
});

// The tuned plain server (a frame once a message, a write a turn) and the
// issue's plain fan-out (--per-client: a JSON.stringify and a write per
// client) must behave alike.
const PLAIN_MODES = [
  { label: '', suffix: '', args: [] },
  { label: ' (--per-client)', suffix: '-per-client', args: ['--per-client'] },
];

for (const mode of PLAIN_MODES) {
test(`the plain server${mode.label} resumes after Last-Event-ID, and answers a key it does not hold with a gap`, async () => {
  const plain = await start(`plain-resume${mode.suffix}`, process.execPath, [here('../servers/plain-sse.mjs'), '--port', '0', ...mode.args]);
  const first = (await post(plain.baseUrl, 'resume', { user: 'ann', text: 'one' })).body.id;
  await post(plain.baseUrl, 'resume', { user: 'ann', text: 'two' });
  const resumed = await oneSseEvent(plain.baseUrl, 'resume', { user: 'ann', text: 'three' }, { 'Last-Event-ID': first });
  assert.equal(JSON.parse(resumed.event.data).data.text, 'two');
  const gap = await oneSseEvent(plain.baseUrl, 'resume', { user: 'ann', text: 'four' }, { 'Last-Event-ID': 'abc-1' });
  assert.equal(gap.event.type, 'gap');
  assert.deepEqual(JSON.parse(gap.event.data), { event: 'gap', topic: 'chat.resume', from: 'abc-1', to: first });
});

test(`the plain server${mode.label} delivers messages posted together once each, in publish order`, async () => {
  const plain = await start(`plain-burst${mode.suffix}`, process.execPath, [here('../servers/plain-sse.mjs'), '--port', '0', ...mode.args]);
  const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
  const received = await new Promise((resolve, reject) => {
    const got = [];
    const req = http.get(`${plain.baseUrl}/rooms/burst/events`, (res) => {
      const parser = new SseParser((event) => {
        got.push(JSON.parse(event.data));
        if (got.length === texts.length) {
          req.destroy();
          resolve(got);
        }
      });
      res.setEncoding('utf8');
      // all at once: several land in one turn of the server's loop and go out in one write
      res.once('data', () => Promise.all(texts.map((text) => post(plain.baseUrl, 'burst', { user: 'ann', text }))).catch(reject));
      res.on('data', (chunk) => parser.feed(chunk));
    });
    req.on('error', (error) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
  assert.deepEqual(
    received.map((envelope) => envelope.seq),
    texts.map((_, i) => i + 1)
  );
  assert.deepEqual(received.map((envelope) => envelope.data.text).sort(), [...texts].sort());
});
}

test('the servers validate POST bodies like the chat contract', async () => {
  const plain = await start('plain-post', process.execPath, [here('../servers/plain-sse.mjs'), '--port', '0']);
  assert.equal((await post(plain.baseUrl, 'lobby', { user: 'ann', text: 'ok' })).status, 201);
  assert.equal((await post(plain.baseUrl, 'lobby', { user: '', text: 'no user' })).status, 400);
  assert.equal((await post(plain.baseUrl, 'lobby', { user: 'ann', text: '' })).status, 400);
  assert.equal((await post(plain.baseUrl, 'bad room!', { user: 'ann', text: 'x' })).status, 400);
});

test('socket.io delivers the same envelope to a room member', async () => {
  const server = await start('socketio', process.execPath, [here('../servers/socketio.mjs'), '--port', '0']);
  const socket = io(server.baseUrl, { transports: ['websocket'], query: { room: 'lobby' }, reconnection: false, forceNew: true });
  try {
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const received = new Promise((resolve) => socket.once('message', resolve));
    const { status, body } = await post(server.baseUrl, 'lobby', { user: 'ann', text: 'hi' });
    assert.equal(status, 201);
    const envelope = await received;
    assert.equal(envelope.id, body.id);
    assert.deepEqual(envelopeShape(envelope), {
      keys: ['id', 'topic', 'seq', 'event', 'time', 'data'],
      topic: 'chat.lobby',
      event: 'message',
      data: { user: 'ann', text: 'hi' },
      idLooksLikeAKey: true,
      seqMatchesId: true,
    });
  } finally {
    socket.disconnect();
  }
});
