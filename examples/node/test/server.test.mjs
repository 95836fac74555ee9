// What is specific to the Node server: its environment parsing, its own
// knob (WRITE_LIMIT) and metrics (chat_*). The chat contract itself is
// checked by the shared end-to-end suite: tests/e2e/run.sh node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverPath, startServer, post, metric, until, openStream } from './helpers.mjs';

test('a bad environment value stops the server with a message naming it', { timeout: 10000 }, () => {
  for (const [name, value] of [
    ['HEARTBEAT_SECONDS', '0'],
    ['STREAM_BUDGET_BYTES', '12.5'],
    ['REPLAY_MESSAGES', 'many'],
    ['WRITE_LIMIT', '-1'],
    ['PORT', '70000'],
  ]) {
    const run = spawnSync(process.execPath, [serverPath], { env: { ...process.env, [name]: value }, encoding: 'utf8' });
    assert.equal(run.status, 2, name);
    assert.match(run.stderr, new RegExp(`^server\\.js: ${name} must be`), name);
  }
});

test('WRITE_LIMIT cuts off a stream and a WebSocket that stop reading, and counts them', { timeout: 30000 }, async () => {
  const srv = await startServer({ WRITE_LIMIT: '65536' });
  const wsBase = srv.base.replace('http:', 'ws:');
  try {
    const room = 'slow';
    const sse = openStream(`${srv.base}/rooms/${room}/events`);
    await sse.response;
    sse.res.pause(); // stop reading: the kernel's buffers fill, then the server's
    const reader = await openWs(`${wsBase}/rooms/${room}/ws`);
    reader._socket.pause();
    const readerClosed = new Promise((resolve) => reader.once('close', resolve));
    const writer = await openWs(`${wsBase}/rooms/${room}/ws`); // reads all it gets
    writer.on('message', () => {});
    const message = JSON.stringify({ type: 'message', user: 'ann', text: 'x'.repeat(4000) });
    for (let round = 0; round < 100 && (await metric(srv.base, 'chat_slow_readers_closed_total')) < 2; round++) {
      for (let i = 0; i < 100; i++) writer.send(message);
      await sleep(20);
    }
    assert.equal(await metric(srv.base, 'chat_slow_readers_closed_total'), 2);
    await until(async () => (await metric(srv.base, 'pushbus_subscriptions')) === 1, 3000); // the writer's
    sse.res.resume();
    reader._socket.resume();
    await sse.ended;
    await readerClosed;
    writer.terminate();
  } finally {
    await srv.stop();
  }
});

async function openWs(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

test('chat_open_streams counts open streams by transport; budget closes are counted', { timeout: 10000 }, async () => {
  const srv = await startServer({ STREAM_BUDGET_BYTES: '4096' });
  try {
    const streams = ['events', 'xhr', 'iframe?cb=f'].map((p) => openStream(`${srv.base}/rooms/gauge/${p}`));
    await Promise.all(streams.map((s) => s.response));
    for (const transport of ['sse', 'xhr', 'iframe']) {
      assert.equal(await metric(srv.base, 'chat_open_streams', `{transport="${transport}"}`), 1, transport);
    }
    // The XHR and iframe preludes alone are under 4 KiB: one message more ends both.
    assert.equal(await post(srv.base, 'gauge', { user: 'ann', text: 'y'.repeat(3000) }), 201);
    await Promise.all([streams[1].ended, streams[2].ended]);
    assert.equal(await metric(srv.base, 'chat_stream_budget_closed_total'), 2);
    streams[0].close();
    await until(async () => (await metric(srv.base, 'chat_open_streams', '{transport="sse"}')) === 0);
  } finally {
    await srv.stop();
  }
});
