// Type declarations of the `pushbus` package (both entry points).

import { EventEmitter } from 'node:events';

/** Status names of include/pushbus.h, plus the binding's own PUSHBUS_CLOSED. */
export type StatusName =
  | 'PUSHBUS_OK'
  | 'PUSHBUS_NULL_POINTER'
  | 'PUSHBUS_INVALID_UTF8'
  | 'PUSHBUS_INVALID_TOPIC'
  | 'PUSHBUS_INVALID_PATTERN'
  | 'PUSHBUS_PATTERN_NOT_ALLOWED'
  | 'PUSHBUS_INVALID_EVENT'
  | 'PUSHBUS_MESSAGE_TOO_LARGE'
  | 'PUSHBUS_INVALID_JSON'
  | 'PUSHBUS_INVALID_PRESENCE'
  | 'PUSHBUS_BAD_TOKEN'
  | 'PUSHBUS_TOO_MANY_TOPICS'
  | 'PUSHBUS_TOO_MANY_SUBSCRIPTIONS'
  | 'PUSHBUS_UNKNOWN_SUBSCRIPTION'
  | 'PUSHBUS_UNKNOWN_TOPIC'
  | 'PUSHBUS_NO_TOPICS'
  | 'PUSHBUS_INVALID_CONFIG'
  | 'PUSHBUS_IO'
  | 'PUSHBUS_INVALID_JWT'
  | 'PUSHBUS_EXPIRED_JWT'
  | 'PUSHBUS_INVALID_ARGUMENT'
  | 'PUSHBUS_BUFFER_TOO_SMALL'
  | 'PUSHBUS_WS_PROTOCOL'
  | 'PUSHBUS_PANIC';

/** Status codes by name. */
export declare const Status: Readonly<Record<StatusName, number>>;

/** An error from pushbus. */
export declare class PushbusError extends Error {
  /** The status name (`PUSHBUS_INVALID_TOPIC`), or `PUSHBUS_CLOSED` for a call on a closed object. */
  readonly code: StatusName | 'PUSHBUS_CLOSED';
  /** The status number (-1 for PUSHBUS_CLOSED). */
  readonly status: number;
  /** The operation that failed (`publish`, `subscribe`, ...). */
  readonly operation: string;
}

export type PayloadKind = 'json' | 'text' | 'binary';
export type LagPolicy = 'gap' | 'close';
/** Where a subscription or poll starts reading. */
export type Start = 'now' | 'oldest' | { last: number } | { after: string };

export interface BusOptions {
  ringMaxMessages?: number;
  ringMaxBytes?: number;
  /** 0: no age limit. */
  ringMaxAgeMs?: number;
  replayBudgetBytes?: number;
  maxMessageBytes?: number;
  maxTopics?: number;
  maxTopicLen?: number;
  /** 0: idle topics are never removed. */
  topicIdleTtlMs?: number;
  lagPolicy?: LagPolicy;
  maxSubscriptionsPerPoller?: number;
  presenceEvents?: boolean;
  maxPresenceInfoBytes?: number;
  /** 0: no janitor thread (call bus.sweep()). */
  janitorIntervalMs?: number;
}

export interface PublishOptions {
  /** Event type: 1-64 of `[A-Za-z0-9_.:-]`. */
  event?: string;
  /** Overrides the kind inferred from `data` (string: text, bytes: binary, else JSON). */
  kind?: PayloadKind;
}

export interface BusStats {
  published: number;
  delivered: number;
  gaps: number;
  lagCloses: number;
  topics: number;
  subscriptions: number;
  replayBytes: number;
}

export interface PollOptions {
  start?: Start;
  /** Most messages returned (default 100). */
  max?: number;
}

export interface PollAnswer {
  /** `{"key":..,"messages":[..],"gap":..}` */
  json: Buffer;
  count: number;
  /** The key to poll from next. */
  key: string;
  /** Whether the starting key was no longer held. */
  gap: boolean;
}

export interface PresenceEntry {
  client: string;
  info: unknown;
  since: number;
}

/** A message's or gap's wire frames, shared by every subscriber in a drain. */
export interface Frames {
  readonly sse: Buffer;
  readonly envelope: Buffer;
  readonly ndjson: Buffer;
}

export declare class Message {
  readonly type: 'message';
  /** Null only for events returned by a manual drain() of a closed subscription. */
  readonly subscription: Subscription | null;
  readonly topic: string;
  /** The version key: send it back to resume after this message. */
  readonly key: string;
  readonly seq: number;
  /** The event type ('' when none was given). */
  readonly event: string;
  /** Publish time, milliseconds since the Unix epoch. */
  readonly time: number;
  readonly kind: PayloadKind;
  /** A copy of the payload, shared by this message's deliveries in one drain: read-only. */
  readonly data: Buffer;
  /** Wire frames, when the poller was made with `{ frames: true }`. */
  readonly frames: Frames | undefined;
  text(): string;
  json(): unknown;
}

export declare class Gap {
  readonly type: 'gap';
  readonly subscription: Subscription | null;
  readonly topic: string;
  /** The key reading continues after. */
  readonly key: string;
  /** Where the reader was. */
  readonly from: string;
  /** Messages lost, or null when unknown. */
  readonly lost: number | null;
  readonly frames: Frames | undefined;
}

export declare class Closed {
  readonly type: 'closed';
  readonly subscription: Subscription | null;
  /** The topic it lagged on. */
  readonly topic: string;
  readonly reason: 'lagged' | 'unknown';
  readonly lost: number | null;
}

export type PushbusEvent = Message | Gap | Closed;

/** Events of a Bus or Subscription (typed EventEmitter map). */
export type ConsumerEvents = {
  message: [Message];
  gap: [Gap];
  closed: [Closed];
  close: [];
};

export declare class Bus extends EventEmitter<ConsumerEvents> implements AsyncIterable<PushbusEvent> {
  constructor(options?: BusOptions);
  readonly closed: boolean;
  /** Publishes and returns the message's version key. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer | unknown, options?: PublishOptions): string;
  /** A Publisher for `topic` (created if needed). */
  publisher(topic: string): Publisher;
  head(topic: string): string;
  stats(): BusStats;
  sweep(): void;
  /** A short poll (answers at once). */
  poll(topic: string, options?: PollOptions): PollAnswer;
  lease(topic: string, client: string, ttlMs: number, info?: unknown): void;
  leave(topic: string, client: string): boolean;
  presence(topic: string): PresenceEntry[];
  presenceJson(topic: string): Buffer;
  poller(options?: PollerOptions): Poller;
  readonly defaultPoller: Poller;
  subscribe(selectors: string | readonly string[], options?: SubscribeOptions): Subscription;
  /** Closes its pollers and publishers too. */
  close(): void;
  [Symbol.asyncIterator](): AsyncIterator<PushbusEvent>;
  [Symbol.dispose](): void;
}

/**
 * Publishes to one topic without looking its name up; keeps the topic from
 * expiring as idle while open. Made by `bus.publisher(topic)`.
 */
export declare class Publisher {
  private constructor();
  readonly bus: Bus;
  /** The topic it publishes to. */
  readonly topic: string;
  readonly closed: boolean;
  /** Publishes and returns the message's version key (arguments as Bus#publish's, without the topic). */
  publish(data: string | Uint8Array | ArrayBuffer | unknown, options?: PublishOptions): string;
  /** Idempotent; publishing afterwards throws PUSHBUS_CLOSED. */
  close(): void;
  [Symbol.dispose](): void;
}

export interface PollerOptions {
  /** Attach each event's wire frames (SSE, envelope, NDJSON). */
  frames?: boolean;
  /** Events an iterator or an unconsumed subscription may hold before draining pauses (default 4096). */
  highWaterMark?: number;
  /** Longest a drain runs before yielding to the event loop, in ms (default 2). */
  budgetMs?: number;
}

export interface SubscribeOptions {
  start?: Start;
  lag?: 'default' | LagPolicy;
}

/** Events of a Poller. */
export type PollerEvents = ConsumerEvents & { error: [Error] };

export declare class Poller extends EventEmitter<PollerEvents> implements AsyncIterable<PushbusEvent> {
  private constructor();
  readonly bus: Bus;
  readonly closed: boolean;
  readonly watching: boolean;
  readonly subscriptions: Subscription[];
  /** The pollable fd (pipe mode). The poller owns it: never read or close it. */
  readonly fd: number;
  subscribe(selectors: string | readonly string[], options?: SubscribeOptions): Subscription;
  /** Drains without emitting (for pollers nobody listens to). */
  drain(max?: number): PushbusEvent[];
  /** Blocks the thread: for worker threads only. */
  waitSync(timeoutMs?: number): boolean;
  ref(): this;
  unref(): this;
  close(): void;
  [Symbol.asyncIterator](): AsyncIterator<PushbusEvent>;
  [Symbol.dispose](): void;
}

export declare class Subscription extends EventEmitter<ConsumerEvents> implements AsyncIterable<PushbusEvent> {
  private constructor();
  readonly poller: Poller;
  readonly id: number;
  readonly selectors: readonly string[];
  readonly closed: boolean;
  /** The resume token: exactly what this subscription has not been handed. */
  token(): string;
  join(topic: string, client: string, info?: unknown): void;
  close(): void;
  [Symbol.asyncIterator](): AsyncIterator<PushbusEvent>;
  [Symbol.dispose](): void;
}

export interface Key {
  epoch: bigint;
  seq: bigint;
}
export declare function parseKey(text: string): Key;
export declare function formatKey(key: { epoch: bigint | number; seq: bigint | number }): string;
export declare function isToken(text: unknown): boolean;

export declare const framing: {
  ssePreamble(retryMs?: number): Buffer;
  readonly sseHeartbeat: Buffer;
  sseEvent(id: string | null, event: string | null, data: string): Buffer;
  gapEnvelope(topic: string, from: string, to: string): Buffer;
  xhrPreamble(): Buffer;
  isIframeCallback(callback: unknown): boolean;
  iframePreamble(): Buffer;
  iframeScriptOpen(callback: string): Buffer;
  readonly iframeScriptClose: Buffer;
  lastEventId(header: string | null | undefined, query: string | null | undefined): 'now' | { after: string };
  wsAccept(key: string): string;
};

export interface VerifiedClaims {
  readonly sub: string | null;
  readonly exp: number | null;
  allows(name: string): boolean;
  free(): void;
}
export declare function verifyToken(token: string, secret: string | Uint8Array, nowUnixSecs?: number): VerifiedClaims;

export declare const version: string;
export declare const libraryPath: string;

declare const pushbus: {
  Bus: typeof Bus;
  Publisher: typeof Publisher;
  Poller: typeof Poller;
  Subscription: typeof Subscription;
  Message: typeof Message;
  Gap: typeof Gap;
  Closed: typeof Closed;
  PushbusError: typeof PushbusError;
  Status: typeof Status;
  parseKey: typeof parseKey;
  formatKey: typeof formatKey;
  isToken: typeof isToken;
  framing: typeof framing;
  verifyToken: typeof verifyToken;
  version: string;
  libraryPath: string;
};
export default pushbus;
