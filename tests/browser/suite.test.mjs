// The chat page in Debian's Chromium against each example server named in
// BROWSER_SERVERS (run.sh sets it): one browser per server, every scenario
// on every transport, a bounded number of scenarios at a time.
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { Semaphore } from 'async-mutex';
import { launchBrowser } from './lib/browser.mjs';
import { ARTIFACTS } from './lib/paths.mjs';
import chat from './scenarios/chat.mjs';
import resume from './scenarios/resume.mjs';
import hostile from './scenarios/hostile.mjs';
import cors from './scenarios/cors.mjs';
import auth from './scenarios/auth.mjs';
import nginx from './scenarios/nginx.mjs';

const SERVERS = (process.env.BROWSER_SERVERS || 'c rust python node').split(/[\s,]+/).filter(Boolean);
// Scenarios at once, over all servers. They mostly wait (reconnect delays,
// poll intervals, refused connections): with 12, the whole suite keeps
// less than half of one core busy. A timed scenario takes every slot: it
// measures with nothing else of the suite running.
const JOBS = Number(process.env.BROWSER_JOBS || 12);
const slots = new Semaphore(JOBS);
// From the moment a scenario has its slot (node:test's own timeout would
// count the wait for one, and would not give the slot back).
const SCENARIO_TIMEOUT_MS = 120000;

/** Runs `body` in `weight` slots; fails it, and frees them, after SCENARIO_TIMEOUT_MS. */
function inSlots(weight, body) {
  return slots.runExclusive(() => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the scenario took more than ${SCENARIO_TIMEOUT_MS} ms`)), SCENARIO_TIMEOUT_MS);
    });
    return Promise.race([body(), timeout]).finally(() => clearTimeout(timer));
  }, weight);
}

describe('browser', { concurrency: true }, () => {
  for (const server of SERVERS) {
    describe(server, { concurrency: true }, () => {
      let browser = null;
      before(async () => { browser = await launchBrowser(); });
      after(async () => { await browser?.close(); });
      const suite = {
        server,
        browser: () => browser,
        /** One scenario: a test that runs when a slot is free. */
        scenario: (title, body) => it(title, (t) => inSlots(1, () => body(t))),
        /** A scenario that measures time: it runs alone. */
        timedScenario: (title, body) => it(title, (t) => inSlots(JOBS, () => body(t))),
        artifact: (name) => path.join(ARTIFACTS, server, name),
      };
      for (const scenarios of [chat, resume, hostile, cors, auth, nginx]) scenarios(suite);
    });
  }
});
