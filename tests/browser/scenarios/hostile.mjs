// Texts written to break out of a transport's framing or of the page: each
// is shown as the very text that was sent, and nothing runs, on every
// transport.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { postMessage } from '../lib/api.mjs';
import { ChatPage, TRANSPORTS, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';

const HOSTILE = [
  '</script><script>window.__pwned=1</script>', // ends the iframe transport's <script>
  'line\u2028separator\u2029paragraph', // a line break to old JavaScript parsers
  '\n\nevent: x', // a new SSE event, if data lines were not split
  'a\r\ndata: forged\r\n\r\nevent: x\rdata: y', // the same with CR and CRLF
  '<!-- <script>window.__pwned=1</script>', // an HTML comment start, then a script
  '<img src=x onerror="window.__pwned=1">', // runs if the page used innerHTML
];
// What the page itself sends (a text field holds no line breaks).
const TYPED = '</script><script>window.__pwned=1</script>\u2028typed';

export default function hostile(suite) {
  describe('hostile texts', { concurrency: true }, () => {
    let server;
    before(async () => { server = await startChatServer(suite.server, {}, 'hostile'); });
    after(() => server?.stop());

    for (const transport of TRANSPORTS) {
      suite.scenario(`${transport}: framing and markup in a message are shown as text and run nothing`, async () => {
        const room = freshRoom(`hostile-${transport}`);
        const chat = await ChatPage.open(suite.browser(), server.origin, { room, user: 'eve', transport });
        try {
          await chat.waitForState('connected');
          for (const text of HOSTILE) await postMessage(server.origin, room, 'mallory', text);
          await chat.say(TYPED);
          await chat.waitForTexts(HOSTILE.length + 1);
          await postMessage(server.origin, room, 'ann', 'still here'); // the stream survived them
          const expected = [...HOSTILE, TYPED, 'still here'];
          assert.deepEqual(await chat.waitForTexts(expected.length), expected);
          assert.deepEqual((await chat.messages()).map((m) => m.user), [...HOSTILE.map(() => 'mallory'), 'eve', 'ann']);
          assert.equal(await chat.pwned(), false, 'no injected script ran, in the page or its frames');
          assert.equal(await chat.page.$$eval('#messages *', (els) => els.filter((el) => !['LI', 'SPAN'].includes(el.tagName)).length), 0,
            'the message list holds only its own elements');
          assert.equal(await chat.duplicates(), 0);
          await chat.screenshot(suite.artifact(`hostile-${transport}.png`));
        } finally {
          await chat.close();
        }
      });
    }
  });
}
