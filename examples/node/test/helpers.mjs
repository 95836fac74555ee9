// Test helpers: start the chat server as a child process on a free port
// (port 0), stop it by its handle, and small clients (fetch, raw streams).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
export const serverPath = path.join(here, '..', 'server.js');

/** Starts server.js with `env` on 127.0.0.1, port 0; resolves { base, port, stop, child, stderr }. */
export async function startServer(env = {}) {
  const child = spawn(process.execPath, [serverPath, '--port', '0'], {
    env: { ...process.env, ...env },
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

export async function post(base, room, body) {
  const r = await fetch(`${base}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await r.arrayBuffer();
  return r.status;
}

/** A metric of /metrics; `labels` picks one label set (`{transport="sse"}`). */
export async function metric(base, name, labels = '') {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
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
 * A raw streaming GET (node:http): `text()` is what arrived so far;
 * `close()` ends it; `ended` resolves when the server closes it.
 */
export function openStream(url) {
  let body = '';
  let res = null;
  let req = null;
  const ended = new Promise((resolveEnd) => {
    req = http.get(url, { agent: false }, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (d) => {
        body += d;
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
    close() {
      req.destroy();
    },
    get res() {
      return res;
    },
  };
}
