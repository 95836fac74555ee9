// The CommonJS entry point's declarations (compiled, not run).
import pushbus = require('pushbus');

const bus = new pushbus.Bus();
const sub = bus.subscribe('chat.lobby');
sub.on('message', (m) => {
  const seq: number = m.seq;
  void seq;
});
const err: typeof pushbus.PushbusError = pushbus.PushbusError;
// @ts-expect-error Subscription has no public constructor
new pushbus.Subscription();
void [err, bus.close()];
