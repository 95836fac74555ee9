// The CommonJS entry point's declarations (compiled, not run).
import pushbus = require('pushbus');

const bus = new pushbus.Bus();
const sub = bus.subscribe('chat.lobby');
sub.on('message', (m) => {
  const seq: number = m.seq;
  void seq;
});
const err: typeof pushbus.PushbusError = pushbus.PushbusError;
const publisher: pushbus.Publisher = bus.publisher('chat.lobby');
const key: string = publisher.publish({ text: 'hi' }, { event: 'message', kind: 'json' });
publisher.close();
// @ts-expect-error Subscription has no public constructor
new pushbus.Subscription();
void [err, key, bus.close()];
