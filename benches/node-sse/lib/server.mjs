// One contender's server as a child process: started with its pid kept,
// measured through lib/loop-monitor.cjs (SIGUSR2 appends a line to a file),
// stopped by that pid.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MONITOR = fileURLToPath(new URL('./loop-monitor.cjs', import.meta.url));
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const START_TIMEOUT_MS = 15000;
const MARK_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ServerProcess {
  /**
   * Starts `command args` (which must print `listening on http://127.0.0.1:PORT`).
   * With `preload`, the loop monitor is loaded through NODE_OPTIONS (for a
   * server whose code the benchmark does not touch); otherwise the server
   * loads it itself. Either way it writes to `monitorFile`.
   */
  static async start({ command, args, preload, monitorFile, env = {} }) {
    rmSync(monitorFile, { force: true });
    const childEnv = { ...process.env, ...env, LOOP_MONITOR_FILE: monitorFile };
    if (preload) childEnv.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(MONITOR)}`.trim();
    const child = spawn(command, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(child, monitorFile);
    server.baseUrl = await server.#listening();
    return server;
  }

  constructor(child, monitorFile) {
    this.child = child;
    this.pid = child.pid;
    this.monitorFile = monitorFile;
    this.stderrTail = '';
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
  }

  #listening() {
    return new Promise((resolve, reject) => {
      let stdout = '';
      let settled = false;
      const settle = (error, url) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (url !== undefined) return resolve(url);
        this.child.kill('SIGKILL');
        reject(new Error(`server ${this.pid}: ${error.message}\n${this.stderrTail}`));
      };
      const timer = setTimeout(() => settle(new Error('no "listening on" line in time')), START_TIMEOUT_MS);
      this.child.once('exit', (code, signal) => settle(new Error(`exited (${code ?? signal}) before listening`)));
      this.child.stdout.setEncoding('utf8');
      // read stdout to its end, so a chatty server never blocks on a full pipe
      this.child.stdout.on('data', (text) => {
        if (settled) return;
        stdout += text;
        const match = LISTENING.exec(stdout);
        if (match !== null) settle(null, match[1]);
      });
    });
  }

  #monitorLines() {
    try {
      return readFileSync(this.monitorFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The server's loop and CPU numbers since the previous mark (the first mark starts the count). */
  async mark() {
    const before = this.#monitorLines().length;
    this.child.kill('SIGUSR2');
    for (const deadline = Date.now() + MARK_TIMEOUT_MS; Date.now() < deadline; ) {
      const lines = this.#monitorLines();
      if (lines.length > before) return JSON.parse(lines[lines.length - 1]);
      await sleep(10);
    }
    throw new Error(`server ${this.pid} did not report its event loop (${this.monitorFile})\n${this.stderrTail}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited in time; only this pid. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
    if (exited !== null) return exited;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}
