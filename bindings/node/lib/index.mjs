// ES module entry point: the same implementation as the CommonJS one (one
// copy of every class, so `instanceof` works whichever way it was loaded).
import pushbus from './index.cjs';

export const {
  Bus,
  Publisher,
  Poller,
  Subscription,
  Message,
  Gap,
  Closed,
  PushbusError,
  Status,
  parseKey,
  formatKey,
  isToken,
  framing,
  verifyToken,
  version,
  libraryPath,
} = pushbus;
export default pushbus;
