#!/usr/bin/env node
// The plain JavaScript peer of the benchmark: the SSE fan-out of the chat
// contract as a competent Node developer would write it without pushbus.
// node:http, one array of open responses per room, each message framed once
// into a Buffer that is written to every response (the messages of one
// event-loop turn together, as pushbus's batch drain does); a bounded replay ring of
// frames for Last-Event-ID resume; a slow reader is cut off past the same
// write limit as the pushbus chat server. Same SSE framing (preamble,
// `id:` / `event:` / `data:`, `: ping`) and envelope as the pushbus server.
// Only what the benchmark uses: SSE, POST, /healthz (no CORS, auth, presence).
//
// With --per-client it is the plain fan-out issue 5 describes instead: "a
// Set of responses, one JSON.stringify and write per client", each message
// written at once (no framing once, no gathering of a turn's messages).
//
//   node servers/plain-sse.mjs [--port N] [--per-client]
//        (PORT, HEARTBEAT_SECONDS, REPLAY_MESSAGES, WRITE_LIMIT)
import http from 'node:http';
import { Room, ROOM_RE, handleCommon, roomRegistry, sendJson, serve, settings } from './common.mjs';

const { port, heartbeatMs, replayMessages, writeLimitBytes } = settings();
const perClient = process.argv.includes('--per-client');

const PREAMBLE = Buffer.from(`retry: 3000\n:${' '.repeat(2048)}\n\n`);
const HEARTBEAT = Buffer.from(': ping\n\n');
const EVENTS_PATH = /^\/rooms\/([^/]*)\/events$/;
const MAX_KEY_CHARS = 256;

const sseFrame = (id, event, json) => Buffer.from(`id: ${id}\nevent: ${event}\ndata: ${json}\n\n`);

class SseRoom extends Room {
  constructor(name) {
    super(name);
    this.clients = []; // open responses; each knows its index (swap-remove)
    this.ring = []; // frames of the last `replayMessages` messages, oldest first
    this.sentSeq = 0; // the last message written to the clients; the ring's later frames are pending
  }

  /**
   * Frames the message once and writes it to every client at the end of
   * this turn of the event loop, with whatever else was published in the
   * same turn: under load, one write per response carries several messages.
   */
  publish(envelope) {
    this.ring.push(sseFrame(envelope.id, 'message', JSON.stringify(envelope)));
    if (this.ring.length > replayMessages) this.ring.shift();
    if (perClient) {
      for (const res of this.clients) send(res, sseFrame(envelope.id, 'message', JSON.stringify(envelope)));
      this.sentSeq = this.seq;
      return;
    }
    if (this.seq === this.sentSeq + 1) setImmediate(() => this.flush());
  }

  flush() {
    const pending = Math.min(this.seq - this.sentSeq, this.ring.length);
    if (pending === 0) return;
    const frames = this.ring.slice(-pending);
    const data = frames.length === 1 ? frames[0] : Buffer.concat(frames);
    this.sentSeq = this.seq;
    // 'close' events come later (next tick), so the array does not change under this loop
    for (const res of this.clients) send(res, data);
  }

  add(res) {
    res.clientIndex = this.clients.length;
    this.clients.push(res);
    res.on('close', () => {
      const last = this.clients.pop();
      if (last !== res) {
        this.clients[res.clientIndex] = last;
        last.clientIndex = res.clientIndex;
      }
    });
  }

  /** The frames after `key` (version key text), or a gap frame then every frame held. */
  since(key) {
    this.flush(); // so that the resuming client gets each message once, here
    const oldest = this.seq - this.ring.length; // the key just before the first frame held
    const dash = key.lastIndexOf('-');
    const seq = Number(key.slice(dash + 1));
    if (key.slice(0, dash) === this.epoch && Number.isInteger(seq) && seq >= oldest && seq <= this.seq) {
      return this.ring.slice(seq - oldest);
    }
    // `to` names the oldest message held; the frame's id resumes just before it
    const gap = { event: 'gap', topic: this.topic, from: key.slice(0, MAX_KEY_CHARS), to: this.key(oldest + 1) };
    return [sseFrame(this.key(oldest), 'gap', JSON.stringify(gap)), ...this.ring];
  }
}

function send(res, frame) {
  res.write(frame);
  if (res.writableLength > writeLimitBytes) res.destroy(); // it resumes with its last id
}

const rooms = roomRegistry((name) => new SseRoom(name));

function events(req, res, name) {
  if (!ROOM_RE.test(name)) return sendJson(res, 400, { error: 'room must be 1-64 of [A-Za-z0-9_-]' });
  const room = rooms.get(name);
  const url = new URL(req.url, 'http://localhost');
  const key = req.headers['last-event-id'] || url.searchParams.get('lastEventId') || '';
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
  });
  res.socket.setNoDelay(true);
  res.write(PREAMBLE);
  if (key !== '') for (const frame of room.since(key)) send(res, frame);
  room.add(res);
}

const server = http.createServer((req, res) => {
  if (handleCommon(req, res, rooms, (room, envelope) => room.publish(envelope))) return;
  const match = EVENTS_PATH.exec(req.url.split('?', 1)[0]);
  if (match !== null && req.method === 'GET') return events(req, res, match[1]);
  sendJson(res, 404, { error: 'not found' });
});

// One timer for all streams: a comment at least every HEARTBEAT_SECONDS.
setInterval(() => {
  for (const room of rooms.values()) for (const res of room.clients) send(res, HEARTBEAT);
}, heartbeatMs).unref();

serve(server, port, () => {
  for (const room of rooms.values()) for (const res of [...room.clients]) res.end();
});
