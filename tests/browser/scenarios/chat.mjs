// Two people in one room, on each transport: what one says appears on the
// other's page, in order, once; each sees the other as a connector.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { ChatPage, TRANSPORTS, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';

export default function chat(suite) {
  describe('two pages chat', { concurrency: true }, () => {
    let server;
    before(async () => { server = await startChatServer(suite.server, {}, 'chat'); });
    after(() => server?.stop());

    for (const transport of TRANSPORTS) {
      suite.scenario(`${transport}: each page shows the other's messages in order and lists the other`, async () => {
        const room = freshRoom(`chat-${transport}`);
        const ann = await ChatPage.open(suite.browser(), server.origin, { room, user: 'ann', transport });
        const bob = await ChatPage.open(suite.browser(), server.origin, { room, user: 'bob', transport });
        try {
          await ann.waitForState('connected');
          await bob.waitForState('connected');
          // Typed quickly, one after the other: the page must keep their order.
          for (const text of ['ann 1', 'ann 2', 'ann 3']) await ann.say(text);
          for (const text of ['bob 1', 'bob 2']) await bob.say(text);

          const seenByAnn = await ann.waitForTexts(5);
          const seenByBob = await bob.waitForTexts(5);
          assert.deepEqual(seenByAnn, seenByBob, 'both pages show one order');
          assert.deepEqual(seenByAnn.filter((t) => t.startsWith('ann')), ['ann 1', 'ann 2', 'ann 3']);
          assert.deepEqual(seenByAnn.filter((t) => t.startsWith('bob')), ['bob 1', 'bob 2']);
          assert.deepEqual((await ann.messages()).find((m) => m.text === 'bob 1'), { user: 'bob', text: 'bob 1' });

          await ann.waitForConnectors(['ann', 'bob']);
          await bob.waitForConnectors(['ann', 'bob']);
          for (const page of [ann, bob]) {
            assert.equal(await page.duplicates(), 0, 'nothing delivered twice');
            assert.equal(await page.gaps(), 0, 'no gap');
          }
          await ann.screenshot(suite.artifact(`chat-${transport}-ann.png`));
          await bob.screenshot(suite.artifact(`chat-${transport}-bob.png`));
        } finally {
          await ann.close();
          await bob.close();
        }
      });
    }
  });
}
