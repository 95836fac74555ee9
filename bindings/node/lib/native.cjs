'use strict';
// The C ABI of libpushbus (include/pushbus.h), declared for koffi.
//
// Every call here is synchronous and short: no koffi `.async` call and no
// callback from a broker thread is ever used (DESIGN.md section 5). Results
// come back through out-parameters; they are Buffers, not JS arrays, because
// koffi's `_Out_` array parameters cost about 250 ns more per call.
//
// Pointers are koffi 3 BigInts for opaque handles (bus, poller, batch, ...).
// Pointers read out of event structs are plain Numbers (user-space addresses
// fit in 53 bits on every 64-bit platform pushbus supports) passed to
// `memcpy` as `uintptr_t`, which avoids a BigInt allocation per field.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const PACKAGE_DIR = path.resolve(__dirname, '..');

function libraryFileName() {
  switch (process.platform) {
    case 'darwin':
      return 'libpushbus.dylib';
    case 'win32':
      return 'pushbus.dll';
    default:
      return 'libpushbus.so';
  }
}

/** Where the library is looked for, in order (see README.md). */
function libraryCandidates() {
  const name = libraryFileName();
  const candidates = [];
  if (process.env.PUSHBUS_LIB) {
    candidates.push({ source: 'PUSHBUS_LIB', path: path.resolve(process.env.PUSHBUS_LIB) });
  }
  candidates.push({
    source: 'prebuild',
    path: path.join(PACKAGE_DIR, 'prebuilds', `${process.platform}-${process.arch}`, name),
  });
  candidates.push({
    source: 'repository',
    path: path.resolve(PACKAGE_DIR, '..', '..', 'target', 'release', name),
  });
  return candidates;
}

function findLibrary() {
  const candidates = libraryCandidates();
  // PUSHBUS_LIB is an explicit choice: when it is set, it is the only one.
  if (process.env.PUSHBUS_LIB) {
    if (!fs.existsSync(candidates[0].path)) {
      throw new Error(`pushbus: PUSHBUS_LIB names ${candidates[0].path}, which does not exist`);
    }
    return candidates[0];
  }
  for (const candidate of candidates) {
    if (fs.existsSync(candidate.path)) return candidate;
  }
  throw new Error(
    'pushbus: the native library was not found. Looked for:\n' +
      candidates.map((c) => `  ${c.path} (${c.source})`).join('\n') +
      '\nBuild it with `cargo build --release` at the repository root, or set PUSHBUS_LIB.'
  );
}

if (koffi.sizeof('void *') !== 8) {
  throw new Error('pushbus: only 64-bit platforms are supported');
}

const found = findLibrary();
const lib = koffi.load(found.path);

// Struct layouts, declared for koffi so that the hand-written offsets used by
// the hot paths can be checked against what koffi computes from the header.
const pushbus_key = koffi.struct('pushbus_key', { epoch: 'uint64_t', seq: 'uint64_t' });
const pushbus_str = koffi.struct('pushbus_str', { ptr: 'const char *', len: 'size_t' });
const pushbus_start = koffi.struct('pushbus_start', {
  kind: 'uint32_t',
  last_n: 'uint64_t',
  token: 'const char *',
  token_len: 'size_t',
});
const pushbus_message_info = koffi.struct('pushbus_message_info', {
  topic: 'const char *',
  topic_len: 'size_t',
  key: 'pushbus_key',
  time_ms: 'uint64_t',
  event: 'const char *',
  event_len: 'size_t',
  data: 'const uint8_t *',
  data_len: 'size_t',
  payload_kind: 'uint32_t',
});
const pushbus_gap_info = koffi.struct('pushbus_gap_info', {
  topic: 'const char *',
  topic_len: 'size_t',
  from: 'pushbus_key',
  to: 'pushbus_key',
  lost: 'uint64_t',
  close_reason: 'uint32_t',
});
const pushbus_event = koffi.struct('pushbus_event', {
  kind: 'uint32_t',
  subscription: 'uint64_t',
  message: 'const pushbus_message_info *',
  gap: 'const pushbus_gap_info *',
});
const pushbus_frames = koffi.struct('pushbus_frames', {
  sse: 'const uint8_t *',
  sse_len: 'size_t',
  envelope: 'const uint8_t *',
  envelope_len: 'size_t',
  ndjson: 'const uint8_t *',
  ndjson_len: 'size_t',
});
const pushbus_stats = koffi.struct('pushbus_stats', {
  published: 'uint64_t',
  delivered: 'uint64_t',
  gaps: 'uint64_t',
  lag_closes: 'uint64_t',
  topics: 'uint64_t',
  subscriptions: 'uint64_t',
  replay_bytes: 'uint64_t',
});
const pushbus_poll_info = koffi.struct('pushbus_poll_info', {
  count: 'size_t',
  key: 'pushbus_key',
  gap: 'bool',
});
const pushbus_ws_message = koffi.struct('pushbus_ws_message', {
  kind: 'uint32_t',
  close_code: 'uint16_t',
  data: 'const uint8_t *',
  len: 'size_t',
});

/** Byte offsets of `pushbus_event`, used to read drained events from a Buffer. */
const EVENT = Object.freeze({ size: 32, kind: 0, subscription: 8, message: 16, gap: 24 });
/** Byte offsets of `pushbus_message_info` (copied out of the batch by address). */
const MESSAGE = Object.freeze({
  size: 80,
  topic: 0,
  topic_len: 8,
  key: 16,
  time_ms: 32,
  event: 40,
  event_len: 48,
  data: 56,
  data_len: 64,
  payload_kind: 72,
});
/** Byte offsets of `pushbus_gap_info`. */
const GAP = Object.freeze({ size: 64, topic: 0, topic_len: 8, from: 16, to: 32, lost: 48, close_reason: 56 });
for (const [type, layout] of [
  [pushbus_event, EVENT],
  [pushbus_message_info, MESSAGE],
  [pushbus_gap_info, GAP],
]) {
  for (const [field, offset] of Object.entries(layout)) {
    const actual = field === 'size' ? koffi.sizeof(type) : koffi.offsetof(type, field);
    if (actual !== offset) {
      throw new Error(`pushbus: ${type.name}.${field} is at ${actual}, expected ${offset}`);
    }
  }
}
if (koffi.sizeof(pushbus_frames) !== 48 || koffi.sizeof(pushbus_stats) !== 56) {
  throw new Error('pushbus: unexpected struct layout');
}

const F = (signature) => lib.func(signature);

const c = {
  version: F('const char *pushbus_version(void)'),
  status_str: F('const char *pushbus_status_str(uint32_t status)'),

  config_new: F('uint32_t pushbus_config_new(_Out_ void **out)'),
  config_free: F('void pushbus_config_free(void *config)'),
  config_set_ring_max_messages: F('uint32_t pushbus_config_set_ring_max_messages(void *config, size_t value)'),
  config_set_ring_max_bytes: F('uint32_t pushbus_config_set_ring_max_bytes(void *config, size_t value)'),
  config_set_ring_max_age_ms: F('uint32_t pushbus_config_set_ring_max_age_ms(void *config, uint64_t ms)'),
  config_set_replay_budget_bytes: F('uint32_t pushbus_config_set_replay_budget_bytes(void *config, size_t value)'),
  config_set_max_message_bytes: F('uint32_t pushbus_config_set_max_message_bytes(void *config, size_t value)'),
  config_set_max_topics: F('uint32_t pushbus_config_set_max_topics(void *config, size_t value)'),
  config_set_max_topic_len: F('uint32_t pushbus_config_set_max_topic_len(void *config, size_t value)'),
  config_set_topic_idle_ttl_ms: F('uint32_t pushbus_config_set_topic_idle_ttl_ms(void *config, uint64_t ms)'),
  config_set_lag_policy: F('uint32_t pushbus_config_set_lag_policy(void *config, uint32_t policy)'),
  config_set_max_subscriptions_per_poller: F(
    'uint32_t pushbus_config_set_max_subscriptions_per_poller(void *config, size_t value)'
  ),
  config_set_presence_events: F('uint32_t pushbus_config_set_presence_events(void *config, bool on)'),
  config_set_max_presence_info_bytes: F(
    'uint32_t pushbus_config_set_max_presence_info_bytes(void *config, size_t value)'
  ),
  config_set_janitor_interval_ms: F('uint32_t pushbus_config_set_janitor_interval_ms(void *config, uint64_t ms)'),

  bus_new: F('uint32_t pushbus_bus_new(void *config, _Out_ void **out)'),
  bus_free: F('void pushbus_bus_free(void *bus)'),
  publish: F(
    'uint32_t pushbus_publish(void *bus, const char *topic, size_t topic_len, const char *event, size_t event_len, uint32_t kind, const uint8_t *payload, size_t payload_len, uint8_t *out_key)'
  ),
  publisher_new: F(
    'uint32_t pushbus_publisher_new(void *bus, const char *topic, size_t topic_len, _Out_ void **out)'
  ),
  publisher_publish: F(
    'uint32_t pushbus_publisher_publish(void *publisher, const char *event, size_t event_len, uint32_t kind, const uint8_t *payload, size_t payload_len, uint8_t *out_key)'
  ),
  publisher_free: F('void pushbus_publisher_free(void *publisher)'),
  bus_head: F('uint32_t pushbus_bus_head(void *bus, const char *topic, size_t topic_len, uint8_t *out_key)'),
  bus_stats: F('uint32_t pushbus_bus_stats(void *bus, uint8_t *out)'),
  bus_sweep: F('uint32_t pushbus_bus_sweep(void *bus)'),
  presence_lease: F(
    'uint32_t pushbus_presence_lease(void *bus, const char *topic, size_t topic_len, const char *client, size_t client_len, const char *info, size_t info_len, uint64_t ttl_ms)'
  ),
  presence_leave: F(
    'uint32_t pushbus_presence_leave(void *bus, const char *topic, size_t topic_len, const char *client, size_t client_len, uint8_t *out_was_present)'
  ),
  presence_json: F('uint32_t pushbus_presence_json(void *bus, const char *topic, size_t topic_len, uint8_t *out_buf)'),
  poll: F(
    'uint32_t pushbus_poll(void *bus, const char *topic, size_t topic_len, const pushbus_start *start, size_t max, uint64_t timeout_ms, _Out_ void **out)'
  ),
  poll_result_json: F('uint32_t pushbus_poll_result_json(void *poll, uint8_t *out_ptr, uint8_t *out_len)'),
  poll_result_info: F('uint32_t pushbus_poll_result_info(void *poll, _Out_ pushbus_poll_info *out)'),
  poll_result_free: F('void pushbus_poll_result_free(void *poll)'),

  poller_new: F('uint32_t pushbus_poller_new(void *bus, _Out_ void **out)'),
  poller_free: F('void pushbus_poller_free(void *poller)'),
  subscribe: F(
    'uint32_t pushbus_subscribe(void *poller, const pushbus_str *selectors, size_t count, const pushbus_start *start, uint32_t lag, uint8_t *out_id)'
  ),
  unsubscribe: F('uint32_t pushbus_unsubscribe(void *poller, uint64_t id)'),
  subscription_token: F('uint32_t pushbus_subscription_token(void *poller, uint64_t id, uint8_t *out_buf)'),
  presence_join: F(
    'uint32_t pushbus_presence_join(void *poller, uint64_t id, const char *topic, size_t topic_len, const char *client, size_t client_len, const char *info, size_t info_len)'
  ),
  poller_fd: F('uint32_t pushbus_poller_fd(void *poller, uint32_t mode, uint8_t *out_fd)'),
  poller_wait: F('uint32_t pushbus_poller_wait(void *poller, int64_t timeout_ms, uint8_t *out_ready)'),
  poller_drain: F(
    'uint32_t pushbus_poller_drain(void *poller, void *batch, uint8_t *events, size_t capacity, uint8_t *out_count)'
  ),

  batch_new: F('uint32_t pushbus_batch_new(_Out_ void **out)'),
  batch_release: F('uint32_t pushbus_batch_release(void *batch)'),
  batch_free: F('void pushbus_batch_free(void *batch)'),
  batch_frames: F('uint32_t pushbus_batch_frames(void *batch, size_t index, uint8_t *out)'),

  buf_free: F('void pushbus_buf_free(uint8_t *buf)'),

  key_format: F('uint32_t pushbus_key_format(pushbus_key key, uint8_t *buf, size_t cap, uint8_t *out_len)'),
  key_parse: F('uint32_t pushbus_key_parse(const char *text, size_t len, _Out_ pushbus_key *out)'),
  token_check: F('uint32_t pushbus_token_check(const char *text, size_t len)'),
  last_event_id: F(
    'uint32_t pushbus_last_event_id(const char *header, size_t header_len, const char *query, size_t query_len, _Out_ pushbus_start *out)'
  ),
  sse_preamble: F('uint32_t pushbus_sse_preamble(uint32_t retry_ms, uint8_t *out_buf)'),
  sse_heartbeat: F('uint32_t pushbus_sse_heartbeat(uint8_t *out_ptr, uint8_t *out_len)'),
  sse_event: F(
    'uint32_t pushbus_sse_event(const char *id, size_t id_len, const char *event, size_t event_len, const char *data, size_t data_len, uint8_t *out_buf)'
  ),
  gap_envelope: F(
    'uint32_t pushbus_gap_envelope(const char *topic, size_t topic_len, const char *from, size_t from_len, pushbus_key to, uint8_t *out_buf)'
  ),
  xhr_preamble: F('uint32_t pushbus_xhr_preamble(uint8_t *out_buf)'),
  iframe_check_callback: F('uint32_t pushbus_iframe_check_callback(const char *callback, size_t len)'),
  iframe_preamble: F('uint32_t pushbus_iframe_preamble(uint8_t *out_buf)'),
  iframe_script_open: F('uint32_t pushbus_iframe_script_open(const char *callback, size_t len, uint8_t *out_buf)'),
  iframe_script_close: F('uint32_t pushbus_iframe_script_close(uint8_t *out_ptr, uint8_t *out_len)'),

  jwt_verify: F(
    'uint32_t pushbus_jwt_verify(const char *token, size_t token_len, const uint8_t *secret, size_t secret_len, uint64_t now_unix_secs, _Out_ void **out)'
  ),
  claims_sub: F('uint32_t pushbus_claims_sub(void *claims, uint8_t *out_ptr, uint8_t *out_len)'),
  claims_exp: F('uint32_t pushbus_claims_exp(void *claims, uint8_t *out_exp)'),
  claims_allows: F('uint32_t pushbus_claims_allows(void *claims, const char *name, size_t name_len, uint8_t *out)'),
  claims_free: F('void pushbus_claims_free(void *claims)'),

  ws_accept: F('uint32_t pushbus_ws_accept(const char *key, size_t key_len, uint8_t *out)'),
  ws_frame_header: F('uint32_t pushbus_ws_frame_header(uint32_t opcode, size_t payload_len, uint8_t *out, uint8_t *out_len)'),
  ws_close_frame: F('uint32_t pushbus_ws_close_frame(uint16_t code, const char *reason, size_t reason_len, uint8_t *out_buf)'),
};

// memcpy from the library's own dependencies (dlsym searches them), so no
// platform-specific libc name is needed. Sources are addresses as Numbers.
const memcpy = lib.func('void *memcpy(uint8_t *dest, uintptr_t src, size_t n)');
// Both ends as addresses (into a Buffer whose address was taken once).
const memcpyAt = lib.func('memcpy', 'void *', ['uintptr_t', 'uintptr_t', 'size_t']);

module.exports = {
  koffi,
  lib,
  c,
  memcpy,
  memcpyAt,
  EVENT,
  MESSAGE,
  GAP,
  types: {
    pushbus_key,
    pushbus_str,
    pushbus_start,
    pushbus_event,
    pushbus_message_info,
    pushbus_gap_info,
    pushbus_frames,
    pushbus_stats,
    pushbus_poll_info,
    pushbus_ws_message,
  },
  libraryPath: found.path,
  librarySource: found.source,
  libraryCandidates,
};
