// One example chat server, started the way every caller starts it:
// `examples/serve.sh NAME --port P`, with the shared environment of
// examples/README.md. A server that is not built fails here, clearly.
import path from 'node:path';
import { ARTIFACTS, ROOT } from './paths.mjs';
import { freePort, startProcess, waitUntilServing } from './processes.mjs';

// The names every server reads; none leaks in from the caller's shell.
const SHARED_ENV = ['PORT', 'ALLOWED_ORIGINS', 'JWT_SECRET', 'HEARTBEAT_SECONDS', 'STREAM_BUDGET_BYTES',
  'REPLAY_MESSAGES', 'WEB_ROOT'];

/**
 * Starts server `name` (c, rust, python, node) on a free loopback port.
 * `settings` holds values for SHARED_ENV names; `label` names its log.
 */
export async function startChatServer(name, settings = {}, label = 'server') {
  for (const key of Object.keys(settings)) {
    if (!SHARED_ENV.includes(key)) throw new Error(`${key} is not one of the servers' shared settings`);
  }
  const env = { ...process.env };
  for (const key of SHARED_ENV) delete env[key];
  Object.assign(env, settings);
  const port = await freePort();
  const proc = startProcess(path.join(ROOT, 'examples/serve.sh'), [name, '--port', String(port)], {
    env, logFile: path.join(ARTIFACTS, name, 'logs', `${label}.log`),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilServing(proc, `${origin}/healthz`, `the ${name} chat server (${label})`);
  return { name, port, origin, stop: () => proc.stop(), logFile: proc.logFile };
}
