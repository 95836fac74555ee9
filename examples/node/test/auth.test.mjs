// Optional auth (JWT_SECRET): HS256 tokens minted here with node:crypto.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { startServer, post, getJson, openStream, mintToken, until, texts } from './helpers.mjs';

const SECRET = 'test-secret-not-for-production';
let srv;
before(async () => {
  srv = await startServer({ JWT_SECRET: SECRET });
});
after(async () => {
  await srv?.stop();
});

const now = () => Math.floor(Date.now() / 1000);
const bearer = (t) => ({ Authorization: `Bearer ${t}` });

test('auth: a valid token posts, its sub overrides the user', { timeout: 5000 }, async () => {
  const token = mintToken({ sub: 'alice', exp: now() + 600, rooms: ['auth-1', 'team-*'] }, SECRET);
  const r = await post(srv.base, 'auth-1', { user: 'mallory', text: 'hi' }, bearer(token));
  assert.equal(r.status, 201);
  const poll = await getJson(`${srv.base}/rooms/auth-1/poll`, bearer(token));
  assert.equal(poll.status, 200);
  assert.deepEqual(poll.json.messages.map((m) => m.data), [{ user: 'alice', text: 'hi' }]);
  const star = mintToken({ sub: 'root', exp: now() + 600, rooms: ['*'] }, SECRET);
  assert.equal((await post(srv.base, 'anything', { user: 'x', text: 'y' }, bearer(star))).status, 201);
});

test('auth: missing, malformed, badly signed, expired tokens are 401; forbidden rooms 403; nothing published', { timeout: 5000 }, async () => {
  const room = 'auth-2';
  const good = mintToken({ sub: 'bob', exp: now() + 600, rooms: [room] }, SECRET);
  const cases = [
    [{}, 401],
    [bearer('not.a.jwt'), 401],
    [bearer(mintToken({ sub: 'bob', exp: now() + 600, rooms: [room] }, 'wrong-secret')), 401],
    [bearer(mintToken({ sub: 'bob', exp: now() - 60, rooms: [room] }, SECRET)), 401],
    [bearer(mintToken({ sub: 'bob', exp: now() + 600, rooms: ['other'] }, SECRET)), 403],
  ];
  for (const [headers, status] of cases) {
    const r = await post(srv.base, room, { user: 'bob', text: 'should not appear' }, headers);
    assert.equal(r.status, status, JSON.stringify(headers));
    assert.equal(typeof r.json.error, 'string');
    const p = await getJson(`${srv.base}/rooms/${room}/poll`, headers);
    assert.equal(p.status, status);
  }
  const p = await getJson(`${srv.base}/rooms/${room}/poll`, bearer(good));
  assert.equal(p.status, 200);
  assert.deepEqual(p.json.messages, []);
});

test('auth: ?token= for EventSource, iframe and WebSocket; refused without', { timeout: 8000 }, async () => {
  const room = 'auth-3';
  const token = mintToken({ sub: 'carol', exp: now() + 600, rooms: [room] }, SECRET);
  const es = new EventSource(`${srv.base}/rooms/${room}/events?token=${token}`);
  const got = [];
  es.addEventListener('message', (e) => got.push(JSON.parse(e.data)));
  await new Promise((resolve) => (es.onopen = resolve));
  await post(srv.base, room, { user: 'x', text: 'via sse' }, bearer(token));
  await until(() => got.length === 1, 3000);
  es.close();
  assert.equal(got[0].data.user, 'carol');

  const refused = openStream(`${srv.base}/rooms/${room}/events`);
  assert.equal((await refused.response).statusCode, 401);
  refused.close();
  const ifr = openStream(`${srv.base}/rooms/${room}/iframe?cb=f&token=${token}`);
  assert.equal((await ifr.response).statusCode, 200);
  ifr.close();

  const wsStatus = (q) =>
    new Promise((resolve) => {
      const ws = new WebSocket(`${srv.base.replace('http:', 'ws:')}/rooms/${room}/ws${q}`);
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => {});
    });
  assert.equal(await wsStatus(''), 401);
  assert.equal(await wsStatus(`?token=${mintToken({ sub: 'c', exp: now() + 600, rooms: ['elsewhere'] }, SECRET)}`), 403);
  assert.equal(await wsStatus(`?token=${token}`), 101);

  // A WebSocket post is published under the token's sub.
  const ws = new WebSocket(`${srv.base.replace('http:', 'ws:')}/rooms/${room}/ws?token=${token}`);
  const envs = [];
  ws.on('message', (d) => envs.push(JSON.parse(d.toString())));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'message', user: 'impostor', text: 'via ws' }));
  await until(() => texts(envs).includes('via ws'), 3000);
  assert.equal(envs.find((e) => e.data.text === 'via ws').data.user, 'carol');
  ws.close();
});

test('auth: CORS preflight needs no token', { timeout: 5000 }, async () => {
  const r = await fetch(`${srv.base}/rooms/auth-4/messages`, {
    method: 'OPTIONS',
    headers: { Origin: srv.base, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), srv.base);
});
