// The page served from another origin, talking to the chat server through
// CORS: an origin in ALLOWED_ORIGINS works (its JSON POST preflighted), an
// unlisted one is refused, and the server's own page keeps working.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { postMessage, roomMessages } from '../lib/api.mjs';
import { ChatPage, TRANSPORTS, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';
import { recordRequests } from '../lib/network-log.mjs';
import { startStaticOrigin } from '../lib/static-origin.mjs';

const REFUSAL_WAIT_MS = 3000; // time a refused page gets to (wrongly) connect

// A hidden frame of the server's origin may not call a page of another one:
// the page refuses this transport across origins and says why.
async function assertIframeRefused(chat) {
  await chat.waitForState('refused');
  assert.match(await chat.error(), /one origin/);
}

export default function cors(suite) {
  describe('another origin', { concurrency: true }, () => {
    let allowed;
    let unlisted;
    let server;
    before(async () => {
      allowed = await startStaticOrigin();
      unlisted = await startStaticOrigin();
      server = await startChatServer(suite.server, { ALLOWED_ORIGINS: allowed.origin }, 'cors');
    });
    after(() => Promise.all([server?.stop(), allowed?.close(), unlisted?.close()]));

    for (const transport of TRANSPORTS) {
      suite.scenario(`${transport}: a page from an allowed origin receives and posts`, async () => {
        const room = freshRoom(`cors-${transport}`);
        const chat = await ChatPage.create(suite.browser());
        try {
          const requests = await recordRequests(chat);
          await chat.visit(allowed.origin, { room, user: 'far', transport, server: server.origin });
          if (transport === 'iframe') return await assertIframeRefused(chat);
          await chat.waitForState('connected');
          await postMessage(server.origin, room, 'near', 'to the far page');
          await chat.waitForTexts(1);
          await chat.say('from the far page');
          assert.deepEqual(await chat.waitForTexts(2), ['to the far page', 'from the far page']);
          assert.deepEqual((await roomMessages(server.origin, room)).map((m) => m.text), ['to the far page', 'from the far page']);
          if (transport !== 'ws') { // the WebSocket posts over itself
            const preflight = requests.find((r) => r.method === 'OPTIONS' && r.url.pathname === `/rooms/${room}/messages`);
            assert.ok(preflight, 'the JSON POST was preflighted');
            assert.equal(preflight.headers['access-control-request-method'], 'POST');
            assert.equal(preflight.status, 204);
          }
          await chat.screenshot(suite.artifact(`cors-allowed-${transport}.png`));
        } finally {
          await chat.close();
        }
      });

      suite.scenario(`${transport}: a page from an unlisted origin receives nothing and posts nothing`, async () => {
        const room = freshRoom(`cors-no-${transport}`);
        const chat = await ChatPage.open(suite.browser(), unlisted.origin, { room, user: 'stranger', transport, server: server.origin });
        try {
          await postMessage(server.origin, room, 'near', 'not for strangers');
          if (transport === 'iframe') {
            await assertIframeRefused(chat);
          } else {
            await chat.say('from a stranger');
            await sleep(REFUSAL_WAIT_MS);
            assert.notEqual(await chat.state(), 'connected');
            assert.match(await chat.error(), /ALLOWED_ORIGINS/, 'the page says what may be wrong');
          }
          assert.deepEqual(await chat.texts(), []);
          assert.deepEqual((await roomMessages(server.origin, room)).map((m) => m.user), ['near'], 'nothing was published');
        } finally {
          await chat.close();
        }
      });
    }

    for (const transport of ['sse', 'ws', 'xhr']) {
      suite.scenario(`${transport}: the server's own page still works when ALLOWED_ORIGINS lists another origin`, async () => {
        const room = freshRoom(`cors-own-${transport}`);
        const chat = await ChatPage.open(suite.browser(), server.origin, { room, user: 'home', transport });
        try {
          await chat.waitForState('connected');
          await chat.say('at home');
          assert.deepEqual(await chat.waitForTexts(1), ['at home']);
        } finally {
          await chat.close();
        }
      });
    }
  });
}
