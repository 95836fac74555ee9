// What the benchmark's two peer servers (plain-sse.mjs, socketio.mjs) share
// with each other and, on the wire, with the pushbus chat server: the
// `POST /rooms/{room}/messages` contract of CHAT_API.md, the message
// envelope, version keys `<epoch hex>-<seq>`, `/healthz`, the environment,
// the `listening on` line and a clean stop on SIGTERM.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('../lib/loop-monitor.cjs'); // starts itself when LOOP_MONITOR_FILE is set

export const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_USER_CHARS = 32;
const MAX_TEXT_BYTES = 4096;
const MESSAGES_PATH = /^\/rooms\/([^/]*)\/messages$/;

/** The settings every example server reads (examples/serve.sh), and `--port N`. */
export function settings(argv = process.argv.slice(2), env = process.env) {
  const int = (text, fallback) => {
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${text}`);
    return n;
  };
  const portFlag = argv.indexOf('--port');
  return {
    port: int(portFlag !== -1 ? argv[portFlag + 1] : env.PORT, 8080),
    heartbeatMs: int(env.HEARTBEAT_SECONDS, 15) * 1000,
    // pushbus's default ring holds 1,024 messages a topic
    replayMessages: int(env.REPLAY_MESSAGES, 1024),
    // the pushbus chat server's limit for one slow reader
    writeLimitBytes: int(env.WRITE_LIMIT, 1024 * 1024),
  };
}

/** One chat room: its topic, its version keys and the envelopes of its messages. */
export class Room {
  constructor(name) {
    this.topic = `chat.${name}`;
    // 48 random bits, like a pushbus topic's epoch: keys of another life of
    // the room never match
    this.epoch = randomBytes(6).readUIntBE(0, 6).toString(16);
    this.seq = 0;
  }

  key(seq) {
    return `${this.epoch}-${seq}`;
  }

  /** The envelope of CHAT_API.md, fields in its order. */
  envelope(data) {
    this.seq += 1;
    return { id: this.key(this.seq), topic: this.topic, seq: this.seq, event: 'message', time: Date.now(), data };
  }
}

export function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function readMessage(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(Object.assign(new Error('body too large'), { status: 413 }));
      } else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(Object.assign(new Error('invalid JSON'), { status: 400 }));
      }
      const { user, text } = body ?? {};
      const userChars = typeof user === 'string' ? [...user].length : 0;
      const textBytes = typeof text === 'string' ? Buffer.byteLength(text) : 0;
      if (userChars < 1 || userChars > MAX_USER_CHARS || textBytes < 1 || textBytes > MAX_TEXT_BYTES) {
        return reject(Object.assign(new Error('user must be 1-32 characters, text 1-4096 bytes'), { status: 400 }));
      }
      resolve({ user, text });
    });
  });
}

/**
 * Answers `/healthz` and `POST /rooms/{room}/messages`; the latter validates
 * the body, makes the envelope and hands it to `deliver(room, envelope)`.
 * Returns false for any other request (the caller routes it).
 */
export function handleCommon(req, res, rooms, deliver) {
  const path = req.url.split('?', 1)[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('ok');
    return true;
  }
  const match = MESSAGES_PATH.exec(path);
  if (match === null || req.method !== 'POST') return false;
  const name = match[1];
  if (!ROOM_RE.test(name)) {
    sendJson(res, 400, { error: 'room must be 1-64 of [A-Za-z0-9_-]' });
    return true;
  }
  readMessage(req).then(
    (data) => {
      const room = rooms.get(name);
      const envelope = room.envelope(data);
      deliver(room, envelope);
      sendJson(res, 201, { id: envelope.id });
    },
    (error) => sendJson(res, error.status ?? 400, { error: error.message })
  );
  return true;
}

/** A Map of rooms that makes each on first use with `make(name)`. */
export function roomRegistry(make) {
  const rooms = new Map();
  return {
    get(name) {
      let room = rooms.get(name);
      if (room === undefined) rooms.set(name, (room = make(name)));
      return room;
    },
    values: () => rooms.values(),
  };
}

/** Listens on 127.0.0.1, prints the line the runner waits for, stops on SIGTERM/SIGINT. */
export function serve(server, port, stopClients) {
  server.listen(port, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
  const stop = () => {
    stopClients();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
