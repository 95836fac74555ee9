// The benchmark's message text carries its step and its publish time, so a
// receiver can tell which step a delivery belongs to and how long it took.
// One clock: process.hrtime() is libuv's monotonic clock, the same in every
// thread of the load client's process (performance.now() is not: each
// worker has its own time origin).

/** Microseconds of the monotonic clock shared by all threads of this process. */
export function nowMicros() {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e6 + Math.floor(nanos / 1e3);
}

/** `bench <step> <publish time in µs> xxx…`, padded to `bytes` (a chat line's size). */
export function stampText(step, micros, bytes) {
  const head = `bench ${step} ${micros} `;
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

/** The step and publish time of a stamped text, or null for any other text. */
export function readStamp(text) {
  const [word, step, micros] = text.split(' ', 3);
  if (word !== 'bench') return null;
  return { step: Number(step), micros: Number(micros) };
}
