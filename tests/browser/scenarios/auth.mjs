// With JWT_SECRET set: a page with a valid token works on every transport;
// an expired token is refused and the page says why; a token refused at a
// reconnect stops the page (with the reason) instead of retrying for ever.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { SignJWT } from 'jose';
import { roomMessages } from '../lib/api.mjs';
import { ChatPage, TRANSPORTS, freshRoom } from '../lib/chat-page.mjs';
import { startChatServer } from '../lib/chat-server.mjs';
import { startCuttableProxy } from '../lib/cuttable-proxy.mjs';
import { FAST_HEARTBEAT } from '../lib/fast-heartbeat.mjs';

const SECRET = randomBytes(32).toString('hex');

const inSeconds = (seconds) => Math.floor(Date.now() / 1000) + seconds;

/** An HS256 token for `user` in `room`, expiring at `exp` (seconds since the epoch). */
function token(user, room, exp) {
  return new SignJWT({ rooms: [room] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));
}

async function assertRefusedAsExpired(chat) {
  await chat.waitForState('refused');
  const why = await chat.error();
  assert.match(why, /40[13]/, `the page shows the status (${why})`);
  assert.match(why, /expired/i, `the page shows the server's reason (${why})`);
}

export default function auth(suite) {
  describe('auth', { concurrency: true }, () => {
    let server;
    let rotated; // the same server after a restart with a new secret
    before(async () => {
      server = await startChatServer(suite.server, { JWT_SECRET: SECRET, ...FAST_HEARTBEAT.server }, 'auth');
      rotated = await startChatServer(suite.server, { JWT_SECRET: `${SECRET}-rotated`, ...FAST_HEARTBEAT.server }, 'auth-rotated');
    });
    after(() => Promise.all([server?.stop(), rotated?.stop()]));

    for (const transport of TRANSPORTS) {
      suite.scenario(`${transport}: a page with a valid token receives and posts`, async () => {
        const room = freshRoom(`auth-${transport}`);
        const chat = await ChatPage.open(suite.browser(), server.origin,
          { room, user: 'ann', transport, token: await token('ann', room, inSeconds(600)) });
        try {
          await chat.waitForState('connected');
          await chat.say('signed');
          assert.deepEqual(await chat.waitForTexts(1), ['signed']);
          const auth = { Authorization: `Bearer ${await token('ann', room, inSeconds(60))}` };
          assert.deepEqual(await roomMessages(server.origin, room, auth), [{ user: 'ann', text: 'signed' }]);
          await chat.waitForConnectors(['ann']);
        } finally {
          await chat.close();
        }
      });

      suite.scenario(`${transport}: a page with an expired token is refused and says why`, async () => {
        const room = freshRoom(`expired-${transport}`);
        const chat = await ChatPage.open(suite.browser(), server.origin,
          { room, user: 'ann', transport, token: await token('ann', room, inSeconds(-3600)) });
        try {
          await assertRefusedAsExpired(chat);
          await chat.screenshot(suite.artifact(`auth-expired-${transport}.png`));
        } finally {
          await chat.close();
        }
      });

      suite.scenario(`${transport}: a token the restarted server no longer accepts is refused at the next reconnect`, async () => {
        const room = freshRoom(`rotated-${transport}`);
        const proxy = await startCuttableProxy(server.port);
        const chat = await ChatPage.open(suite.browser(), proxy.origin,
          { room, user: 'ann', transport, token: await token('ann', room, inSeconds(600)), ...FAST_HEARTBEAT.page });
        try {
          await chat.waitForState('connected');
          proxy.cut(); // the server restarts with a new secret: the page's token is now forged
          proxy.retarget(rotated.port);
          proxy.restore();
          await chat.waitForState('refused');
          assert.match(await chat.error(), /HTTP 401: \S/, 'the page shows the status and the reason');
        } finally {
          await chat.close();
          await proxy.close();
        }
      });
    }
  });
}
