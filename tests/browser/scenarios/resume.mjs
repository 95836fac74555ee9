// The connection is lost and comes back: the page resumes from the last key
// it saw, by itself, and shows every message once, in order.
//
// How the stream is lost, honestly: a TCP proxy between the page and the
// server drops every connection and refuses new ones for a while (the
// server keeps running, its state intact), on every transport; and for
// XHR and iframe streams, the server itself ends them after a small
// STREAM_BUDGET_BYTES, as it does in production after 128 KiB.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { postMessage } from '../lib/api.mjs';
import { ChatPage, TRANSPORTS, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';
import { startCuttableProxy } from '../lib/cuttable-proxy.mjs';
import { FAST_HEARTBEAT } from '../lib/fast-heartbeat.mjs';
import { recordRequests } from '../lib/network-log.mjs';

// Where each transport carries the key it resumes from.
const RESUME_KEY = {
  sse: (r) => r.url.pathname.endsWith('/events') && r.headers['last-event-id'],
  'sse-polyfill': (r) => r.url.pathname.endsWith('/events') && r.url.searchParams.get('lastEventId'),
  ws: (r) => r.url.pathname.endsWith('/ws') && r.url.searchParams.get('key'),
  xhr: (r) => r.url.pathname.endsWith('/xhr') && r.url.searchParams.get('key'),
  iframe: (r) => r.url.pathname.endsWith('/iframe') && r.url.searchParams.get('key'),
  longpoll: (r) => r.url.pathname.endsWith('/longpoll') && r.url.searchParams.get('key'),
  poll: (r) => r.url.pathname.endsWith('/poll') && r.url.searchParams.get('key'),
};
// Down at least this long, and until the page's transport has met the
// outage (the page says "reconnecting"): longer than the page's 2 s
// short-poll interval, and waited out on a loaded machine, where a poll's
// timer can fire after the outage was over. A refused connection alone is
// not the sign: the page's presence refresh (every 3 s) can meet the
// refusal while a late poll has not, and the poll then never fails.
const DOWN_MS = 2500;
const OUTAGE_WAIT_MS = 20000;
const BUDGET_BYTES = 8192; // the 2 KiB preamble and a few messages

async function assertShownOnce(chat, expected) {
  assert.deepEqual(await chat.waitForTexts(expected.length), expected);
  assert.equal(await chat.duplicates(), 0, 'nothing delivered twice');
  assert.equal(await chat.gaps(), 0, 'no gap');
}

export default function resume(suite) {
  describe('reconnects', { concurrency: true }, () => {
    let server;
    let budgeted;
    before(async () => {
      server = await startChatServer(suite.server, FAST_HEARTBEAT.server, 'resume');
      budgeted = await startChatServer(suite.server, { STREAM_BUDGET_BYTES: String(BUDGET_BYTES) }, 'budget');
    });
    after(() => Promise.all([server?.stop(), budgeted?.stop()]));

    for (const transport of TRANSPORTS) {
      suite.scenario(`${transport}: after a cut, the page resumes from its last key: nothing missed, nothing repeated`, async () => {
        const room = freshRoom(`cut-${transport}`);
        const proxy = await startCuttableProxy(server.port);
        const chat = await ChatPage.create(suite.browser());
        try {
          const requests = await recordRequests(chat);
          await chat.visit(proxy.origin, { room, user: 'carol', transport, ...FAST_HEARTBEAT.page });
          await chat.waitForState('connected');
          for (const text of ['before 1', 'before 2']) await postMessage(server.origin, room, 'ann', text);
          await assertShownOnce(chat, ['before 1', 'before 2']);
          const keyBeforeCut = await chat.lastKey();
          const requestsBeforeCut = requests.length;

          proxy.cut();
          for (const text of ['during 1', 'during 2', 'during 3']) await postMessage(server.origin, room, 'ann', text);
          await Promise.all([sleep(DOWN_MS), chat.waitForState('reconnecting', OUTAGE_WAIT_MS)]);
          proxy.restore();

          await assertShownOnce(chat, ['before 1', 'before 2', 'during 1', 'during 2', 'during 3']);
          await chat.waitForReconnects(1);
          await chat.waitForState('connected');
          const resumedFrom = requests.slice(requestsBeforeCut).filter((r) => r.url).map(RESUME_KEY[transport]).filter(Boolean);
          assert.ok(resumedFrom.includes(keyBeforeCut),
            `a reconnect carried the last key ${keyBeforeCut} (it carried ${JSON.stringify(resumedFrom)})`);

          await postMessage(server.origin, room, 'ann', 'after');
          await assertShownOnce(chat, ['before 1', 'before 2', 'during 1', 'during 2', 'during 3', 'after']);
        } finally {
          await chat.close();
          await proxy.close();
        }
      });
    }

    for (const transport of ['xhr', 'iframe']) {
      suite.scenario(`${transport}: a stream the server ends after STREAM_BUDGET_BYTES reopens from its last key`, async () => {
        const room = freshRoom(`budget-${transport}`);
        const chat = await ChatPage.open(suite.browser(), budgeted.origin, { room, user: 'dave', transport });
        try {
          await chat.waitForState('connected');
          // About 12 KiB of envelopes: more than the budget left after the preamble.
          const texts = Array.from({ length: 12 }, (_, i) => `n${String(i).padStart(2, '0')} ${'z'.repeat(1000)}`);
          for (const text of texts) await postMessage(budgeted.origin, room, 'ann', text);
          await assertShownOnce(chat, texts);
          await chat.waitForReconnects(1); // the stream ended at its budget and the page reopened it
        } finally {
          await chat.close();
        }
      });
    }
  });
}
