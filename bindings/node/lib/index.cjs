'use strict';
// pushbus for Node: Bus, Publisher, Poller, Subscription over the C ABI (koffi).
//
// How messages reach JavaScript. A Poller's pollable fd (pipe mode) is
// watched on the event loop with koffi.node.poll, a libuv uv_poll_t: the fd
// is level-triggered (readable exactly while the poller has something to
// drain; pushbus clears it under its own lock), libuv never reads it and
// never closes it, and it is watched only while someone consumes the
// poller's events. When it turns readable the poll callback only schedules
// a drain with setImmediate: the drain, the EventEmitter listeners and the
// promise resolutions of async iterators then run inside a regular Node
// callback scope (koffi calls the poll callback straight from libuv, where
// microtasks and thrown exceptions are not handled the usual way). A drain
// takes batches of events until the poller is empty or a time budget is
// spent; if it stops early the fd is still readable, so the next loop
// iteration drains again after timers and I/O had their turn. Nothing ever
// blocks the loop and no broker thread ever calls into JavaScript.

const { EventEmitter } = require('node:events');
const native = require('./native.cjs');

const { koffi, c, memcpy, memcpyAt, EVENT, MESSAGE, GAP } = native;

// ---------------------------------------------------------------------------
// Status codes and errors

const STATUS_NAMES = [
  'PUSHBUS_OK',
  'PUSHBUS_NULL_POINTER',
  'PUSHBUS_INVALID_UTF8',
  'PUSHBUS_INVALID_TOPIC',
  'PUSHBUS_INVALID_PATTERN',
  'PUSHBUS_PATTERN_NOT_ALLOWED',
  'PUSHBUS_INVALID_EVENT',
  'PUSHBUS_MESSAGE_TOO_LARGE',
  'PUSHBUS_INVALID_JSON',
  'PUSHBUS_INVALID_PRESENCE',
  'PUSHBUS_BAD_TOKEN',
  'PUSHBUS_TOO_MANY_TOPICS',
  'PUSHBUS_TOO_MANY_SUBSCRIPTIONS',
  'PUSHBUS_UNKNOWN_SUBSCRIPTION',
  'PUSHBUS_UNKNOWN_TOPIC',
  'PUSHBUS_NO_TOPICS',
  'PUSHBUS_INVALID_CONFIG',
  'PUSHBUS_IO',
  'PUSHBUS_INVALID_JWT',
  'PUSHBUS_EXPIRED_JWT',
  'PUSHBUS_INVALID_ARGUMENT',
  'PUSHBUS_BUFFER_TOO_SMALL',
  'PUSHBUS_WS_PROTOCOL',
  'PUSHBUS_PANIC',
];

/** Status codes by name (`Status.PUSHBUS_INVALID_TOPIC === 3`). */
const Status = Object.freeze(Object.fromEntries(STATUS_NAMES.map((name, value) => [name, value])));

/** The binding's own code for a call on a closed Bus, Publisher, Poller or Subscription. */
const CLOSED = 'PUSHBUS_CLOSED';

/** An error from pushbus: `.code` is the status name, `.status` its number. */
class PushbusError extends Error {
  constructor(status, operation, detail) {
    const code = status === -1 ? CLOSED : STATUS_NAMES[status] || `PUSHBUS_STATUS_${status}`;
    const description = status === -1 ? 'the object is closed' : c.status_str(status);
    super(`${operation}: ${description}${detail ? ` (${detail})` : ''} [${code}]`);
    this.name = 'PushbusError';
    this.code = code;
    this.status = status;
    this.operation = operation;
  }
}

function check(status, operation, detail) {
  if (status !== 0) throw new PushbusError(status, operation, detail);
}

function closedError(operation) {
  return new PushbusError(-1, operation);
}

// ---------------------------------------------------------------------------
// Small helpers shared by the hot paths (module-level scratch: every call is
// synchronous, so one scratch area per thread is enough).

const scratchKey = Buffer.alloc(16);
const scratchOut = Buffer.alloc(64);
const scratchBuf = Buffer.alloc(16); // a pushbus_buf: { ptr, len }
let scratchText = Buffer.alloc(4096);

function u64(buf, off) {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 4294967296;
}

let lastEpochLo = -1;
let lastEpochHi = -1;
let lastEpochHex = '';
/** An epoch's hex text from its two 32-bit halves; the last one is cached
 * (a drain's messages almost always share their topic's epoch). */
function epochHex(elo, ehi) {
  if (elo !== lastEpochLo || ehi !== lastEpochHi) {
    lastEpochHex = ehi ? ehi.toString(16) + elo.toString(16).padStart(8, '0') : elo.toString(16);
    lastEpochLo = elo;
    lastEpochHi = ehi;
  }
  return lastEpochHex;
}
/** Renders the pushbus_key at `off` as pushbus_key_format does: `<epoch hex>-<seq>`. */
function keyText(buf, off) {
  const elo = buf.readUInt32LE(off);
  const ehi = buf.readUInt32LE(off + 4); // (Buffer reads: keys may sit at any offset)
  const hex = epochHex(elo, ehi);
  const slo = buf.readUInt32LE(off + 8);
  const shi = buf.readUInt32LE(off + 12);
  const seq = shi < 0x200000 ? String(slo + shi * 4294967296) : buf.readBigUInt64LE(off + 8).toString();
  return `${hex}-${seq}`;
}

function seqAt(buf, off) {
  const shi = buf.readUInt32LE(off + 12);
  const slo = buf.readUInt32LE(off + 8);
  // (`off` is the key's offset: its seq follows the 8-byte epoch.)
  return shi < 0x200000 ? slo + shi * 4294967296 : Number(buf.readBigUInt64LE(off + 8));
}

/** Copies `len` native bytes at address `ptr` into a new Buffer. */
function copyBytes(ptr, len) {
  const out = Buffer.allocUnsafe(len);
  if (len > 0) memcpy(out, ptr, len);
  return out;
}

/** Decodes `len` native bytes of UTF-8 at address `ptr`. */
function copyText(ptr, len) {
  if (len === 0) return '';
  if (len > scratchText.length) scratchText = Buffer.alloc(Math.max(len, scratchText.length * 2));
  memcpy(scratchText, ptr, len);
  return scratchText.toString('utf8', 0, len);
}

/** Takes the bytes of the pushbus_buf in `scratchBuf` and frees them. */
function takeBuf() {
  const ptr = u64(scratchBuf, 0);
  const len = u64(scratchBuf, 8);
  const out = copyBytes(ptr, len);
  c.buf_free(scratchBuf);
  return out;
}

/** Reads a borrowed (pointer, length) pair written to scratchOut[0..16]. */
function borrowedBytes() {
  return copyBytes(u64(scratchOut, 0), u64(scratchOut, 8));
}

function mustString(value, name) {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  return value;
}

function optionalString(value, name) {
  return value === undefined || value === null ? null : mustString(value, name);
}

function len(text) {
  return text === null ? 0 : Buffer.byteLength(text, 'utf8');
}

function toBytes(value, name) {
  if (Buffer.isBuffer(value)) return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new TypeError(`${name} must be a string, Buffer or Uint8Array`);
}

function nonNegativeInteger(value, name) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

// ---------------------------------------------------------------------------
// Keys, tokens and starts

/** Parses a version key's text into `{ epoch, seq }` (BigInts). */
function parseKey(text) {
  mustString(text, 'key');
  const out = {};
  check(c.key_parse(text, len(text), out), 'parseKey');
  return { epoch: BigInt(out.epoch), seq: BigInt(out.seq) };
}

/** Renders `{ epoch, seq }` (BigInts or safe integers) as key text. */
function formatKey(key) {
  const buf = Buffer.alloc(64);
  check(c.key_format({ epoch: BigInt(key.epoch), seq: BigInt(key.seq) }, buf, buf.length, scratchOut), 'formatKey');
  return buf.toString('utf8', 0, u64(scratchOut, 0));
}

/** Whether `text` is a key or a composite resume token. */
function isToken(text) {
  if (typeof text !== 'string') return false;
  const status = c.token_check(text, len(text));
  if (status === Status.PUSHBUS_BAD_TOKEN || status === Status.PUSHBUS_INVALID_UTF8) return false;
  check(status, 'isToken');
  return true;
}

const START_NOW = 0;
const START_OLDEST = 1;
const START_LAST = 2;
const START_TOKEN = 3;

/** Converts a JS start ('now', 'oldest', { last }, { after }) to a pushbus_start. */
function toStart(start) {
  if (start === undefined || start === null || start === 'now') return null;
  if (start === 'oldest') return { kind: START_OLDEST, last_n: 0, token: null, token_len: 0 };
  if (typeof start === 'object') {
    if (start.after !== undefined && start.after !== null) {
      const token = mustString(start.after, 'start.after');
      return { kind: START_TOKEN, last_n: 0, token, token_len: len(token) };
    }
    if (start.last !== undefined) {
      return { kind: START_LAST, last_n: nonNegativeInteger(start.last, 'start.last'), token: null, token_len: 0 };
    }
  }
  throw new TypeError("start must be 'now', 'oldest', { last: n } or { after: token }");
}

const LAG = { default: 0, gap: 1, close: 2 };
function lagCode(lag) {
  if (lag === undefined) return 0;
  const code = LAG[lag];
  if (code === undefined) throw new TypeError("lag must be 'default', 'gap' or 'close'");
  return code;
}

const PAYLOAD_KINDS = ['json', 'text', 'binary'];
const PAYLOAD_CODES = { json: 0, text: 1, binary: 2 };

/**
 * The message arguments of a publish, Bus#publish's and Publisher#publish's
 * alike, as `{ payload, event, kind }` (event: a string or null; kind: its
 * code). A string is sent as text, a Buffer/Uint8Array/ArrayBuffer as
 * binary, anything else as JSON (JSON.stringify); `options.kind` overrides
 * ('json' validates the bytes), `options.event` names the event type.
 */
function messageArgs(data, options) {
  let kind;
  let payload;
  let event = null;
  if (options !== undefined) {
    event = optionalString(options.event, 'event');
    if (options.kind !== undefined) {
      kind = PAYLOAD_CODES[options.kind];
      if (kind === undefined) throw new TypeError("kind must be 'json', 'text' or 'binary'");
    }
  }
  if (typeof data === 'string') {
    payload = Buffer.from(data, 'utf8');
    if (kind === undefined) kind = 1;
  } else if (Buffer.isBuffer(data) || ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
    payload = toBytes(data, 'data');
    if (kind === undefined) kind = 2;
  } else {
    if (data === undefined) throw new TypeError('data is required');
    payload = Buffer.from(JSON.stringify(data), 'utf8');
    if (kind === undefined) kind = 0;
  }
  return { payload, event, kind };
}

// ---------------------------------------------------------------------------
// Events

/**
 * A message delivered to a subscription. Its fields live in one record per
 * message and drain, shared by its deliveries; the key text and the payload
 * view are made on first use (the payloads of one drain are copied into one
 * block, so a delivery costs no Buffer of its own until `data` is read).
 */
class Message {
  constructor(subscription, info, frames) {
    this.subscription = subscription;
    this._info = info;
    this.frames = frames;
  }
  get type() {
    return 'message';
  }
  get topic() {
    return this._info.topic;
  }
  /** The version key: send it back to resume after this message. */
  get key() {
    const info = this._info;
    if (info.key === null) info.key = `${info.hex}-${info.seq}`;
    return info.key;
  }
  get seq() {
    return info_seq(this._info);
  }
  get event() {
    return this._info.event;
  }
  get time() {
    return this._info.time;
  }
  get kind() {
    return this._info.kind;
  }
  /** The payload (read-only: shared by this message's deliveries in one drain). */
  get data() {
    const info = this._info;
    if (info.data === null) info.data = info.block.subarray(info.offset, info.offset + info.length);
    return info.data;
  }
  /** The payload as UTF-8 text. */
  text() {
    const info = this._info;
    return info.block.toString('utf8', info.offset, info.offset + info.length);
  }
  /** The payload parsed as JSON. */
  json() {
    return JSON.parse(this.text());
  }
  toJSON() {
    return { type: 'message', topic: this.topic, key: this.key, seq: this.seq, event: this.event, time: this.time, kind: this.kind };
  }
}

function info_seq(info) {
  return typeof info.seq === 'number' ? info.seq : Number(info.seq);
}

/** Messages a subscription will never see. */
class Gap {
  constructor(subscription, topic, key, from, lost, frames) {
    this.subscription = subscription;
    this.topic = topic;
    this.key = key;
    this.from = from;
    this.lost = lost;
    this.frames = frames;
  }
  get type() {
    return 'gap';
  }
}

/** The bus closed the subscription (it lagged and its lag policy is 'close'). */
class Closed {
  constructor(subscription, topic, reason, lost) {
    this.subscription = subscription;
    this.topic = topic;
    this.reason = reason;
    this.lost = lost;
  }
  get type() {
    return 'closed';
  }
}

// ---------------------------------------------------------------------------
// Drain machinery: one batch, one events array and one frames struct per
// thread, shared by every poller (a drain copies everything out before it
// returns, so nothing borrowed from the batch outlives the call).

const BATCH_CAPACITY = 1024;
const events = Buffer.alloc(EVENT.size * BATCH_CAPACITY);
const events32 = new Uint32Array(events.buffer, events.byteOffset, events.length >> 2);
const countOut = Buffer.alloc(8);
const framesOut = Buffer.alloc(48);
let sharedBatch = null;

function batch() {
  if (sharedBatch === null) {
    const out = [null];
    check(c.batch_new(out), 'pushbus_batch_new');
    sharedBatch = out[0];
  }
  return sharedBatch;
}

// UINT64_MAX as read by u64() (PUSHBUS_LOST_UNKNOWN).
const LOST_UNKNOWN = 18446744073709552000;
const infoScratch = Buffer.alloc(Math.max(MESSAGE.size, GAP.size));
const info32 = new Uint32Array(infoScratch.buffer, infoScratch.byteOffset, infoScratch.length >> 2);
if (events.byteOffset % 8 !== 0 || infoScratch.byteOffset % 8 !== 0) throw new Error('pushbus: unaligned scratch buffers');

/** A u64 at byte offset `off` (8-aligned) of a Uint32Array view, as a Number. */
function u64v(view, off) {
  const i = off >> 2;
  return view[i] + view[i + 1] * 4294967296;
}

// Topic names repeat within a drain: remember the last one by its bytes'
// address and length. Only within one drain, where every address is live
// (between drains a freed name's address could be reused by another).
let lastTopicPtr = -1;
let lastTopicLen = -1;
let lastTopic = '';
function cachedText(ptr, length) {
  if (ptr === lastTopicPtr && length === lastTopicLen) return lastTopic;
  lastTopic = copyText(ptr, length);
  lastTopicPtr = ptr;
  lastTopicLen = length;
  return lastTopic;
}

function resetTextCache() {
  lastTopicPtr = -1;
  lastTopicLen = -1;
}

const EMPTY = Buffer.alloc(0);

/** Copies one pushbus_message_info (its payload is copied later, with the drain's others). */
function messageInfo(ptr) {
  memcpy(infoScratch, ptr, MESSAGE.size);
  const v = info32;
  const eventLen = u64v(v, MESSAGE.event_len);
  const k = MESSAGE.key >> 2;
  const elo = v[k];
  const ehi = v[k + 1];
  const hex = epochHex(elo, ehi);
  const shi = v[k + 3];
  // Sequences past 2^53 (never in practice) keep their exact text.
  const seq = shi < 0x200000 ? v[k + 2] + shi * 4294967296 : infoScratch.readBigUInt64LE(MESSAGE.key + 8).toString();
  return {
    topic: cachedText(u64v(v, MESSAGE.topic), u64v(v, MESSAGE.topic_len)),
    hex,
    seq,
    key: null,
    time: u64v(v, MESSAGE.time_ms),
    event: eventLen === 0 ? '' : copyText(u64v(v, MESSAGE.event), eventLen),
    kind: PAYLOAD_KINDS[v[MESSAGE.payload_kind >> 2]],
    dataPtr: u64v(v, MESSAGE.data),
    length: u64v(v, MESSAGE.data_len),
    block: EMPTY,
    offset: 0,
    data: null,
  };
}

/** Copies the payloads of a drain's messages into one block. */
function copyPayloads(infos) {
  let total = 0;
  for (let i = 0; i < infos.length; i++) total += infos[i].length;
  if (total === 0) return;
  const block = Buffer.allocUnsafe(total);
  // The block's bytes never move (ArrayBuffer backing stores are not moved
  // by the GC) and `block` is referenced throughout.
  const base = Number(koffi.address(block));
  let offset = 0;
  for (let i = 0; i < infos.length; i++) {
    const info = infos[i];
    if (info.length > 0) memcpyAt(base + offset, info.dataPtr, info.length);
    info.block = block;
    info.offset = offset;
    offset += info.length;
  }
}

// Frames shared by several subscribers of one message in one batch are
// copied once: keyed by the address of the SSE frame, valid for one drain.
const framesCache = new Map();
// A drain's message records and frames by pushbus_message_info address,
// valid for one drain (see Poller#drainOnce).
const infoCache = new Map();

function framesAt(b, index) {
  const status = c.batch_frames(b, index, framesOut);
  if (status !== 0) return undefined;
  const ssePtr = u64(framesOut, 0);
  const cached = framesCache.get(ssePtr);
  if (cached !== undefined) return cached;
  const frames = Object.freeze({
    sse: copyBytes(ssePtr, u64(framesOut, 8)),
    envelope: copyBytes(u64(framesOut, 16), u64(framesOut, 24)),
    ndjson: copyBytes(u64(framesOut, 32), u64(framesOut, 40)),
  });
  framesCache.set(ssePtr, frames);
  return frames;
}

// ---------------------------------------------------------------------------
// Ownership: a Cell holds a native pointer and frees it once, whether by an
// explicit close() or by the FinalizationRegistry. close() clears the pointer
// and unregisters the cell, so the finalizer never sees a freed pointer.

class Cell {
  constructor(ptr, free) {
    this.ptr = ptr;
    this.free = free;
    /** A Set of its owner's cells (a bus's publishers) it leaves when released. */
    this.group = null;
  }
  /** The pointer, for one call; throws the binding's closed error if released. */
  get(operation) {
    const ptr = this.ptr;
    if (ptr === null) throw closedError(operation);
    return ptr;
  }
  release() {
    const ptr = this.ptr;
    if (ptr === null) return false;
    this.ptr = null;
    if (this.group !== null) this.group.delete(this);
    this.free(ptr);
    return true;
  }
}

const registry = new FinalizationRegistry((cell) => {
  cell.release();
});

function track(owner, cell) {
  registry.register(owner, cell, cell);
}

function untrack(cell) {
  registry.unregister(cell);
  return cell.release();
}

// ---------------------------------------------------------------------------
// Async iteration with bounded buffering

const CONSUMER_EVENTS = new Set(['message', 'gap', 'closed']);

/**
 * Events waiting for an async iterator (or for a consumer to attach). When
 * it holds `highWaterMark` events its poller stops draining until it is
 * consumed down to half of that: a slow consumer then falls behind in the
 * bus's replay ring (and gets a gap), instead of growing memory here.
 */
class EventQueue {
  constructor(poller) {
    this.poller = poller;
    this.items = [];
    this.head = 0;
    this.waiter = null;
    this.ended = false;
    this.over = false;
  }
  get size() {
    return this.items.length - this.head;
  }
  push(event) {
    if (this.ended) return;
    if (this.waiter !== null) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve({ value: event, done: false });
      return;
    }
    this.items.push(event);
    if (!this.over && this.size >= this.poller._highWaterMark) {
      this.over = true;
      this.poller._overflow(1);
    }
  }
  shift() {
    const event = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.over && this.size <= this.poller._highWaterMark >> 1) {
      this.over = false;
      this.poller._overflow(-1);
    }
    return event;
  }
  next() {
    if (this.size > 0) return Promise.resolve({ value: this.shift(), done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== null) return Promise.reject(new Error('pushbus: next() called before the previous one resolved'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
  /** Ends iteration once the queued events are consumed. */
  end() {
    this.ended = true;
    if (this.waiter !== null) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve({ value: undefined, done: true });
    }
  }
  /** Drops what is queued (when the owner closes and nobody will read it). */
  clear() {
    if (this.over) {
      this.over = false;
      this.poller._overflow(-1);
    }
    this.items = [];
    this.head = 0;
  }
}

function iteratorOver(queue, onStart, onEnd) {
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      onEnd();
    }
  };
  onStart();
  return {
    next() {
      return queue.next().then((result) => {
        if (result.done) finish();
        return result;
      });
    },
    return(value) {
      finish();
      return Promise.resolve({ value, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

// ---------------------------------------------------------------------------
// Bus

const BUS_OPTIONS = {
  ringMaxMessages: ['config_set_ring_max_messages', 'size'],
  ringMaxBytes: ['config_set_ring_max_bytes', 'size'],
  ringMaxAgeMs: ['config_set_ring_max_age_ms', 'size'],
  replayBudgetBytes: ['config_set_replay_budget_bytes', 'size'],
  maxMessageBytes: ['config_set_max_message_bytes', 'size'],
  maxTopics: ['config_set_max_topics', 'size'],
  maxTopicLen: ['config_set_max_topic_len', 'size'],
  topicIdleTtlMs: ['config_set_topic_idle_ttl_ms', 'size'],
  lagPolicy: ['config_set_lag_policy', 'lag'],
  maxSubscriptionsPerPoller: ['config_set_max_subscriptions_per_poller', 'size'],
  presenceEvents: ['config_set_presence_events', 'bool'],
  maxPresenceInfoBytes: ['config_set_max_presence_info_bytes', 'size'],
  janitorIntervalMs: ['config_set_janitor_interval_ms', 'size'],
};

function makeConfig(options) {
  const out = [null];
  check(c.config_new(out), 'pushbus_config_new');
  const config = out[0];
  try {
    for (const [name, value] of Object.entries(options)) {
      const entry = BUS_OPTIONS[name];
      if (entry === undefined) throw new TypeError(`unknown Bus option ${name}`);
      if (value === undefined) continue;
      const [setter, type] = entry;
      let arg;
      if (type === 'bool') {
        if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
        arg = value;
      } else if (type === 'lag') {
        if (value !== 'gap' && value !== 'close') throw new TypeError(`${name} must be 'gap' or 'close'`);
        arg = LAG[value];
      } else {
        arg = nonNegativeInteger(value, name);
      }
      check(c[setter](config, arg), `Bus option ${name}`);
    }
  } catch (error) {
    c.config_free(config);
    throw error;
  }
  return config;
}

/**
 * A bus: topics, replay rings, presence. Publishing is synchronous and never
 * waits for subscribers. Its subscribers are Pollers (`bus.poller()`), or
 * the bus's own default poller (`bus.subscribe()`, `bus.on('message')`,
 * `for await (const event of bus)`).
 */
class Bus extends EventEmitter {
  #cell;
  #pollers = new Set();
  // The cells of its open publishers (a cell leaves when released, by
  // close() or by the finalizer, so dropped publishers are not kept here).
  #publishers = new Set();
  #default = null;
  #forwarders = new Map();

  constructor(options = {}) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const config = makeConfig(options);
    const out = [null];
    let status;
    try {
      status = c.bus_new(config, out);
    } finally {
      c.config_free(config);
    }
    check(status, 'pushbus_bus_new');
    this.#cell = new Cell(out[0], c.bus_free);
    track(this, this.#cell);
    // Listeners of message, gap and closed on the bus are listeners of its
    // default poller, forwarded.
    this.on('newListener', (type) => {
      if (!CONSUMER_EVENTS.has(type) || this.#forwarders.has(type) || this.closed) return;
      const forward = (event) => this.emit(type, event);
      this.#forwarders.set(type, forward);
      this.defaultPoller.on(type, forward);
    });
    this.on('removeListener', (type) => {
      const forward = this.#forwarders.get(type);
      if (forward === undefined || this.listenerCount(type) > 0) return;
      this.#forwarders.delete(type);
      if (this.#default !== null) this.#default.off(type, forward);
    });
  }

  get closed() {
    return this.#cell.ptr === null;
  }

  /** @internal the native pointer; throws when closed. */
  _ptr(operation) {
    return this.#cell.get(operation);
  }

  /**
   * Publishes to one topic and returns the message's version key. A string
   * is sent as text, a Buffer/Uint8Array as binary, anything else as JSON
   * (JSON.stringify); `kind` overrides ('json' validates the bytes).
   */
  publish(topic, data, options) {
    this._ptr('publish');
    mustString(topic, 'topic');
    const { payload, event, kind } = messageArgs(data, options);
    // The pointer is read after the arguments: their user code (toJSON)
    // may have closed the bus.
    const bus = this._ptr('publish');
    check(
      c.publish(bus, topic, len(topic), event, len(event), kind, payload, payload.length, scratchKey),
      'publish',
      topic
    );
    return keyText(scratchKey, 0);
  }

  /**
   * A Publisher for `topic` (created if needed): it publishes without
   * looking the name up, and keeps the topic from expiring as idle while
   * it is open.
   */
  publisher(topic) {
    return new Publisher(this, topic);
  }

  /** @internal a new publisher's cell, released by close() with the bus's. */
  _own(cell) {
    cell.group = this.#publishers;
    this.#publishers.add(cell);
  }

  /** The topic's newest key (reading from it gets only later messages). */
  head(topic) {
    const bus = this._ptr('head');
    mustString(topic, 'topic');
    check(c.bus_head(bus, topic, len(topic), scratchKey), 'head', topic);
    return keyText(scratchKey, 0);
  }

  /** A snapshot of the bus's counters. */
  stats() {
    const bus = this._ptr('stats');
    const out = Buffer.alloc(56);
    check(c.bus_stats(bus, out), 'stats');
    return {
      published: u64(out, 0),
      delivered: u64(out, 8),
      gaps: u64(out, 16),
      lagCloses: u64(out, 24),
      topics: u64(out, 32),
      subscriptions: u64(out, 40),
      replayBytes: u64(out, 48),
    };
  }

  /** Runs the janitor's work now (presence leases, aged messages, idle topics). */
  sweep() {
    check(c.bus_sweep(this._ptr('sweep')), 'sweep');
  }

  /**
   * Short poll of one topic: up to `max` messages after `start`, at once.
   * Returns the answer's JSON (`{"key":..,"messages":[..],"gap":..}`) as a
   * Buffer, with the key to poll from next. Long polls are subscriptions:
   * use a Poller (a blocking poll would block the event loop).
   */
  poll(topic, options = {}) {
    const bus = this._ptr('poll');
    mustString(topic, 'topic');
    const max = options.max === undefined ? 100 : nonNegativeInteger(options.max, 'max');
    const out = [null];
    check(c.poll(bus, topic, len(topic), toStart(options.start), max, 0, out), 'poll', topic);
    const result = out[0];
    try {
      check(c.poll_result_json(result, scratchOut, scratchOut.subarray(8)), 'poll');
      const json = borrowedBytes();
      const info = {};
      check(c.poll_result_info(result, info), 'poll');
      const key = Buffer.alloc(16);
      key.writeBigUInt64LE(BigInt(info.key.epoch), 0);
      key.writeBigUInt64LE(BigInt(info.key.seq), 8);
      return { json, count: Number(info.count), key: keyText(key, 0), gap: info.gap };
    } finally {
      c.poll_result_free(result);
    }
  }

  /** Makes `client` present in `topic` for `ttlMs` (polling clients). */
  lease(topic, client, ttlMs, info) {
    const bus = this._ptr('lease');
    mustString(topic, 'topic');
    mustString(client, 'client');
    const infoText = info === undefined || info === null ? null : typeof info === 'string' ? info : JSON.stringify(info);
    check(
      c.presence_lease(bus, topic, len(topic), client, len(client), infoText, len(infoText), nonNegativeInteger(ttlMs, 'ttlMs')),
      'lease',
      topic
    );
  }

  /** Removes `client` from `topic`'s presence; says whether it was present. */
  leave(topic, client) {
    const bus = this._ptr('leave');
    mustString(topic, 'topic');
    mustString(client, 'client');
    scratchOut[0] = 0;
    check(c.presence_leave(bus, topic, len(topic), client, len(client), scratchOut), 'leave', topic);
    return scratchOut[0] !== 0;
  }

  /** The clients present in `topic`, as the JSON text pushbus renders. */
  presenceJson(topic) {
    const bus = this._ptr('presence');
    mustString(topic, 'topic');
    check(c.presence_json(bus, topic, len(topic), scratchBuf), 'presence', topic);
    return takeBuf();
  }

  /** The clients present in `topic`: `[{ client, info, since }]`, sorted by client. */
  presence(topic) {
    return JSON.parse(this.presenceJson(topic).toString('utf8'));
  }

  /** A new Poller: one consumer's subscriptions, drained on this event loop. */
  poller(options) {
    const poller = new Poller(this, options);
    const ref = new WeakRef(poller);
    this.#pollers.add(ref);
    poller.once('close', () => this.#pollers.delete(ref));
    return poller;
  }

  /** The bus's own poller, made on first use. */
  get defaultPoller() {
    if (this.#default === null || this.#default.closed) {
      this.#default = this.poller();
    }
    return this.#default;
  }

  /** Subscribes on the bus's default poller (see Poller#subscribe). */
  subscribe(selectors, options) {
    return this.defaultPoller.subscribe(selectors, options);
  }

  /** Every event of the default poller's subscriptions. */
  [Symbol.asyncIterator]() {
    return this.defaultPoller[Symbol.asyncIterator]();
  }

  /**
   * Closes every poller and publisher made from this bus, then releases
   * the bus. Idempotent.
   */
  close() {
    if (this.closed) return;
    for (const ref of [...this.#pollers]) ref.deref()?.close();
    this.#pollers.clear();
    for (const cell of [...this.#publishers]) untrack(cell);
    this.#publishers.clear();
    untrack(this.#cell);
    this.emit('close');
  }

  [Symbol.dispose]() {
    this.close();
  }
}

// ---------------------------------------------------------------------------
// Publisher

/**
 * Publishes to one topic, found once when it is made: a publish skips the
 * topic lookup. While open it keeps its topic from expiring as idle (so the
 * topic's keys stay valid). Made by `bus.publisher(topic)`; closed by
 * close(), by its bus's close(), or freed by the finalizer when dropped.
 */
class Publisher {
  #cell;
  #topic;

  constructor(bus, topic) {
    if (!(bus instanceof Bus)) throw new TypeError('a Publisher is made by bus.publisher()');
    const ptr = bus._ptr('publisher');
    mustString(topic, 'topic');
    const out = [null];
    check(c.publisher_new(ptr, topic, len(topic), out), 'publisher', topic);
    this.bus = bus;
    this.#topic = topic;
    this.#cell = new Cell(out[0], c.publisher_free);
    track(this, this.#cell);
    bus._own(this.#cell);
  }

  /** The topic it publishes to. */
  get topic() {
    return this.#topic;
  }

  get closed() {
    return this.#cell.ptr === null;
  }

  /**
   * Publishes to the publisher's topic and returns the message's version
   * key; arguments as Bus#publish's, without the topic.
   */
  publish(data, options) {
    this.#cell.get('publish');
    const { payload, event, kind } = messageArgs(data, options);
    // Read after the arguments: their user code (toJSON) may have closed it.
    const ptr = this.#cell.get('publish');
    check(
      c.publisher_publish(ptr, event, len(event), kind, payload, payload.length, scratchKey),
      'publish',
      this.#topic
    );
    return keyText(scratchKey, 0);
  }

  /** Releases the publisher (its topic may then expire when idle). Idempotent. */
  close() {
    if (this.#cell.ptr === null) return;
    untrack(this.#cell);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

// ---------------------------------------------------------------------------
// Poller

/**
 * One consumer's subscriptions and their pollable fd, drained on the event
 * loop while anyone consumes its events: 'message', 'gap' or 'closed'
 * listeners on it or on one of its subscriptions, or an async iterator. It
 * keeps the process alive while it is watched, unless unref()'d.
 */
class Poller extends EventEmitter {
  #cell;
  #subs = new Map();
  #consumers = 0; // listeners and iterators of the poller and its subscriptions
  #ownListeners = 0; // consumer listeners on the poller itself
  #iterQueue = null;
  #overflowing = 0;
  #handle = null;
  #fd = -1;
  #scheduled = false;
  #refed = true;
  #backlog = null;
  #frames;
  #budgetMs;

  constructor(bus, options = {}) {
    super();
    if (!(bus instanceof Bus)) throw new TypeError('a Poller is made by bus.poller()');
    const out = [null];
    check(c.poller_new(bus._ptr('poller'), out), 'pushbus_poller_new');
    this.bus = bus;
    this.#cell = new Cell(out[0], c.poller_free);
    track(this, this.#cell);
    this.#frames = options.frames === true;
    this._highWaterMark = options.highWaterMark === undefined ? 4096 : nonNegativeInteger(options.highWaterMark, 'highWaterMark') || 1;
    this.#budgetMs = options.budgetMs === undefined ? 2 : Number(options.budgetMs);
    this.on('newListener', (type) => {
      if (CONSUMER_EVENTS.has(type)) {
        this.#ownListeners++;
        this._consumers(1);
      }
    });
    this.on('removeListener', (type) => {
      if (CONSUMER_EVENTS.has(type)) {
        this.#ownListeners--;
        this._consumers(-1);
      }
    });
  }

  get closed() {
    return this.#cell.ptr === null;
  }

  /** Whether the fd is being watched on the event loop now. */
  get watching() {
    return this.#handle !== null;
  }

  /** Open subscriptions. */
  get subscriptions() {
    return [...this.#subs.values()];
  }

  _ptr(operation) {
    return this.#cell.get(operation);
  }

  /**
   * Subscribes to topics and patterns (`chat.lobby`, `chat.*`, `chat.>`).
   * `start`: 'now' (default), 'oldest', `{ last: n }` or `{ after: token }`;
   * `lag`: 'default', 'gap' or 'close'.
   */
  subscribe(selectors, options = {}) {
    const poller = this._ptr('subscribe');
    const list = typeof selectors === 'string' ? [selectors] : Array.from(selectors || []);
    const strs = list.map((s, i) => {
      mustString(s, `selectors[${i}]`);
      return { ptr: s, len: len(s) };
    });
    const idOut = Buffer.alloc(8);
    check(
      c.subscribe(poller, strs.length ? strs : null, strs.length, toStart(options.start), lagCode(options.lag), idOut),
      'subscribe',
      list.join(', ')
    );
    const id = u64(idOut, 0);
    const sub = new Subscription(this, id, Object.freeze(list));
    this.#subs.set(id, sub);
    return sub;
  }

  /** The pollable fd (pipe mode; owned by the poller: never read or close it). */
  get fd() {
    if (this.#fd < 0) {
      check(c.poller_fd(this._ptr('fd'), 1, scratchOut), 'pushbus_poller_fd');
      this.#fd = scratchOut.readInt32LE(0);
    }
    return this.#fd;
  }

  /**
   * Drains up to `max` events now, without blocking, and returns them
   * without emitting them (for pollers nobody listens to).
   */
  drain(max = BATCH_CAPACITY) {
    const out = [];
    let left = nonNegativeInteger(max, 'max');
    while (left > 0) {
      const n = this.#drainOnce(Math.min(left, BATCH_CAPACITY), out);
      left -= n;
      if (n < BATCH_CAPACITY) break;
    }
    c.batch_release(batch());
    for (const event of out) {
      if (event instanceof Closed && event.subscription) event.subscription._closedByBus();
    }
    return out;
  }

  /**
   * Blocks the calling thread until something may be drained or `timeoutMs`
   * passes. Only for worker threads that own this poller: on the main event
   * loop, listen or iterate instead.
   */
  waitSync(timeoutMs) {
    const ms = timeoutMs === undefined || timeoutMs < 0 ? -1 : Math.floor(timeoutMs);
    check(c.poller_wait(this._ptr('waitSync'), ms, scratchOut), 'waitSync');
    return scratchOut[0] !== 0;
  }

  #drainOnce(capacity, out) {
    const b = batch();
    check(c.poller_drain(this._ptr('drain'), b, events, capacity, countOut), 'drain');
    const n = u64(countOut, 0);
    const withFrames = this.#frames;
    resetTextCache();
    // Deliveries of one message share its pushbus_message_info (and its
    // payload): each distinct info is copied out once per drain, keyed by
    // its address, and its deliveries share the decoded fields, the payload
    // Buffer and the frames. A subscription gets a run of messages before
    // the next one gets the same run, so consecutive deliveries alternate
    // between infos: the map, not just the last address, saves a native
    // call (or two, with frames) per delivery.
    let infoPtr = -1;
    let shared = null;
    let sharedFrames;
    const infos = [];
    for (let i = 0, off = 0; i < n; i++, off += EVENT.size) {
      const kind = events32[off >> 2];
      const sub = this.#subs.get(u64v(events32, off + EVENT.subscription)) || null;
      if (kind === 0) {
        const ptr = u64v(events32, off + EVENT.message);
        if (ptr !== infoPtr) {
          let entry = infoCache.get(ptr);
          if (entry === undefined) {
            const info = messageInfo(ptr);
            infos.push(info);
            entry = { info, frames: withFrames ? framesAt(b, i) : undefined };
            infoCache.set(ptr, entry);
          }
          shared = entry.info;
          sharedFrames = entry.frames;
          infoPtr = ptr;
        }
        out.push(new Message(sub, shared, sharedFrames));
      } else {
        memcpy(infoScratch, u64v(events32, off + EVENT.gap), GAP.size);
        const topic = cachedText(u64(infoScratch, GAP.topic), u64(infoScratch, GAP.topic_len));
        const lost = u64(infoScratch, GAP.lost);
        if (kind === 2) {
          const reason = infoScratch.readUInt32LE(GAP.close_reason) === 1 ? 'lagged' : 'unknown';
          out.push(new Closed(sub, topic, reason, lost === LOST_UNKNOWN ? null : lost));
        } else {
          out.push(
            new Gap(
              sub,
              topic,
              keyText(infoScratch, GAP.to),
              keyText(infoScratch, GAP.from),
              lost === LOST_UNKNOWN ? null : lost,
              withFrames ? framesAt(b, i) : undefined
            )
          );
        }
      }
    }
    copyPayloads(infos);
    infoCache.clear();
    if (withFrames) framesCache.clear();
    return n;
  }

  // --- watching the fd ----------------------------------------------------

  /** @internal */
  _consumers(delta) {
    this.#consumers += delta;
    this.#updateWatch();
  }

  /** @internal a queue went over (+1) or back under (-1) its high-water mark. */
  _overflow(delta) {
    this.#overflowing += delta;
    this.#updateWatch();
    if (delta < 0 && this.#overflowing === 0) this.#schedule();
  }

  #updateWatch() {
    const want = this.#cell.ptr !== null && this.#consumers > 0 && this.#overflowing === 0;
    if (want && this.#handle === null) {
      const fd = this.fd;
      this.#handle = koffi.node.poll(fd, { readable: true }, (status) => this.#onPoll(status));
      if (!this.#refed) this.#handle.unref();
    } else if (!want && this.#handle !== null) {
      const handle = this.#handle;
      this.#handle = null;
      handle.close();
    }
  }

  #onPoll(status) {
    // Called by libuv outside any Node callback scope: do nothing here but
    // schedule the drain (see the top of this file).
    if (status < 0) this.#pollError = status;
    this.#schedule();
  }

  #pollError = 0;

  #schedule() {
    if (this.#scheduled || this.#cell.ptr === null) return;
    this.#scheduled = true;
    const immediate = setImmediate(() => this.#run());
    if (!this.#refed) immediate.unref();
  }

  #run() {
    this.#scheduled = false;
    if (this.#cell.ptr === null) return;
    if (this.#pollError !== 0) {
      const status = this.#pollError;
      this.#pollError = 0;
      const error = new Error(`pushbus: watching the poller's fd failed (libuv status ${status})`);
      error.code = 'PUSHBUS_POLL';
      this.emit('error', error);
      return;
    }
    const deadline = performance.now() + this.#budgetMs;
    if (this.#backlog !== null) {
      const backlog = this.#backlog;
      this.#backlog = null;
      this.#dispatchAll(backlog, 0);
    }
    for (;;) {
      if (this.#cell.ptr === null || this.#overflowing > 0 || this.#consumers === 0) break;
      const out = [];
      const n = this.#drainOnce(BATCH_CAPACITY, out);
      this.#dispatchAll(out, 0);
      if (n < BATCH_CAPACITY || performance.now() >= deadline) break;
    }
    // Let the rings evict what this batch still referenced.
    c.batch_release(batch());
  }

  #dispatchAll(list, start) {
    let i = start;
    try {
      for (; i < list.length; i++) this.#dispatch(list[i]);
    } catch (error) {
      // A listener threw: keep the rest for the next turn, then rethrow so
      // the error surfaces as any listener's error would.
      if (i + 1 < list.length) {
        this.#backlog = list.slice(i + 1);
        this.#schedule();
      }
      throw error;
    }
  }

  #dispatch(event) {
    const sub = event.subscription;
    if (sub === null || sub.closed) {
      // Its subscription was closed in JavaScript meanwhile.
      return;
    }
    const type = event.type;
    let consumed = false;
    if (sub._listening > 0 && sub.emit(type, event)) consumed = true;
    if (this.#ownListeners > 0 && this.emit(type, event)) consumed = true;
    if (this.#iterQueue !== null) {
      this.#iterQueue.push(event);
      consumed = true;
    }
    if (sub._iterating || (!consumed && sub._listening === 0 && this.#ownListeners === 0)) {
      sub._queue.push(event);
    }
    if (type === 'closed') sub._closedByBus();
  }

  /** @internal a subscription's queued events for its new listeners. */
  _flushLater(sub) {
    setImmediate(() => {
      while (!sub._iterating && sub._listening > 0 && sub._queue.size > 0) {
        const event = sub._queue.shift();
        sub.emit(event.type, event);
      }
    });
  }

  /** @internal */
  _forget(sub) {
    this.#subs.delete(sub.id);
  }

  /** Every event of every subscription of this poller. Breaking out closes the poller. */
  [Symbol.asyncIterator]() {
    if (this.#iterQueue !== null) throw new Error('pushbus: this poller is already being iterated');
    this._ptr('iterate');
    const queue = new EventQueue(this);
    this.#iterQueue = queue;
    const end = () => {
      if (this.#iterQueue === queue) this.#iterQueue = null;
      queue.clear();
      this._consumers(-1);
      this.close();
    };
    this.once('close', () => queue.end());
    return iteratorOver(queue, () => this._consumers(1), end);
  }

  /** Keeps the process alive while watched (the default). */
  ref() {
    this.#refed = true;
    this.#handle?.ref();
    return this;
  }

  /** Lets the process exit even while this poller is watched. */
  unref() {
    this.#refed = false;
    this.#handle?.unref();
    return this;
  }

  /**
   * Closes every subscription (releasing their presence), stops watching
   * and frees the poller and its fd. Idempotent.
   */
  close() {
    if (this.#cell.ptr === null) return;
    if (this.#handle !== null) {
      const handle = this.#handle;
      this.#handle = null;
      handle.close(); // uv_poll_stop now: the fd is out of epoll before it is closed below
    }
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    this.#backlog = null;
    untrack(this.#cell);
    this.#fd = -1;
    for (const sub of subs) sub._closedWithPoller();
    this.#iterQueue?.end();
    this.emit('close');
  }

  [Symbol.dispose]() {
    this.close();
  }
}

// ---------------------------------------------------------------------------
// Subscription

/**
 * A cursor into its topics' rings. Emits 'message', 'gap', 'closed' (the
 * bus closed it) and 'close'; iterate it with `for await`. Breaking out of
 * the loop closes it.
 */
class Subscription extends EventEmitter {
  #closed = false;

  constructor(poller, id, selectors) {
    super();
    this.poller = poller;
    this.id = id;
    this.selectors = selectors;
    this._listening = 0;
    this._iterating = false;
    this._queue = new EventQueue(poller);
    this.on('newListener', (type) => {
      if (!CONSUMER_EVENTS.has(type)) return;
      this._listening++;
      if (!this.#closed) this.poller._consumers(1);
      if (this._queue.size > 0 && !this._iterating) this.poller._flushLater(this);
    });
    this.on('removeListener', (type) => {
      if (!CONSUMER_EVENTS.has(type)) return;
      this._listening--;
      if (!this.#closed) this.poller._consumers(-1);
    });
  }

  get closed() {
    return this.#closed;
  }

  /** The resume token: a key for one topic, else a composite token. */
  token() {
    if (this.#closed) throw closedError('token');
    check(c.subscription_token(this.poller._ptr('token'), this.id, scratchBuf), 'token');
    return takeBuf().toString('utf8');
  }

  /** Makes `client` present in `topic` while this subscription is open. */
  join(topic, client, info) {
    if (this.#closed) throw closedError('join');
    mustString(topic, 'topic');
    mustString(client, 'client');
    const infoText = info === undefined || info === null ? null : typeof info === 'string' ? info : JSON.stringify(info);
    check(
      c.presence_join(this.poller._ptr('join'), this.id, topic, len(topic), client, len(client), infoText, len(infoText)),
      'join',
      topic
    );
  }

  /** Unsubscribes (releasing the presence it held). Idempotent. */
  close() {
    if (this.#closed) return;
    const ptr = this.poller.closed ? null : this.poller._ptr('close');
    if (ptr !== null) {
      const status = c.unsubscribe(ptr, this.id);
      if (status !== 0 && status !== Status.PUSHBUS_UNKNOWN_SUBSCRIPTION) check(status, 'unsubscribe');
    }
    this.#finish(true);
  }

  /** @internal the bus closed it (a 'closed' event was dispatched). */
  _closedByBus() {
    if (!this.#closed) this.#finish(false);
  }

  /** @internal its poller closed. */
  _closedWithPoller() {
    if (!this.#closed) this.#finish(true);
  }

  #finish(dropQueued) {
    this.#closed = true;
    this.poller._forget(this);
    this.poller._consumers(-(this._listening + (this._iterating ? 1 : 0)));
    if (dropQueued && !this._iterating) this._queue.clear();
    this._queue.end();
    this.emit('close');
  }

  [Symbol.asyncIterator]() {
    if (this._iterating) throw new Error('pushbus: this subscription is already being iterated');
    if (this.#closed && this._queue.size === 0) {
      return iteratorOver(this._queue, () => {}, () => {});
    }
    const queue = this._queue;
    return iteratorOver(
      queue,
      () => {
        this._iterating = true;
        if (!this.#closed) this.poller._consumers(1);
      },
      () => {
        const wasClosed = this.#closed;
        this._iterating = false;
        if (!wasClosed) {
          this.poller._consumers(-1);
          this.close();
        }
        queue.clear();
      }
    );
  }

  [Symbol.dispose]() {
    this.close();
  }
}

// ---------------------------------------------------------------------------
// Framing helpers for servers (SSE, XHR, iframe, gaps, WebSocket handshake)

function bufCall(fn, operation, ...args) {
  check(fn(...args, scratchBuf), operation);
  return takeBuf();
}

const sseHeartbeat = (() => {
  check(c.sse_heartbeat(scratchOut, scratchOut.subarray(8)), 'sse heartbeat');
  return borrowedBytes();
})();
const iframeScriptClose = (() => {
  check(c.iframe_script_close(scratchOut, scratchOut.subarray(8)), 'iframe script close');
  return borrowedBytes();
})();

const framing = Object.freeze({
  /** `retry: <ms>` and 2 KiB of padding: the first bytes of an SSE stream. */
  ssePreamble(retryMs = 3000) {
    return bufCall(c.sse_preamble, 'ssePreamble', nonNegativeInteger(retryMs, 'retryMs'));
  },
  /** `: ping` and a blank line. */
  sseHeartbeat,
  /** One SSE event; `id` and `event` may be null. */
  sseEvent(id, event, data) {
    const i = optionalString(id, 'id');
    const e = optionalString(event, 'event');
    const d = mustString(data, 'data');
    return bufCall(c.sse_event, 'sseEvent', i, len(i), e, len(e), d, len(d));
  },
  /** A gap's JSON envelope: `from` is the client's key as sent, `to` a key text. */
  gapEnvelope(topic, from, to) {
    mustString(topic, 'topic');
    mustString(from, 'from');
    const key = parseKey(to);
    return bufCall(c.gap_envelope, 'gapEnvelope', topic, len(topic), from, len(from), key);
  },
  /** A line of 2 KiB of spaces: the first bytes of an XHR (NDJSON) stream. */
  xhrPreamble() {
    return bufCall(c.xhr_preamble, 'xhrPreamble');
  },
  /** Whether an iframe callback name is acceptable (else answer 400). */
  isIframeCallback(callback) {
    if (typeof callback !== 'string') return false;
    return c.iframe_check_callback(callback, len(callback)) === 0;
  },
  /** A minimal HTML head and 2 KiB of padding. */
  iframePreamble() {
    return bufCall(c.iframe_preamble, 'iframePreamble');
  },
  /** `<script>parent.<callback>(` */
  iframeScriptOpen(callback) {
    mustString(callback, 'callback');
    return bufCall(c.iframe_script_open, 'iframeScriptOpen', callback, len(callback));
  },
  /** `)</script>` and a newline. */
  iframeScriptClose,
  /**
   * An EventSource's resume point from the `Last-Event-ID` header and the
   * `lastEventId` query parameter (the header wins): 'now' when neither is
   * given, else `{ after: token }`. Throws PUSHBUS_BAD_TOKEN for garbage
   * (answer it with a gap from the oldest message, not an error status).
   */
  lastEventId(header, query) {
    const h = optionalString(header, 'header');
    const q = optionalString(query, 'query');
    const out = {};
    check(c.last_event_id(h, len(h), q, len(q), out), 'lastEventId');
    if (out.kind === START_NOW) return 'now';
    return { after: h !== null ? h : q };
  },
  /** The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`. */
  wsAccept(key) {
    mustString(key, 'key');
    const out = Buffer.alloc(28);
    check(c.ws_accept(key, len(key), out), 'wsAccept');
    return out.toString('latin1');
  },
});

// ---------------------------------------------------------------------------
// Access tokens

/**
 * Verifies an HS256 JWT and returns `{ sub, exp, allows(name) }`. Throws
 * PushbusError PUSHBUS_INVALID_JWT or PUSHBUS_EXPIRED_JWT.
 */
function verifyToken(token, secret, nowUnixSecs = 0) {
  mustString(token, 'token');
  const key = toBytes(secret, 'secret');
  const out = [null];
  check(c.jwt_verify(token, len(token), key, key.length, nonNegativeInteger(nowUnixSecs, 'nowUnixSecs'), out), 'verifyToken');
  const claims = out[0];
  try {
    check(c.claims_sub(claims, scratchOut, scratchOut.subarray(8)), 'verifyToken');
    const subPtr = u64(scratchOut, 0);
    const sub = subPtr === 0 ? null : copyText(subPtr, u64(scratchOut, 8));
    check(c.claims_exp(claims, scratchOut), 'verifyToken');
    const exp = u64(scratchOut, 0);
    // Claims are immutable: answer allows() from a copy held in JS, so no
    // native object outlives this call.
    const cell = new Cell(claims, c.claims_free);
    const allows = (name) => {
      mustString(name, 'name');
      check(c.claims_allows(cell.get('allows'), name, len(name), scratchOut), 'allows');
      return scratchOut[0] !== 0;
    };
    const result = { sub, exp: exp === 0 ? null : exp, allows, free: () => untrack(cell) };
    track(result, cell);
    return result;
  } catch (error) {
    c.claims_free(claims);
    throw error;
  }
}

// ---------------------------------------------------------------------------

const version = c.version();

module.exports = {
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
  libraryPath: native.libraryPath,
  _internal: { native, batch, keyText },
};
module.exports.default = module.exports;
