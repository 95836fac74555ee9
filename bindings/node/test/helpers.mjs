// Shared helpers of the node:test suites.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Resolves with the next `count` events of `emitter`'s `type`, or rejects after `ms`. */
export function collect(emitter, type, count, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      emitter.off(type, on);
      reject(new Error(`timed out after ${ms} ms with ${got.length}/${count} ${type} events`));
    }, ms);
    function on(event) {
      got.push(event);
      if (got.length === count) {
        clearTimeout(timer);
        emitter.off(type, on);
        resolve(got);
      }
    }
    emitter.on(type, on);
  });
}

/** Rejects if `promise` does not settle within `ms`. */
export async function within(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Open file descriptors of this process. */
export function fdCount() {
  return readdirSync('/proc/self/fd').length;
}

/** Forces full garbage collections and lets finalizers run. */
export async function collectGarbage() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  for (let i = 0; i < 6; i++) {
    gc();
    await sleep(10);
  }
}

/**
 * Runs `source` as an ES module in a new Node process (with this package
 * resolvable by name) and resolves with its exit code, signal and output.
 * The child is killed (by its pid) if it outlives `ms`.
 */
export async function runScript(source, { ms = 10000, env = {} } = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, ms);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  return { code, signal, stdout, stderr, timedOut };
}

export function hs256(payload, secret) {
  return import('node:crypto').then(({ createHmac }) => {
    const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
    const sig = createHmac('sha256', secret).update(body).digest('base64url');
    return `${body}.${sig}`;
  });
}
