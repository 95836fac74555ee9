"""Raw sockets, for what a well-behaved client library would never send.

Responses are parsed by h11 (an independent HTTP/1.1 parser); WebSocket
frames are built and parsed by ``websockets.frames``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import h11
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's example: the accept value of WS_KEY


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes


class Connection:
    """One TCP connection that sends bytes as given and reads HTTP/1.1 responses."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffered = b""

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Sends ``data``; a server that closes early (after an error answer) just ends the sending."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def recv(self) -> bytes:
        """The next bytes, b"" at the end of the stream (a reset counts as the end)."""
        if self.buffered:
            data, self.buffered = self.buffered, b""
            return data
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def response(self) -> Optional[Response]:
        """The next whole response, or None when the server closed before one came."""
        parser = h11.Connection(our_role=h11.CLIENT)
        # h11 reads a response only after a request: a stand-in for the bytes we sent ourselves
        # (proposing an upgrade, so that a 101 parses too).
        parser.send(h11.Request(method="GET", target="/", headers=[
            ("Host", "x"), ("Connection", "Upgrade"), ("Upgrade", "websocket")]))
        parser.send(h11.EndOfMessage())
        head: Optional[h11.Response] = None
        body = b""
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = self.recv()
                if not data and head is None:
                    return None
                parser.receive_data(data)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.InformationalResponse):  # the 101 of an upgrade
                self.buffered = parser.trailing_data[0]
                return response_of(event, b"")
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                self.buffered = parser.trailing_data[0]
                return response_of(head, body)
            elif isinstance(event, h11.ConnectionClosed):
                return None


def response_of(head: Union[h11.Response, h11.InformationalResponse], body: bytes) -> Response:
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in head.headers}
    return Response(head.status_code, headers, body)


def exchange(port: int, request: bytes) -> Optional[Response]:
    """Sends ``request`` on a new connection: the response, or None if the server closed without one."""
    with Connection(port) as conn:
        conn.send(request)
        return conn.response()


def get(port: int, path: str, headers: Optional[Dict[str, str]] = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ws_upgrade(port: int, path: str, extra: Optional[Dict[str, Optional[str]]] = None) -> bytes:
    headers: Dict[str, Optional[str]] = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": WS_KEY}
    headers.update(extra or {})
    return get(port, path, {k: v for k, v in headers.items() if v is not None})


def ws_frame(opcode: Opcode, data: bytes, *, mask: bool = True) -> bytes:
    return Frame(opcode, data).serialize(mask=mask, extensions=[])


class ServerFrames:
    """Parses the server's WebSocket frames as bytes arrive (websockets' parser: unmasked, or an error)."""

    def __init__(self) -> None:
        self.reader = StreamReader()
        self.parser = Frame.parse(self.reader.read_exact, mask=False)

    def feed(self, data: bytes) -> List[Frame]:
        self.reader.feed_data(data)
        frames: List[Frame] = []
        while True:
            try:
                next(self.parser)  # it yields while it needs more bytes
                return frames
            except StopIteration as done:
                frames.append(done.value)
                self.parser = Frame.parse(self.reader.read_exact, mask=False)


def ws_close_code(conn: Connection, within: float = 5.0) -> Optional[int]:
    """Reads server frames until a Close: its code, or None if the connection ends without one.

    Fails when the server does neither within ``within`` seconds."""
    frames = ServerFrames()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = conn.recv()
        except socket.timeout:
            break
        if not chunk:
            return None
        for frame in frames.feed(chunk):
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.data).code
    raise AssertionError(f"the server neither closed the WebSocket nor ended the connection within {within} s")
