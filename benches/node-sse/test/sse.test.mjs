import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../lib/sse.mjs';

/** Parses `chunks` fed one by one; returns the dispatched events and the parser. */
function parse(...chunks) {
  const events = [];
  const parser = new SseParser((e) => events.push(e));
  for (const chunk of chunks) parser.feed(chunk);
  return { events, parser };
}

test('a pushbus chat event: id, event, one data line', () => {
  const { events } = parse('retry: 3000\n:    \n\nid: a24c-1\nevent: message\ndata: {"seq":1}\n\n');
  assert.deepEqual(events, [{ type: 'message', data: '{"seq":1}', lastEventId: 'a24c-1' }]);
});

test('several data lines join with LF; CR, LF and CRLF all end lines', () => {
  const { events } = parse('data: a\r\ndata: b\rdata: c\n\r\n');
  assert.deepEqual(events, [{ type: 'message', data: 'a\nb\nc', lastEventId: '' }]);
});

test('split anywhere, even between CR and LF, gives the same events', () => {
  const stream = 'id: 1\r\nevent: gap\r\ndata: {"x":"\u00e9"}\r\n\r\n: ping\r\n\r\ndata: two\r\n\r\n';
  const whole = parse(stream).events;
  assert.equal(whole.length, 2);
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(parse(stream.slice(0, cut), stream.slice(cut)).events, whole, `cut at ${cut}`);
  }
  assert.deepEqual(parse(...stream).events, whole, 'one character at a time');
});

test('comments and events without data dispatch nothing; an empty data line does', () => {
  assert.deepEqual(parse(': ping\n\nevent: x\n\n').events, []);
  assert.deepEqual(parse('data\n\n').events, [{ type: 'message', data: '', lastEventId: '' }]);
  assert.deepEqual(parse('data:\n\n').events, [{ type: 'message', data: '', lastEventId: '' }]);
});

test('only one leading space is removed from a value; no space is fine', () => {
  assert.deepEqual(parse('data:x\n\ndata:  y\n\n').events.map((e) => e.data), ['x', ' y']);
});

test('the last event id persists across events; an id with NUL is ignored', () => {
  const { events } = parse('id: 7\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\n');
  assert.deepEqual(events.map((e) => e.lastEventId), ['7', '7', '7']);
});

test('the event type resets after each dispatch', () => {
  const { events } = parse('event: gap\ndata: a\n\ndata: b\n\n');
  assert.deepEqual(events.map((e) => e.type), ['gap', 'message']);
});

test('retry takes ASCII digits only; unknown fields are ignored', () => {
  assert.equal(parse('retry: 3000\n').parser.retry, 3000);
  assert.equal(parse('retry: 3e3\n').parser.retry, null);
  assert.deepEqual(parse('foo: bar\ndata: z\n\n').events.map((e) => e.data), ['z']);
});

test('an unfinished event is not dispatched', () => {
  assert.deepEqual(parse('data: half').events, []);
  assert.deepEqual(parse('data: half\n').events, []);
});
