#!/usr/bin/env node
// The socket.io peer of the benchmark: socket.io 4.8.4 (pinned) with its
// WebSocket transport only, one socket.io room per chat room. Publishing is
// the same HTTP POST as on the other contenders; each message is emitted to
// its room as the envelope object, which socket.io encodes once per
// broadcast (`42["message",{...}]`) and sends as one WebSocket text frame to
// every member. Not SSE: see the benchmark's README for how it compares.
//
//   node servers/socketio.mjs [--port N]     (PORT, HEARTBEAT_SECONDS)
//
// Clients connect with the query `room=<room>`.
import http from 'node:http';
import { Server } from 'socket.io';
import { Room, ROOM_RE, handleCommon, roomRegistry, sendJson, serve, settings } from './common.mjs';

const { port, heartbeatMs } = settings();

const rooms = roomRegistry((name) => new Room(name));

const server = http.createServer((req, res) => {
  if (handleCommon(req, res, rooms, (room, envelope) => io.to(room.topic).emit('message', envelope))) return;
  sendJson(res, 404, { error: 'not found' });
});

const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  pingInterval: heartbeatMs, // the other servers' heartbeat
});

io.on('connection', (socket) => {
  const name = socket.handshake.query.room;
  if (typeof name !== 'string' || !ROOM_RE.test(name)) return socket.disconnect(true);
  socket.join(rooms.get(name).topic);
});

serve(server, port, () => io.close());
