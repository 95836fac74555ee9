// Child processes the suite starts: their output goes to a log file, and
// they are stopped by the pid we started (never by name).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';

export function startProcess(command, args, { env, logFile }) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  // 'close' comes once both pipes are drained; the log is complete when this resolves.
  const exited = new Promise((resolve) => child.once('close', (code, signal) => log.end(() => resolve({ code, signal }))));
  return {
    pid: child.pid,
    exited,
    logFile,
    running: () => child.exitCode === null && child.signalCode === null,
    logTail: (lines = 20) => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'),
    async stop(graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(force);
      }
      return exited;
    },
  };
}

// Ports for the servers this suite starts, handed out once each and taken
// below the kernel's ephemeral range: a port the kernel picked for a probe
// (listen on 0) can be picked again, for another probe or for any outgoing
// connection's local end, between the probe's close and the server's bind;
// two servers were seen starting on one port, the second dying of
// EADDRINUSE while the first answered its health check.
const [EPHEMERAL_LOW] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
const PORTS_FROM = 10000;
// Started where the pid says, so that two runs at once rarely probe the same ports.
let nextPort = PORTS_FROM + (process.pid % (EPHEMERAL_LOW - PORTS_FROM));

function probe(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port nothing listens on now, never handed out before in this run. */
export async function freePort() {
  for (;;) {
    const port = nextPort;
    nextPort = port + 1 >= EPHEMERAL_LOW ? PORTS_FROM : port + 1;
    if (await probe(port)) return port;
  }
}

/**
 * Waits until `url` answers 200, failing early and clearly when the
 * process exits first (a missing binary, a crash, a port in use).
 */
export async function waitUntilServing(proc, url, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) {
      const { code, signal } = await proc.exited;
      throw new Error(`${what} did not start (exit ${code ?? signal}); ${proc.logFile} ends with:\n${proc.logTail()}`);
    }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms; ${proc.logFile} ends with:\n${proc.logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
