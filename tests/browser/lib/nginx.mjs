// Debian's nginx with examples/nginx/nginx.conf, in front of one chat
// server: the file's two loopback addresses replaced by this run's ports,
// everything it writes (logs, pid, temporary files) under `prefix`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NGINX_CONF } from './paths.mjs';
import { freePort, startProcess, waitUntilServing } from './processes.mjs';

export const NGINX = process.env.NGINX || '/usr/sbin/nginx';

// The addresses nginx.conf is written for (its README).
const LISTEN = 'listen 127.0.0.1:8000;';
const UPSTREAM = 'server 127.0.0.1:8080;';

/** nginx.conf with its listen and upstream addresses replaced. */
export function configFor(listenPort, upstreamPort) {
  let conf = readFileSync(NGINX_CONF, 'utf8');
  for (const [from, to] of [[LISTEN, `listen 127.0.0.1:${listenPort};`], [UPSTREAM, `server 127.0.0.1:${upstreamPort};`]]) {
    const count = conf.split(from).length - 1;
    if (count !== 1) throw new Error(`${NGINX_CONF} must say "${from}" exactly once (it says it ${count} times)`);
    conf = conf.replace(from, to);
  }
  return conf;
}

export async function startNginx(upstreamPort, prefix) {
  const port = await freePort();
  mkdirSync(prefix, { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, configFor(port, upstreamPort));
  const proc = startProcess(NGINX, ['-p', prefix, '-c', conf, '-e', 'stderr'], {
    env: process.env, logFile: path.join(prefix, 'nginx.log'),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilServing(proc, `${origin}/healthz`, `nginx (${prefix})`);
  return { origin, prefix, stop: () => proc.stop() };
}
