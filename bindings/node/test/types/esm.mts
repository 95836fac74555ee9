// Compiled with `tsc --noEmit` (not run): the declarations must accept the
// documented usage and reject misuse (the @ts-expect-error lines).
import pushbus, { Bus, Publisher, PushbusError, Status, framing, parseKey, type Message, type PushbusEvent } from 'pushbus';

const bus: Bus = new Bus({ ringMaxMessages: 4096, lagPolicy: 'gap', presenceEvents: false });
const poller = bus.poller({ frames: true, highWaterMark: 1024 });
const sub = poller.subscribe(['chat.lobby', 'chat.>'], { start: { last: 10 }, lag: 'close' });
sub.on('message', (m: Message) => {
  const text: string = m.text();
  const key: string = m.key;
  const data: Buffer = m.data;
  const sse: Buffer | undefined = m.frames?.sse;
  void [text, key, data, sse];
});
sub.on('gap', (g) => {
  const lost: number | null = g.lost;
  void lost;
});
const key: string = bus.publish('chat.lobby', { user: 'ann', text: 'hi' }, { event: 'message' });
bus.publish('chat.lobby', Buffer.from([1, 2, 3]), { kind: 'binary' });
const publisher: Publisher = bus.publisher('chat.lobby');
const topic: string = publisher.topic;
const pubKey: string = publisher.publish({ user: 'ann', text: 'hi' }, { event: 'message' });
publisher.publish('text', { kind: 'text' });
publisher.publish(new Uint8Array([1, 2]));
const pubClosed: boolean = publisher.closed;
publisher.close();
{
  using scoped = bus.publisher('chat.scoped');
  scoped.publish('x');
}
// @ts-expect-error a publisher's topic is fixed: no topic argument
publisher.publish('chat.lobby', 'x', { event: 'message' });
// @ts-expect-error an unknown payload kind
publisher.publish('x', { kind: 'xml' });
// @ts-expect-error Publisher has no public constructor
new Publisher(bus, 'chat.lobby');
const k = parseKey(key);
const epoch: bigint = k.epoch;
const stats = bus.stats();
const n: number = stats.subscriptions + stats.published;
const status: number = Status.PUSHBUS_INVALID_TOPIC;
const preamble: Buffer = framing.ssePreamble(3000);
const start = framing.lastEventId('abc-1', null);
if (start !== 'now') {
  const after: string = start.after;
  void after;
}

async function consume(): Promise<void> {
  for await (const event of sub) {
    const e: PushbusEvent = event;
    if (e.type === 'message') {
      const m: Message = e;
      void m;
    }
    break;
  }
  for await (const event of bus) {
    void event;
    break;
  }
}

try {
  bus.publish('bad topic', 'x');
} catch (error) {
  if (error instanceof PushbusError) {
    const code: string = error.code;
    const s: number = error.status;
    void [code, s];
  }
}

// @ts-expect-error an unknown lag policy
poller.subscribe('x', { lag: 'drop' });
// @ts-expect-error start must be a known form
poller.subscribe('x', { start: 'yesterday' });
// @ts-expect-error the lag policy of a bus is 'gap' or 'close'
new Bus({ lagPolicy: 'default' });

void [pushbus.version, pushbus.Publisher, epoch, n, status, preamble, consume, topic, pubKey, pubClosed];
