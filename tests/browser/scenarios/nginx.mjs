// The page through nginx with examples/nginx/nginx.conf (proxy_buffering
// on): stream messages still arrive at once, WebSocket upgrades, and a
// long poll is answered by the server's timeout, not by nginx's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { postMessage, roomEnvelopes } from '../lib/api.mjs';
import { ChatPage, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';
import { startNginx } from '../lib/nginx.mjs';
import { NGINX_CONF } from '../lib/paths.mjs';

const MAX_DELAY_MS = 100;
const MESSAGES = 5;
const MAX_HOLD_SECONDS = 60; // the longest long poll the contract allows (CHAT_API.md)

/** The proxy_read_timeout (seconds) of the nginx.conf location whose regex names `path`. */
function readTimeoutOf(path) {
  const conf = readFileSync(NGINX_CONF, 'utf8');
  const block = conf.match(new RegExp(`location ~ [^{]*\\b${path}\\b[^{]*\\{([^}]*)\\}`));
  assert.ok(block, `nginx.conf has a location for ${path}`);
  const timeout = block[1].match(/proxy_read_timeout\s+(\d+)s;/);
  assert.ok(timeout, `the ${path} location sets proxy_read_timeout in seconds`);
  return Number(timeout[1]);
}

export default function nginx(suite) {
  describe('through nginx', { concurrency: true }, () => {
    let server;
    let proxy;
    before(async () => {
      server = await startChatServer(suite.server, {}, 'nginx-upstream');
      proxy = await startNginx(server.port, suite.artifact('nginx'));
    });
    after(async () => { await proxy?.stop(); await server?.stop(); });

    for (const transport of ['sse', 'xhr', 'iframe', 'ws']) {
      suite.timedScenario(`${transport}: each message reaches the page within ${MAX_DELAY_MS} ms of its publish`, async (t) => {
        const room = freshRoom(`nginx-${transport}`);
        const chat = await ChatPage.open(suite.browser(), proxy.origin, { room, user: 'frank', transport });
        try {
          await chat.waitForState('connected');
          await chat.recordArrivals();
          const arrivals = {};
          for (let i = 0; i < MESSAGES; i++) {
            const text = `timed ${i}`;
            await postMessage(server.origin, room, 'ann', text); // straight to the server: only the stream goes through nginx
            arrivals[text] = await chat.arrivalOf(text);
            await sleep(50);
          }
          // From the publish time the server stamped on each envelope (same clock).
          const delays = (await roomEnvelopes(server.origin, room)).map((m) => arrivals[m.data.text] - m.time);
          assert.equal(delays.length, MESSAGES);
          t.diagnostic(`delays through nginx (ms): ${delays.join(' ')}`);
          assert.ok(Math.max(...delays) < MAX_DELAY_MS, `every delay under ${MAX_DELAY_MS} ms: ${delays.join(' ')}`);
          await chat.say('through the proxy'); // WebSocket: over the upgraded connection
          assert.equal((await chat.waitForTexts(MESSAGES + 1)).at(-1), 'through the proxy');
          assert.equal(await chat.duplicates(), 0);
          await chat.screenshot(suite.artifact(`nginx-${transport}.png`));
        } finally {
          await chat.close();
        }
      });
    }

    suite.scenario('longpoll: the page works, and nginx waits longer than any long poll the server may hold', async () => {
      assert.ok(readTimeoutOf('longpoll') > MAX_HOLD_SECONDS, 'nginx reads a long poll longer than the server holds it');
      const room = freshRoom('nginx-longpoll');
      const chat = await ChatPage.open(suite.browser(), proxy.origin, { room, user: 'frank', transport: 'longpoll' });
      try {
        await chat.waitForState('connected');
        await postMessage(server.origin, room, 'ann', 'held and answered');
        assert.deepEqual(await chat.waitForTexts(1), ['held and answered']);
        // A poll nobody answers ends with the server's 200, not nginx's 504.
        const key = await chat.lastKey();
        const started = Date.now();
        const r = await fetch(`${proxy.origin}/rooms/${room}/longpoll?key=${encodeURIComponent(key)}&timeout=2`);
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { key, messages: [], gap: null });
        assert.ok(Date.now() - started >= 1900, 'held for the timeout asked');
      } finally {
        await chat.close();
      }
    });
  });
}
