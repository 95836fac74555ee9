// Test helpers: start the chat server as a child process on a free port
// (port 0), stop it by its handle, and small clients (fetch, raw streams).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
export const serverPath = path.join(here, '..', 'server.js');

/** Starts server.js with `env` on 127.0.0.1, port 0; resolves { base, port, stop, child, stderr }. */
export async function startServer(env = {}) {
  const child = spawn(process.execPath, [serverPath, '--port', '0'], {
    env: { ...process.env, PING_MS: '15000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${stderr}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  return { base, port, child, stop, get stderr() { return stderr; } };
}

export async function post(base, room, body, headers = {}) {
  const r = await fetch(`${base}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

export async function getJson(url, headers = {}) {
  const r = await fetch(url, { headers });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

export async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/** Polls `fn` until it returns truthy or `ms` elapse. */
export async function until(fn, ms = 5000, step = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(step);
  }
}

/**
 * A raw streaming GET (node:http): collects the body as text; `text()` is
 * what arrived so far; `close()` ends it; `ended` resolves when the server
 * closes it.
 */
export function openStream(url, headers = {}) {
  let body = '';
  let res = null;
  let req = null;
  const listeners = new Set();
  const ended = new Promise((resolveEnd) => {
    req = http.get(url, { headers, agent: false }, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (d) => {
        body += d;
        for (const l of listeners) l();
      });
      r.on('end', resolveEnd);
      r.on('close', resolveEnd);
      r.on('error', resolveEnd);
    });
    req.on('error', resolveEnd);
  });
  const response = new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  return {
    response,
    ended,
    text: () => body,
    /** Resolves when `pred(body)` holds. */
    waitFor(pred, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(body)) {
            listeners.delete(check);
            clearTimeout(t);
            resolve(body);
          }
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting; got: ${body.slice(-500)}`));
        }, ms);
        listeners.add(check);
        check();
      });
    },
    close() {
      req.destroy();
    },
    get res() {
      return res;
    },
  };
}

/** SSE events of a text: [{ id, event, data }] (comments skipped). */
export function parseSse(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    const ev = {};
    let has = false;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id' || field === 'event' || field === 'data') {
        ev[field] = ev[field] === undefined || field !== 'data' ? value : ev[field] + '\n' + value;
        has = true;
      }
    }
    if (has && ev.data !== undefined) events.push(ev);
  }
  return events;
}

/** Envelopes of an NDJSON text (blank lines and padding skipped; the last, partial line too). */
export function parseNdjson(text) {
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

function b64url(x) {
  return Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
}

/** An HS256 JWT. */
export function mintToken(claims, secret) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url(claims);
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export const texts = (envelopes) => envelopes.filter((e) => e.event === 'message').map((e) => e.data.text);
