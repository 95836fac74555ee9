#!/usr/bin/env python3
"""The pushbus chat demo in Python: every push transport on aiohttp.

Implements shared/CHAT_API.md (rooms, short and long polling,
hidden-iframe and XHR streaming, Server-Sent Events, WebSocket, presence,
CORS, optional HS256 auth, metrics) with the wire behaviour of
TRANSPORTS.md, and serves the shared page in examples/web/.

    python examples/python/chat_server.py [--port 8080]

Environment (the shared knobs of examples/README.md): PORT, ALLOWED_ORIGINS
(comma-separated; default: same origin only), JWT_SECRET (turns auth on),
HEARTBEAT_SECONDS (SSE, XHR and iframe heartbeat and WebSocket ping; default
15), STREAM_BUDGET_BYTES (XHR and iframe streams close after this many bytes;
default 131072), REPLAY_MESSAGES (messages kept per room; default: pushbus's),
WEB_ROOT (the page's directory; default examples/web). Its own:
WRITE_TIMEOUT_SECONDS (a stream whose reader does not take a write within
this time is closed; default 10).

Why aiohttp: one process, one event loop, streaming responses and
WebSocket in the same framework, and the loop's add_reader is all the
pushbus poller needs. The broker does the fan-out, resume and framing; this
file is only HTTP plumbing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Literal, Optional, Tuple, TypeVar, Union

from aiohttp import WSMsgType, web

import pushbus
from pushbus import framing

log = logging.getLogger("chat")

ROOM = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_BODY = 64 * 1024
MAX_USER_CHARS = 32
MAX_TEXT_BYTES = 4096
SHORT_POLL_INITIAL = 50
POLL_MAX = 1000
LONGPOLL_DEFAULT = 25.0
LONGPOLL_MAX = 60.0
PRESENCE_LEASE = 30.0
SSE_RETRY_MS = 3000
# A subscription may hold this many undelivered events: past it, it closes
# (the client resumes from its last key) so a stuck reader costs bounded memory.
MAX_PENDING = 1000
# Bytes a stream may have waiting in its transport (the socket's buffer full).
MAX_WRITE_BUFFER = 1 << 20

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def frames_of(name: str) -> Callable[[Union[pushbus.Message, pushbus.Gap]], bytes]:
    """The encoder of one transport: the event's frame, encoded once by the broker."""

    def encode(event: Union[pushbus.Message, pushbus.Gap]) -> bytes:
        assert event.frames is not None  # subscriptions here ask for frames
        frame: bytes = getattr(event.frames, name)
        return frame

    return encode


def error(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> web.HTTPException:
    """An HTTP error with the contract's JSON body ``{"error": ...}``."""
    cls = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        413: web.HTTPRequestEntityTooLarge,
        426: web.HTTPUpgradeRequired,
    }[status]
    body = json.dumps({"error": message})
    if cls is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY, actual_size=0, text=body, content_type="application/json", headers=headers
        )
    exc: web.HTTPException = cls(text=body, content_type="application/json", headers=headers)
    return exc


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, or its first ``limit`` bytes when it is longer (never more in memory)."""
    body = b""
    while len(body) < limit:
        chunk = await request.content.read(limit - len(body))
        if not chunk:
            break
        body += chunk
    return body


def is_unicode(text: str) -> bool:
    """False for strings JSON can carry but UTF-8 cannot (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Writer:
    """Writes one stream, and cuts off a reader that stops reading.

    A write not taken within ``timeout`` seconds, a socket whose send
    buffer stays full (bytes waiting in the transport) for ``timeout``
    seconds, or more than ``MAX_WRITE_BUFFER`` bytes waiting: the connection
    is aborted, so a stuck reader costs bounded memory; it resumes with its
    last key.
    """

    def __init__(self, request: web.Request, response: web.StreamResponse, timeout: float) -> None:
        self.request = request
        self.response = response
        self.timeout = timeout
        self.stuck_since: Optional[float] = None

    def abort(self) -> bool:
        if self.request.transport is not None:
            self.request.transport.abort()
        return False

    async def write(self, chunk: bytes) -> bool:
        transport = self.request.transport
        if transport is None or transport.is_closing():
            return False
        try:
            await asyncio.wait_for(self.response.write(chunk), self.timeout)
        except (asyncio.TimeoutError, ConnectionError):
            return self.abort()
        return self.check()

    def check(self) -> bool:
        """After a write: False (and the connection aborted) when the reader is stuck."""
        transport = self.request.transport
        if transport is None or transport.is_closing():
            return False
        waiting = transport.get_write_buffer_size()
        if waiting > MAX_WRITE_BUFFER:
            return self.abort()
        if waiting == 0:
            self.stuck_since = None
        elif self.stuck_since is None:
            self.stuck_since = time.monotonic()
        elif time.monotonic() - self.stuck_since > self.timeout:
            return self.abort()
        return True


class Chat:
    """The application: one bus, one poller on the event loop, the handlers."""

    def __init__(
        self,
        *,
        allowed_origins: Tuple[str, ...] = (),
        jwt_secret: Optional[str] = None,
        heartbeat: float = 15.0,
        write_timeout: float = 10.0,
        stream_budget: int = 128 * 1024,
        replay_messages: Optional[int] = None,
        web_root: Path = WEB_ROOT,
    ) -> None:
        self.bus = pushbus.Bus() if replay_messages is None else pushbus.Bus(ring_max_messages=replay_messages)
        self.allowed_origins = frozenset(allowed_origins)
        self.jwt_secret = jwt_secret or None
        self.heartbeat = heartbeat
        self.write_timeout = write_timeout
        self.stream_budget = stream_budget
        self.web_root = web_root
        self._poller: Optional[pushbus.Poller] = None

    # -- application ----------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.cors_middleware])
        app.router.add_get("/", self.index)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_post("/rooms/{room}/messages", self.post_message)
        app.router.add_get("/rooms/{room}/connectors", self.connectors)
        app.router.add_get("/rooms/{room}/poll", self.short_poll)
        app.router.add_get("/rooms/{room}/longpoll", self.long_poll)
        app.router.add_get("/rooms/{room}/events", self.sse)
        app.router.add_get("/rooms/{room}/xhr", self.xhr)
        app.router.add_get("/rooms/{room}/iframe", self.iframe)
        app.router.add_get("/rooms/{room}/ws", self.websocket)
        app.router.add_static("/static/", self.web_root, follow_symlinks=False)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app: web.Application) -> None:
        self._poller = self.bus.poller()

    async def _stop(self, app: web.Application) -> None:
        if self._poller is not None:
            self._poller.close()
        self.bus.close()

    @property
    def poller(self) -> pushbus.Poller:
        assert self._poller is not None, "the app is not started"
        return self._poller

    # -- CORS -----------------------------------------------------------------

    def allowed_origin(self, request: web.Request) -> Optional[str]:
        origin = request.headers.get("Origin")
        if not origin or origin == "null":
            return None
        if origin in self.allowed_origins or origin == f"{request.scheme}://{request.host}":
            return origin
        return None

    def cors_headers(self, request: web.Request) -> Dict[str, str]:
        headers = {"Vary": "Origin"}
        origin = self.allowed_origin(request)
        if origin is not None:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Expose-Headers"] = "ETag"
        return headers

    @web.middleware
    async def cors_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return self.preflight(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        if not response.prepared:
            for name, value in self.cors_headers(request).items():
                if name == "Vary" and "Vary" in response.headers:
                    continue
                response.headers[name] = value
        if isinstance(response, web.HTTPException):
            raise response
        return response

    def preflight(self, request: web.Request) -> web.Response:
        """``OPTIONS``: 204 for allowed origins, without authentication; 403 otherwise."""
        origin = self.allowed_origin(request)
        if origin is None:
            return web.Response(status=403, headers={"Vary": "Origin"})
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID, If-None-Match",
                "Access-Control-Expose-Headers": "ETag",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    # -- request pieces ---------------------------------------------------------

    def room(self, request: web.Request) -> Tuple[str, str]:
        room = request.match_info["room"]
        if not ROOM.fullmatch(room):
            raise error(400, "room must be 1-64 characters of A-Z a-z 0-9 _ -")
        return room, f"chat.{room}"

    def authorize(self, request: web.Request, room: str) -> Optional[str]:
        """With auth on: the token's user (``sub``), after checking it allows ``room``."""
        if self.jwt_secret is None:
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else request.query.get("token")
        if not token:
            raise error(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        try:
            with pushbus.verify_jwt(token, self.jwt_secret) as claims:
                if not claims.allows(room):
                    raise error(403, "the token does not allow this room")
                return claims.sub
        except pushbus.ExpiredJwt:
            raise error(401, "the token has expired", {"WWW-Authenticate": "Bearer"}) from None
        except pushbus.InvalidJwt:
            raise error(401, "the token is invalid", {"WWW-Authenticate": "Bearer"}) from None

    def user(self, request: web.Request, token_user: Optional[str]) -> Optional[str]:
        user = token_user if token_user is not None else request.query.get("user")
        if user is None or user == "":
            return None
        if len(user) > MAX_USER_CHARS:
            raise error(400, "user must be 1-32 characters")
        return user

    def resume(self, topic: str, key: Optional[str]) -> Tuple[Dict[str, Any], Optional[Tuple[str, bytes]]]:
        """Where a stream starts: after ``key`` (none: live), and for a key that
        does not parse, a gap from the oldest held (never an error status)."""
        if key is None or key == "":
            return {}, None
        try:
            framing.key_parse(key)
            return {"after": key}, None
        except pushbus.BadToken:
            pass
        oldest = self.bus.poll(topic, oldest=True, max=1)
        if oldest.count:
            first = framing.key_parse(json.loads(oldest.json)["messages"][0]["id"])
            to = framing.key_format(first.epoch, first.seq - 1)
        else:
            to = self.bus.head(topic)
        return {"after": to}, (to, framing.gap_envelope(topic, key, to))

    # -- plain endpoints --------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.web_root / "index.html", headers={"Cache-Control": "no-cache"})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(self, request: web.Request) -> web.Response:
        s = self.bus.stats()
        lines = []
        for name, kind, value, help_text in (
            ("pushbus_published_total", "counter", s.published, "Messages published (presence events included)."),
            ("pushbus_delivered_total", "counter", s.delivered, "Messages handed to subscriptions."),
            ("pushbus_gaps_total", "counter", s.gaps, "Gap events: messages dropped for a reader."),
            ("pushbus_lag_closes_total", "counter", s.lag_closes, "Subscriptions closed because they lagged."),
            ("pushbus_subscriptions", "gauge", s.subscriptions, "Subscriptions open now."),
            ("pushbus_topics", "gauge", s.topics, "Topics that exist now."),
            ("pushbus_replay_bytes", "gauge", s.replay_bytes, "Message bytes held by the replay rings."),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        return web.Response(
            body=("\n".join(lines) + "\n").encode(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )

    async def post_message(self, request: web.Request) -> web.Response:
        room, topic = self.room(request)
        token_user = self.authorize(request, room)
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise error(413, "the body is larger than 64 KiB")
        body = await read_at_most(request, MAX_BODY + 1)  # chunked bodies have no Content-Length
        if len(body) > MAX_BODY:
            raise error(413, "the body is larger than 64 KiB")
        key = self.publish(topic, body, token_user)
        return web.json_response({"id": key}, status=201)

    def publish(self, topic: str, body: Union[bytes, str], token_user: Optional[str]) -> str:
        try:
            fields = json.loads(body)
        except (ValueError, RecursionError):  # invalid UTF-8 is a ValueError; deep nesting a RecursionError
            raise error(400, "the body is not valid JSON") from None
        if not isinstance(fields, dict):
            raise error(400, 'the body must be {"user": str, "text": str}')
        user = token_user if token_user is not None else fields.get("user")
        text = fields.get("text")
        if not isinstance(user, str) or not 1 <= len(user) <= MAX_USER_CHARS:
            raise error(400, "user must be a string of 1-32 characters")
        if not isinstance(text, str) or not 1 <= len(text.encode("utf-8", "surrogatepass")) <= MAX_TEXT_BYTES:
            raise error(400, "text must be a string of 1-4096 bytes")
        if not is_unicode(user) or not is_unicode(text):
            raise error(400, "user and text must be valid Unicode (no lone surrogates)")
        return self.bus.publish(topic, {"user": user, "text": text}, event="message")

    async def connectors(self, request: web.Request) -> web.Response:
        room, topic = self.room(request)
        self.authorize(request, room)
        people = [{"user": e.client, "since": e.since_ms} for e in self.bus.presence(topic)]
        return web.json_response({"key": self.bus.head(topic), "connectors": people})

    def lease(self, topic: str, user: Optional[str]) -> None:
        if user is not None:
            try:
                self.bus.presence_lease(topic, user, PRESENCE_LEASE, {})
            except pushbus.InvalidPresence as exc:
                raise error(400, str(exc)) from None

    def poll_response(self, result: pushbus.PollResult) -> web.Response:
        return web.Response(
            body=result.json,
            content_type="application/json",
            headers={"ETag": result.key, "Cache-Control": "no-store"},
        )

    async def short_poll(self, request: web.Request) -> web.Response:
        room, topic = self.room(request)
        user = self.user(request, self.authorize(request, room))
        key = request.query.get("key") or None
        seen = request.headers.get("If-None-Match")
        if seen is not None:
            seen = seen.strip().removeprefix("W/").strip('"') or None
        self.lease(topic, user)
        try:
            if seen is not None:
                framing.key_parse(seen)
            if key is not None:
                framing.key_parse(key)
                result = self.bus.poll(topic, after=key, max=POLL_MAX)
            else:
                result = self.bus.poll(topic, last=SHORT_POLL_INITIAL, max=SHORT_POLL_INITIAL)
        except pushbus.BadToken:
            raise error(400, "the key does not parse") from None
        if seen is not None and self.bus.head(topic) == seen:
            return web.Response(status=304, headers={"ETag": seen, "Cache-Control": "no-store"})
        return self.poll_response(result)

    async def long_poll(self, request: web.Request) -> web.Response:
        room, topic = self.room(request)
        user = self.user(request, self.authorize(request, room))
        try:
            timeout = float(request.query.get("timeout", LONGPOLL_DEFAULT))
        except ValueError:
            raise error(400, "timeout must be a number of seconds") from None
        if not 0 <= timeout <= 1e9 or timeout != timeout:
            raise error(400, "timeout must be a number of seconds")
        timeout = min(timeout, LONGPOLL_MAX)
        self.lease(topic, user)
        key = request.query.get("key") or self.bus.head(topic)
        try:
            framing.key_parse(key)
            result = self.bus.poll(topic, after=key, max=POLL_MAX)
        except pushbus.BadToken:
            raise error(400, "the key does not parse") from None
        if result.count == 0 and not result.gap and timeout > 0:
            # Held: a one-shot subscription from the key, closed on any exit
            # (a client going away cancels this handler).
            async with self.poller.subscribe(topic, after=key) as sub:
                event = await sub.next(timeout)
            if event is not None:
                result = self.bus.poll(topic, after=key, max=POLL_MAX)
        return self.poll_response(result)

    # -- streams ----------------------------------------------------------------

    async def stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        sub: pushbus.Subscription,
        encode: Callable[[Union[pushbus.Message, pushbus.Gap]], bytes],
        heartbeat: bytes,
        budget: Optional[int],
    ) -> None:
        """Writes events as they come, a heartbeat when idle, until the client
        goes, the byte budget is spent, or the reader stops reading."""
        sent = 0
        writer = Writer(request, response, self.write_timeout)
        while budget is None or sent < budget:
            event = await sub.next(self.heartbeat)
            if event is None and sub.closed:
                return  # lagged or overflowed: the client resumes from its last key
            chunk = heartbeat if event is None else encode(event)
            if not await writer.write(chunk):
                return
            sent += len(chunk)

    def stream_headers(self, request: web.Request, content_type: str) -> Dict[str, str]:
        headers = {
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Content-Type-Options": "nosniff",
        }
        headers.update(self.cors_headers(request))
        return headers

    def subscribe(
        self, topic: str, start: Dict[str, Any], user: Optional[str], frame: Literal["sse", "envelope", "ndjson"]
    ) -> pushbus.Subscription:
        # Only the transport's own frame is copied out, never the payload. A
        # reader that falls behind (the ring, or MAX_PENDING events here) is
        # closed rather than sent a gap: it reconnects from its last key.
        sub = self.poller.subscribe(
            topic, frames=frame, payload=False, max_pending=MAX_PENDING, lag="close", **start
        )
        if user is not None:
            try:
                sub.join(user, info={})
            except pushbus.InvalidPresence as exc:
                sub.close()
                raise error(400, str(exc)) from None
        return sub

    async def sse(self, request: web.Request) -> web.StreamResponse:
        room, topic = self.room(request)
        user = self.user(request, self.authorize(request, room))
        header = request.headers.get("Last-Event-ID")
        query = request.query.get("lastEventId")
        try:
            token = framing.last_event_id(header, query)
        except pushbus.BadToken:
            token = header if header is not None else query
            token = token if token else "invalid"
        start, gap = self.resume(topic, token)
        with self.subscribe(topic, start, user, "sse") as sub:
            response = web.StreamResponse(headers=self.stream_headers(request, "text/event-stream; charset=utf-8"))
            await response.prepare(request)
            first = framing.sse_preamble(SSE_RETRY_MS)
            if gap is not None:
                first += framing.sse_event(gap[1], id=gap[0], event="gap")
            if await Writer(request, response, self.write_timeout).write(first):
                await self.stream(request, response, sub, frames_of("sse"), framing.SSE_HEARTBEAT, None)
        return response

    async def xhr(self, request: web.Request) -> web.StreamResponse:
        room, topic = self.room(request)
        user = self.user(request, self.authorize(request, room))
        start, gap = self.resume(topic, request.query.get("key"))
        with self.subscribe(topic, start, user, "ndjson") as sub:
            response = web.StreamResponse(
                headers=self.stream_headers(request, "application/x-ndjson; charset=utf-8")
            )
            await response.prepare(request)
            first = framing.xhr_preamble() + (gap[1] + b"\n" if gap is not None else b"")
            if await Writer(request, response, self.write_timeout).write(first):
                await self.stream(request, response, sub, frames_of("ndjson"), b"\n", self.stream_budget)
        return response

    async def iframe(self, request: web.Request) -> web.StreamResponse:
        room, topic = self.room(request)
        user = self.user(request, self.authorize(request, room))
        callback = request.query.get("cb", "")
        if not framing.is_valid_callback(callback):
            raise error(400, "cb must match [A-Za-z_$][A-Za-z0-9_$.]{0,63}")
        start, gap = self.resume(topic, request.query.get("key"))
        open_script = framing.iframe_script_open(callback)
        close_script = framing.IFRAME_SCRIPT_CLOSE

        def chunk(event: Union[pushbus.Message, pushbus.Gap]) -> bytes:
            assert event.frames is not None
            return open_script + event.frames.envelope + close_script

        with self.subscribe(topic, start, user, "envelope") as sub:
            response = web.StreamResponse(headers=self.stream_headers(request, "text/html; charset=utf-8"))
            await response.prepare(request)
            first = framing.iframe_preamble()
            if gap is not None:
                first += open_script + gap[1] + close_script
            if await Writer(request, response, self.write_timeout).write(first):
                heartbeat = open_script + b"null" + close_script
                await self.stream(request, response, sub, chunk, heartbeat, self.stream_budget)
        return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        room, topic = self.room(request)
        if request.headers.get("Origin") and self.allowed_origin(request) is None:
            raise error(403, "origin not allowed")
        token_user = self.authorize(request, room)
        user = self.user(request, token_user)
        version = request.headers.get("Sec-WebSocket-Version")
        if version is not None and version.strip() != "13":
            raise error(426, "WebSocket version 13 only", {"Sec-WebSocket-Version": "13"})
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=MAX_BODY, autoping=True)
        if not ws.can_prepare(request).ok:
            raise error(400, "not a valid WebSocket handshake")
        start, gap = self.resume(topic, request.query.get("key"))
        with self.subscribe(topic, start, user, "envelope") as sub:
            await ws.prepare(request)

            guard = Writer(request, ws, self.write_timeout)

            async def pump() -> None:
                if gap is not None:
                    await ws.send_str(gap[1].decode())
                while not ws.closed:
                    event = await sub.next(self.heartbeat)
                    if event is None:
                        if sub.closed:
                            await ws.close(code=1013, message=b"fell behind: reconnect with your key")
                            return
                        continue
                    assert event.frames is not None
                    try:
                        await asyncio.wait_for(ws.send_str(event.frames.envelope.decode()), self.write_timeout)
                    except asyncio.TimeoutError:
                        guard.abort()  # a reader that does not read: cut off
                        return
                    if not guard.check():
                        return

            writer = asyncio.create_task(pump())
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        self.ws_post(topic, msg.data, token_user)
                    elif msg.type == WSMsgType.ERROR:
                        break
                    if writer.done():
                        break
            finally:
                writer.cancel()
                try:
                    await writer
                except (asyncio.CancelledError, asyncio.TimeoutError, ConnectionError):
                    pass
                await ws.close()
        return ws

    def ws_post(self, topic: str, data: str, token_user: Optional[str]) -> None:
        try:
            fields = json.loads(data)
        except ValueError:
            return
        if isinstance(fields, dict) and fields.get("type") == "message":
            try:
                self.publish(topic, data, token_user)
            except web.HTTPException as exc:
                log.info("ignored a WebSocket post: %s", exc.text)


Number = TypeVar("Number", int, float)


def env_number(name: str, kind: Callable[[str], Number], default: Number, minimum: Number) -> Number:
    """A number from the environment, or ``default``; a clear exit on anything else."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SystemExit(f"chat_server.py: {name}={text!r} is not {what}") from None
    if not value >= minimum:  # NaN too
        raise SystemExit(f"chat_server.py: {name}={text!r} is below {minimum}")
    return value


async def serve(chat: Chat, host: str, port: int) -> None:
    """Serves until SIGTERM or SIGINT; says where it listens once it does (port 0: any free port)."""
    runner = web.AppRunner(
        chat.app(),
        handler_cancellation=True,  # a client that goes away cancels its handler: its subscription closes
        shutdown_timeout=1.0,
        access_log=None,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"listening on http://{host}:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="listening port (default: PORT, else 8080)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    origins = tuple(o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
    chat = Chat(
        allowed_origins=origins,
        jwt_secret=os.environ.get("JWT_SECRET"),
        heartbeat=env_number("HEARTBEAT_SECONDS", float, 15.0, 0.01),
        write_timeout=env_number("WRITE_TIMEOUT_SECONDS", float, 10.0, 0.01),
        stream_budget=env_number("STREAM_BUDGET_BYTES", int, 128 * 1024, 1),
        replay_messages=env_number("REPLAY_MESSAGES", int, 0, 1) or None,  # 0: pushbus's default
        web_root=Path(os.environ.get("WEB_ROOT") or WEB_ROOT).resolve(),
    )
    port = args.port if args.port is not None else env_number("PORT", int, 8080, 0)
    asyncio.run(serve(chat, "127.0.0.1", port))


if __name__ == "__main__":
    main()
