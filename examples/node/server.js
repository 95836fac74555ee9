#!/usr/bin/env node
// The pushbus chat server for Node: node:http and ws, every transport of
// ../../../shared/CHAT_API.md (SSE, XHR and iframe streaming, WebSocket,
// long and short polling), on the `pushbus` package of bindings/node.
//
//   node server.js [--port N]        (or PORT; default 8080, 127.0.0.1)
//
// Environment, the shared knobs of ../README.md: PORT, ALLOWED_ORIGINS
// (comma-separated; default same origin only), JWT_SECRET (turns auth on),
// HEARTBEAT_SECONDS (SSE, XHR and iframe heartbeat and WebSocket ping,
// default 15), STREAM_BUDGET_BYTES (bytes an XHR or iframe stream sends
// before it closes, default 131072), REPLAY_MESSAGES (messages kept per
// room, default: pushbus's), WEB_ROOT (the page, default ../web). Its own:
// WRITE_LIMIT (bytes buffered for one slow reader before it is cut off,
// default 1048576).
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const pushbus = require('../../bindings/node');

const { Bus, framing, parseKey, formatKey, verifyToken } = pushbus;

const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BODY = 64 * 1024;
const MAX_TEXT_BYTES = 4096;
const MAX_USER_CHARS = 32;
const POLL_LAST = 50;
const POLL_MAX = 1000;
const LEASE_MS = 30000;
const MAX_KEY_CHARS = 256;
// Invalid UTF-8 is invalid JSON (RFC 8259 8.1): a 400, never U+FFFD published.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** A number option (from the environment: text), or `fallback` when unset; throws on anything else. */
function numberOption(name, value, fallback, { integer = true, min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

// Presence ids cannot hold control characters (pushbus refuses them).
const CONTROL_RE = /\p{Cc}/u;

function validUser(user) {
  if (typeof user !== 'string') return false;
  const chars = [...user].length;
  return chars >= 1 && chars <= MAX_USER_CHARS;
}

function originList(text) {
  if (!text) return null;
  return new Set(
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  );
}

/**
 * Makes the chat server (not yet listening). Options, numbers or their
 * text: webRoot, heartbeatSeconds, streamBudgetBytes, writeLimit,
 * replayMessages; allowedOrigins (comma-separated text or null), jwtSecret, log.
 */
function createChatServer(options = {}) {
  const webRoot = path.resolve(options.webRoot || path.join(__dirname, '..', 'web'));
  const pingMs = 1000 * numberOption('HEARTBEAT_SECONDS', options.heartbeatSeconds, 15, { integer: false, min: 0.01 });
  const streamBudget = numberOption('STREAM_BUDGET_BYTES', options.streamBudgetBytes, 128 * 1024, { min: 1 });
  const writeLimit = numberOption('WRITE_LIMIT', options.writeLimit, 1024 * 1024, { min: 1 });
  const replayMessages = numberOption('REPLAY_MESSAGES', options.replayMessages, null, { min: 1 });
  const allowed = originList(options.allowedOrigins);
  const jwtSecret = options.jwtSecret || null;
  const log = options.log || (() => {});

  const busOptions = { presenceEvents: true };
  if (replayMessages !== null) busOptions.ringMaxMessages = replayMessages;
  const bus = new Bus(busOptions);
  // One poller for every connection: each message is framed once (SSE,
  // envelope, NDJSON) and its Buffers shared by all subscribers of a drain.
  const poller = bus.poller({ frames: true });

  const counters = { slowClosed: 0, budgetClosed: 0, requests: 0 };

  // Streams with frames queued since the last flush. The poller hands out a
  // drain's events synchronously; the flush runs on the next tick, after
  // the drain, so each stream gets one write per drain (not one per
  // message) and streams that got the same frames share one Buffer.
  let outbox = [];
  function queue(stream) {
    if (outbox.length === 0) process.nextTick(flushOutbox);
    outbox.push(stream);
  }
  function flushOutbox() {
    const list = outbox;
    outbox = [];
    const shared = new Map();
    for (const stream of list) stream.flush(shared);
  }

  const open = { sse: 0, xhr: 0, iframe: 0, ws: 0, longpoll: 0 };
  const streams = new Set(); // closers of every open stream

  // ---------------------------------------------------------------- helpers

  function originAllowed(req) {
    const origin = req.headers.origin;
    if (origin === undefined) return { present: false, ok: true };
    if (origin === 'null') return { present: true, ok: false };
    // The server's own origin is always allowed (its page must work);
    // ALLOWED_ORIGINS adds others.
    const host = req.headers.host;
    const sameOrigin = host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
    return { present: true, ok: sameOrigin || (allowed !== null && allowed.has(origin)) };
  }

  function corsHeaders(req) {
    const o = originAllowed(req);
    const h = { Vary: 'Origin' };
    if (o.present && o.ok) {
      h['Access-Control-Allow-Origin'] = req.headers.origin;
      h['Access-Control-Allow-Credentials'] = 'true';
      h['Access-Control-Expose-Headers'] = 'ETag';
    }
    return h;
  }

  function send(req, res, status, body, headers = {}) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let payload = body;
    const h = { 'Cache-Control': 'no-store', ...corsHeaders(req), ...headers };
    if (payload === undefined || payload === null) payload = '';
    else if (!Buffer.isBuffer(payload) && typeof payload !== 'string') {
      payload = JSON.stringify(payload);
      h['Content-Type'] = h['Content-Type'] || 'application/json; charset=utf-8';
    }
    if (status !== 204 && status !== 304) h['Content-Length'] = Buffer.byteLength(payload);
    res.writeHead(status, h);
    res.end(status === 204 || status === 304 ? undefined : payload);
  }

  function error(req, res, status, message, headers) {
    send(req, res, status, { error: message }, headers);
  }

  /**
   * Auth: null when allowed (with `user` overridden by the token's sub),
   * else [status, message].
   */
  function authorize(req, url, room) {
    if (jwtSecret === null) return { user: null };
    let token = null;
    const header = req.headers.authorization;
    if (typeof header === 'string' && /^Bearer\s+/i.test(header)) token = header.replace(/^Bearer\s+/i, '').trim();
    else if (url.searchParams.has('token')) token = url.searchParams.get('token');
    if (!token) return { fail: [401, 'missing token'] };
    let claims;
    try {
      claims = verifyToken(token, jwtSecret, Math.floor(Date.now() / 1000));
    } catch (e) {
      return { fail: [401, e.code === 'PUSHBUS_EXPIRED_JWT' ? 'expired token' : 'invalid token'] };
    }
    try {
      if (!claims.allows(room)) return { fail: [403, 'this token does not allow this room'] };
      return { user: claims.sub };
    } finally {
      claims.free();
    }
  }

  /** The presence user of a request: the token's sub, else `user=` (null when none); a bad one fails with 400. */
  function requestUser(url, auth) {
    const user = auth.user || url.searchParams.get('user') || null;
    if (user !== null && (!validUser(user) || CONTROL_RE.test(user))) {
      return { fail: [400, `user must be 1-${MAX_USER_CHARS} characters without control characters`] };
    }
    return { user };
  }

  function parseKeyOrNull(text) {
    if (typeof text !== 'string' || text.length === 0 || text.length > MAX_KEY_CHARS) return null;
    try {
      parseKey(text);
      return text;
    } catch {
      return null;
    }
  }

  /** A key of the topic that is surely not held (another epoch): subscribing from it yields a gap from the oldest held. */
  function staleKey(topic) {
    const head = parseKey(bus.head(topic));
    return formatKey({ epoch: head.epoch === 1n ? 2n : 1n, seq: 1n });
  }

  function lease(topic, user) {
    if (user !== null) {
      try {
        bus.lease(topic, user, LEASE_MS);
      } catch (e) {
        log(`lease failed: ${e.message}`);
      }
    }
  }

  // ---------------------------------------------------------------- static

  function serveStatic(req, res, name) {
    const file = path.resolve(webRoot, name);
    if (!file.startsWith(webRoot + path.sep)) return error(req, res, 404, 'not found');
    fs.readFile(file, (err, data) => {
      if (err) {
        if (name === 'index.html') {
          return send(req, res, 200, '<!doctype html><title>pushbus chat</title><p>examples/web/ is missing.</p>', {
            'Content-Type': 'text/html; charset=utf-8',
          });
        }
        return error(req, res, 404, 'not found');
      }
      const type = CONTENT_TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
      send(req, res, 200, data, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff' });
    });
  }

  // ---------------------------------------------------------------- post

  function publishMessage(topic, user, text) {
    return bus.publish(topic, { user, text }, { event: 'message' });
  }

  /** Validates a parsed body; returns an error text or null. */
  function checkMessage(body) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
    if (!validUser(body.user)) return `user must be a string of 1-${MAX_USER_CHARS} characters`;
    if (typeof body.text !== 'string') return 'text must be a string';
    const bytes = Buffer.byteLength(body.text);
    if (bytes < 1 || bytes > MAX_TEXT_BYTES) return `text must be 1-${MAX_TEXT_BYTES} bytes`;
    // JSON can carry lone surrogates; UTF-8 cannot.
    if (!body.user.isWellFormed() || !body.text.isWellFormed()) return 'user and text must be valid Unicode';
    return null;
  }

  function postMessage(req, res, topic, auth) {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY) {
      error(req, res, 413, 'body too large', { Connection: 'close' });
      req.resume();
      return;
    }
    const chunks = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY) {
        done = true;
        error(req, res, 413, 'body too large', { Connection: 'close' });
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      let body;
      try {
        body = JSON.parse(STRICT_UTF8.decode(Buffer.concat(chunks)));
      } catch {
        return error(req, res, 400, 'invalid JSON');
      }
      if (body !== null && typeof body === 'object' && auth.user) body.user = auth.user;
      const problem = checkMessage(body);
      if (problem) return error(req, res, 400, problem);
      let key;
      try {
        key = publishMessage(topic, body.user, body.text);
      } catch (e) {
        if (e.code === 'PUSHBUS_MESSAGE_TOO_LARGE') return error(req, res, 413, 'message too large');
        return error(req, res, 503, 'cannot publish');
      }
      send(req, res, 201, { id: key });
    });
    req.on('error', () => {});
  }

  // ---------------------------------------------------------------- polls

  function connectors(req, res, topic) {
    let list = [];
    try {
      list = bus.presence(topic).map((p) => ({ user: p.client, since: p.since }));
    } catch {
      list = [];
    }
    send(req, res, 200, { key: bus.head(topic), connectors: list });
  }

  function unquoteEtag(text) {
    if (typeof text !== 'string') return null;
    let t = text.trim();
    if (t.startsWith('W/')) t = t.slice(2);
    if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
    return t;
  }

  function shortPoll(req, res, url, topic, user) {
    const keyParam = url.searchParams.get('key');
    let start = { last: POLL_LAST };
    if (keyParam !== null && keyParam !== '') {
      const key = parseKeyOrNull(keyParam);
      if (key === null) return error(req, res, 400, 'bad key');
      start = { after: key };
    }
    const inm = parseKeyOrNull(unquoteEtag(req.headers['if-none-match']));
    if (start.last !== undefined && inm !== null) start = { after: inm };
    const answer = bus.poll(topic, { start, max: start.last !== undefined ? POLL_LAST : POLL_MAX });
    lease(topic, user);
    if (inm !== null && answer.count === 0 && !answer.gap && answer.key === inm) {
      return send(req, res, 304, null, { ETag: answer.key });
    }
    send(req, res, 200, answer.json, { 'Content-Type': 'application/json; charset=utf-8', ETag: answer.key });
  }

  function longPoll(req, res, url, topic, user) {
    const keyParam = url.searchParams.get('key');
    let key = null;
    if (keyParam !== null && keyParam !== '') {
      key = parseKeyOrNull(keyParam);
      if (key === null) return error(req, res, 400, 'bad key');
    }
    let timeout = 25;
    const t = url.searchParams.get('timeout');
    if (t !== null && t !== '') {
      timeout = Number(t);
      if (!Number.isFinite(timeout) || timeout < 0) return error(req, res, 400, 'bad timeout');
      timeout = Math.min(timeout, 60);
    }
    lease(topic, user);
    const start = key === null ? { after: bus.head(topic) } : { after: key };
    const first = bus.poll(topic, { start, max: POLL_MAX });
    if (first.count > 0 || first.gap) {
      return send(req, res, 200, first.json, { 'Content-Type': 'application/json; charset=utf-8', ETag: first.key });
    }
    // Nothing newer: wait on a subscription from the answer's key (no race:
    // anything published since the poll is replayed to it).
    const sub = poller.subscribe(topic, { start: { after: first.key } });
    open.longpoll++;
    let finished = false;
    const finish = () => {
      if (finished) return false;
      finished = true;
      open.longpoll--;
      clearTimeout(timer);
      sub.close();
      streams.delete(closer);
      return true;
    };
    const answerNow = () => {
      if (!finish()) return;
      const a = bus.poll(topic, { start: { after: first.key }, max: POLL_MAX });
      send(req, res, 200, a.json, { 'Content-Type': 'application/json; charset=utf-8', ETag: a.key });
    };
    const timer = setTimeout(answerNow, timeout * 1000);
    const closer = () => {
      if (finish()) res.destroy();
    };
    streams.add(closer);
    sub.on('message', answerNow);
    sub.on('gap', answerNow);
    sub.on('closed', answerNow);
    // A client that goes away releases its subscription at once.
    res.on('close', finish);
  }

  // ---------------------------------------------------------------- streams

  /**
   * Where a stream starts: { start, badFrom } (badFrom: the client's key
   * that did not parse, answered with a gap from the oldest held).
   */
  function streamStart(topic, keyText) {
    if (keyText === null || keyText === undefined || keyText === '') return { start: 'now', badFrom: null };
    const key = parseKeyOrNull(keyText);
    if (key !== null) return { start: { after: key }, badFrom: null };
    return { start: { after: staleKey(topic) }, badFrom: String(keyText).slice(0, MAX_KEY_CHARS) };
  }

  /**
   * Runs one HTTP stream: subscribes, joins presence, writes each event
   * with `frame(event)`, a heartbeat every pingMs, closes a slow reader
   * (over writeLimit buffered) and, when `budget`, after that many bytes.
   */
  function runStream(req, res, kind, topic, user, where, { head, preamble, frame, gapFrame, heartbeat, budget }) {
    let sub;
    try {
      sub = poller.subscribe(topic, { start: where.start });
    } catch (e) {
      log(`${kind}: cannot subscribe: ${e.code || e.message}`);
      if (kind !== 'sse') return error(req, res, 503, 'cannot subscribe');
      // An error status would end an EventSource for good: ask it to come
      // back later instead.
      res.writeHead(200, { ...head, 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', ...corsHeaders(req) });
      res.end(framing.ssePreamble(10000));
      return;
    }
    open[kind]++;
    res.writeHead(200, { ...head, 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', ...corsHeaders(req) });
    res.socket?.setNoDelay(true);
    let sent = 0;
    let closed = false;
    let badFrom = where.badFrom;
    let pending = []; // frames queued for the next flush
    let started = false; // the head and the first frames went through res.write
    const stream = {
      /** Writes the queued frames; cuts a slow reader off. */
      flush(shared) {
        if (closed || pending.length === 0) return;
        const frames = pending;
        pending = [];
        // Once the head is out on the response's own socket, each flush is
        // one HTTP chunk, framed once for every stream that shares it, in
        // one socket write (res.write would add three more: size, CRLF,
        // CRLF). res.end() still ends the body.
        if (started && res.socket !== null && res.chunkedEncoding) res.socket.write(payload(frames, true, shared));
        else res.write(payload(frames, false, shared));
        started = true;
        if (res.writableLength > writeLimit || (res.socket && res.socket.writableLength > writeLimit)) {
          counters.slowClosed++;
          log(`${kind}: slow reader cut off (${res.writableLength} bytes buffered)`);
          close(true);
        }
      },
    };
    const close = (destroy) => {
      if (!destroy && !res.destroyed) stream.flush(new Map());
      if (closed) return;
      closed = true;
      open[kind]--;
      clearInterval(timer);
      sub.close();
      streams.delete(closer);
      if (destroy) res.destroy();
      else res.end();
    };
    const closer = () => close(false);
    streams.add(closer);
    const write = (buf) => {
      if (closed) return;
      if (pending.length === 0) queue(stream);
      pending.push(buf);
      sent += buf.length;
      // The frame that reaches the budget is the last one sent.
      if (budget && sent >= budget) {
        stream.flush(new Map());
        if (closed) return;
        counters.budgetClosed++;
        close(false);
      }
    };
    write(preamble);
    if (user !== null) {
      try {
        sub.join(topic, user);
      } catch (e) {
        log(`join failed: ${e.message}`);
      }
    }
    sub.on('message', (m) => write(frame(m.frames, m)));
    sub.on('gap', (g) => {
      if (badFrom !== null) {
        const envelope = framing.gapEnvelope(topic, badFrom, g.key);
        badFrom = null;
        write(gapFrame(envelope, g.key));
      } else {
        write(frame(g.frames, g));
      }
    });
    sub.on('closed', () => close(false));
    const timer = setInterval(() => write(heartbeat), pingMs);
    res.on('close', () => close(false));
  }

  function sse(req, res, url, topic, user) {
    // Resume point: the Last-Event-ID header (sent by EventSource on
    // reconnection) wins over the lastEventId query parameter (polyfills and
    // the page's first connection). A key that does not parse (too long, CR,
    // LF, NUL, garbage) is answered with a gap from the oldest held.
    const header = req.headers['last-event-id'];
    const chosen = header ? header : url.searchParams.get('lastEventId') || '';
    const where = streamStart(topic, chosen);
    runStream(req, res, 'sse', topic, user, where, {
      head: { 'Content-Type': 'text/event-stream; charset=utf-8' },
      preamble: framing.ssePreamble(3000),
      frame: (f) => f.sse,
      gapFrame: (envelope, key) => framing.sseEvent(key, 'gap', envelope.toString('utf8')),
      heartbeat: framing.sseHeartbeat,
      budget: 0,
    });
  }

  function xhr(req, res, url, topic, user) {
    const where = streamStart(topic, url.searchParams.get('key'));
    runStream(req, res, 'xhr', topic, user, where, {
      head: { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
      preamble: framing.xhrPreamble(),
      frame: (f) => f.ndjson,
      gapFrame: (envelope) => Buffer.concat([envelope, NEWLINE]),
      heartbeat: NEWLINE,
      budget: streamBudget,
    });
  }

  function iframe(req, res, url, topic, user) {
    const cb = url.searchParams.get('cb');
    if (!framing.isIframeCallback(cb)) return error(req, res, 400, 'cb must match [A-Za-z_$][A-Za-z0-9_$.]{0,63}');
    const open_ = framing.iframeScriptOpen(cb);
    const close_ = framing.iframeScriptClose;
    const script = (envelope) => Buffer.concat([open_, envelope, close_]);
    const where = streamStart(topic, url.searchParams.get('key'));
    runStream(req, res, 'iframe', topic, user, where, {
      head: { 'Content-Type': 'text/html; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
      preamble: framing.iframePreamble(),
      frame: (f) => script(f.envelope),
      gapFrame: (envelope) => script(envelope),
      heartbeat: script(Buffer.from('null')),
      budget: streamBudget,
    });
  }

  // ---------------------------------------------------------------- http

  function route(req, res) {
    counters.requests++;
    let url;
    try {
      url = new URL(req.url, 'http://localhost');
    } catch {
      return error(req, res, 400, 'bad url');
    }
    const p = url.pathname;
    if (req.method === 'OPTIONS') {
      const h = corsHeaders(req);
      if (h['Access-Control-Allow-Origin']) {
        h['Access-Control-Allow-Methods'] = 'GET, POST, OPTIONS';
        h['Access-Control-Allow-Headers'] = 'Authorization, Content-Type, Last-Event-ID, If-None-Match';
        h['Access-Control-Max-Age'] = '600';
      }
      res.writeHead(204, h);
      return res.end();
    }
    if (p === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      return send(req, res, 200, 'ok', { 'Content-Type': 'text/plain; charset=utf-8' });
    }
    if (p === '/metrics' && req.method === 'GET') {
      return send(req, res, 200, metrics(), { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    }
    if (p === '/' && req.method === 'GET') return serveStatic(req, res, 'index.html');
    if (p.startsWith('/static/') && req.method === 'GET') return serveStatic(req, res, p.slice('/static/'.length));
    const m = /^\/rooms\/([^/]*)\/([a-z]+)$/.exec(p);
    if (m === null) return error(req, res, 404, 'not found');
    const [, room, action] = m;
    const handlers = {
      messages: 'POST',
      connectors: 'GET',
      poll: 'GET',
      longpoll: 'GET',
      events: 'GET',
      xhr: 'GET',
      iframe: 'GET',
    };
    if (!(action in handlers)) return error(req, res, 404, 'not found');
    if (!ROOM_RE.test(room)) return error(req, res, 400, 'room must be 1-64 of [A-Za-z0-9_-]');
    if (req.method !== handlers[action]) return error(req, res, 405, 'method not allowed', { Allow: handlers[action] });
    const auth = authorize(req, url, room);
    if (auth.fail) return error(req, res, auth.fail[0], auth.fail[1]);
    const topic = `chat.${room}`;
    const who = requestUser(url, auth);
    if (who.fail) return error(req, res, who.fail[0], who.fail[1]);
    const user = who.user;
    try {
      switch (action) {
        case 'messages':
          return postMessage(req, res, topic, auth);
        case 'connectors':
          return connectors(req, res, topic);
        case 'poll':
          return shortPoll(req, res, url, topic, user);
        case 'longpoll':
          return longPoll(req, res, url, topic, user);
        case 'events':
          return sse(req, res, url, topic, user);
        case 'xhr':
          return xhr(req, res, url, topic, user);
        case 'iframe':
          return iframe(req, res, url, topic, user);
      }
    } catch (e) {
      log(`${action}: ${e.message}`);
      return error(req, res, 500, 'internal error');
    }
  }

  function metrics() {
    const s = bus.stats();
    const lines = [];
    const metric = (name, type, help, value, labels = '') => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
    };
    metric('pushbus_published_total', 'counter', 'Messages published.', s.published);
    metric('pushbus_delivered_total', 'counter', 'Messages delivered to subscriptions.', s.delivered);
    metric('pushbus_gaps_total', 'counter', 'Gaps reported to readers.', s.gaps);
    metric('pushbus_dropped_total', 'counter', 'Subscriptions closed because they lagged.', s.lagCloses);
    metric('pushbus_subscriptions', 'gauge', 'Open subscriptions.', s.subscriptions);
    metric('pushbus_topics', 'gauge', 'Topics.', s.topics);
    metric('pushbus_replay_bytes', 'gauge', 'Bytes held in replay rings.', s.replayBytes);
    metric('chat_slow_readers_closed_total', 'counter', 'Streams closed because their reader was too slow.', counters.slowClosed);
    metric('chat_stream_budget_closed_total', 'counter', 'XHR and iframe streams closed after their byte budget.', counters.budgetClosed);
    lines.push('# HELP chat_open_streams Open streams by transport.', '# TYPE chat_open_streams gauge');
    for (const [k, v] of Object.entries(open)) lines.push(`chat_open_streams{transport="${k}"} ${v}`);
    return lines.join('\n') + '\n';
  }

  const server = http.createServer(route);
  server.keepAliveTimeout = 5000;

  // ---------------------------------------------------------------- websocket

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY, clientTracking: true });
  const wsPingMs = Math.min(30000, Math.max(pingMs, 1000));

  function refuseUpgrade(socket, status, message) {
    const body = JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    );
  }

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    let url;
    try {
      url = new URL(req.url, 'http://localhost');
    } catch {
      return refuseUpgrade(socket, 400, 'bad url');
    }
    const m = /^\/rooms\/([^/]*)\/ws$/.exec(url.pathname);
    if (m === null) return refuseUpgrade(socket, 404, 'not found');
    if (req.headers['sec-websocket-version'] !== '13') {
      const body = JSON.stringify({ error: 'WebSocket version 13 only' });
      socket.end(
        `HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
      );
      return;
    }
    if (!ROOM_RE.test(m[1])) return refuseUpgrade(socket, 400, 'room must be 1-64 of [A-Za-z0-9_-]');
    if (!originAllowed(req).ok) return refuseUpgrade(socket, 403, 'origin not allowed');
    const auth = authorize(req, url, m[1]);
    if (auth.fail) return refuseUpgrade(socket, auth.fail[0], auth.fail[1]);
    const topic = `chat.${m[1]}`;
    const who = requestUser(url, auth);
    if (who.fail) return refuseUpgrade(socket, who.fail[0], who.fail[1]);
    wss.handleUpgrade(req, socket, head, (ws) => websocket(ws, socket, topic, who.user, url, auth));
  });

  /** Serves one WebSocket; `socket` is its connection (ws writes each frame to it). */
  function websocket(ws, socket, topic, user, url, auth) {
    const where = streamStart(topic, url.searchParams.get('key'));
    let sub;
    try {
      sub = poller.subscribe(topic, { start: where.start });
    } catch {
      ws.close(1011, 'cannot subscribe');
      return;
    }
    open.ws++;
    let badFrom = where.badFrom;
    let closed = false;
    const close = (code, reason) => {
      if (closed) return;
      closed = true;
      open.ws--;
      clearInterval(timer);
      sub.close();
      streams.delete(closer);
      if (code === 'terminate') ws.terminate();
      else if (ws.readyState === ws.OPEN) ws.close(code, reason);
    };
    const closer = () => close(1001, 'server shutting down');
    streams.add(closer);
    // The socket is corked from the first frame of a drain to the flush
    // after it: the drain's frames leave in one write. Only then does what
    // stays buffered tell a slow reader.
    let corked = false;
    const stream = {
      flush() {
        corked = false;
        socket.uncork();
        if (!closed && ws.bufferedAmount > writeLimit) {
          counters.slowClosed++;
          log('ws: slow reader cut off');
          close('terminate');
        }
      },
    };
    const send_ = (buf) => {
      if (closed) return;
      if (!corked) {
        corked = true;
        socket.cork();
        queue(stream);
      }
      ws.send(buf, { binary: false });
    };
    if (user !== null) {
      try {
        sub.join(topic, user);
      } catch {}
    }
    sub.on('message', (m) => send_(m.frames.envelope));
    sub.on('gap', (g) => {
      if (badFrom !== null) {
        send_(framing.gapEnvelope(topic, badFrom, g.key));
        badFrom = null;
      } else send_(g.frames.envelope);
    });
    sub.on('closed', () => close(1011, 'lagged'));
    let alive = true;
    ws.on('pong', () => {
      alive = true;
    });
    const timer = setInterval(() => {
      if (!alive) return close('terminate');
      alive = false;
      ws.ping();
    }, wsPingMs);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let body;
      try {
        body = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      if (body === null || typeof body !== 'object' || body.type !== 'message') return;
      if (auth.user) body.user = auth.user;
      if (checkMessage(body) !== null) return;
      try {
        publishMessage(topic, body.user, body.text);
      } catch (e) {
        log(`ws publish: ${e.message}`);
      }
    });
    ws.on('close', () => close());
    ws.on('error', () => close('terminate'));
  }

  // ---------------------------------------------------------------- lifecycle

  function listen(port = 8080, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address());
      });
    });
  }

  function close() {
    return new Promise((resolve) => {
      for (const c of [...streams]) c();
      for (const ws of wss.clients) ws.terminate();
      server.close(() => {
        bus.close();
        resolve();
      });
      server.closeAllConnections?.();
    });
  }

  return { server, bus, listen, close, metrics };
}

const NEWLINE = Buffer.from('\n');
const CRLF = Buffer.from('\r\n');

/**
 * The frames as one Buffer, or as one HTTP/1.1 chunk when `chunked`;
 * streams that got the same frames in one flush share it through `shared`
 * (keyed by the first frame).
 */
function payload(frames, chunked, shared) {
  let entry = shared.get(frames[0]);
  if (entry === undefined || !sameFrames(entry.frames, frames)) {
    const fresh = { frames, data: frames.length === 1 ? frames[0] : Buffer.concat(frames), chunk: null };
    if (entry === undefined) shared.set(frames[0], fresh);
    entry = fresh;
  }
  if (!chunked) return entry.data;
  if (entry.chunk === null) entry.chunk = Buffer.concat([Buffer.from(`${entry.data.length.toString(16)}\r\n`), entry.data, CRLF]);
  return entry.chunk;
}

function sameFrames(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = argv[++i];
    else if (a.startsWith('--port=')) out.port = a.slice('--port='.length);
    else if (a === '--help' || a === '-h') out.help = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return out;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  if (args.help) {
    console.log(
      'usage: node server.js [--port N]   (env: PORT, ALLOWED_ORIGINS, JWT_SECRET, HEARTBEAT_SECONDS, ' +
        'STREAM_BUDGET_BYTES, REPLAY_MESSAGES, WEB_ROOT, WRITE_LIMIT)'
    );
    return;
  }
  const env = process.env;
  let port;
  let chat;
  try {
    port = numberOption('PORT', args.port ?? env.PORT, 8080, { max: 65535 });
    chat = createChatServer({
      heartbeatSeconds: env.HEARTBEAT_SECONDS,
      streamBudgetBytes: env.STREAM_BUDGET_BYTES,
      replayMessages: env.REPLAY_MESSAGES,
      webRoot: env.WEB_ROOT,
      writeLimit: env.WRITE_LIMIT,
      allowedOrigins: env.ALLOWED_ORIGINS,
      jwtSecret: env.JWT_SECRET,
      log: (line) => console.error(line),
    });
  } catch (e) {
    console.error(`server.js: ${e.message}`);
    process.exit(2);
  }
  const address = await chat.listen(port, '127.0.0.1');
  console.log(`listening on http://${address.address}:${address.port}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    chat.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();

module.exports = { createChatServer };
