"""Raw connections, for bytes no client library would send.

Responses are parsed by h11 (an independent HTTP/1.1 parser); WebSocket
frames are built and parsed by ``websockets.frames``. The parser of the
server's frames is the end-to-end suite's (tests/e2e/raw.py).
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Union

import h11
from websockets.frames import Close, Frame, Opcode

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "e2e"))
from raw import ServerFrames  # noqa: E402  (the path above makes it importable)

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes


class Wire:
    """One TCP connection to the server: bytes out as given, responses and frames in."""

    def __init__(self, port: int, timeout: float = 5.0, rcvbuf: Optional[int] = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffered = b""

    def __enter__(self) -> "Wire":
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> bytes:
        """The next bytes; b"" once the server has closed (a reset counts as a close)."""
        if self.buffered:
            data, self.buffered = self.buffered, b""
            return data
        try:
            return self.sock.recv(1 << 20)
        except ConnectionResetError:
            return b""

    def response(self, method: str = "GET") -> Optional[Response]:
        """The next whole response to a request of ``method``; None if the server closed first."""
        parser = h11.Connection(our_role=h11.CLIENT)
        # h11 reads a response only after a request: a stand-in for ours,
        # proposing an upgrade so that a 101 parses too.
        parser.send(h11.Request(method=method, target="/", headers=[
            ("Host", "x"), ("Connection", "Upgrade"), ("Upgrade", "websocket")]))
        parser.send(h11.EndOfMessage())
        head: Optional[Union[h11.Response, h11.InformationalResponse]] = None
        body = b""
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = self.recv()
                if not data and head is None:
                    return None
                parser.receive_data(data)
            elif isinstance(event, h11.InformationalResponse):  # a 100 Continue, or a 101
                self.buffered = parser.trailing_data[0]
                return Response(event.status_code, headers_of(event), b"")
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                self.buffered = parser.trailing_data[0]
                return Response(head.status_code, headers_of(head), body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def closed_within(self, seconds: float) -> bool:
        """Whether the server ends the connection within ``seconds`` (bytes before the end are dropped)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.recv():
                    return True
            except socket.timeout:
                return False
        return False


def headers_of(head: Union[h11.Response, h11.InformationalResponse]) -> Dict[str, str]:
    return {name.decode().lower(): value.decode("latin-1") for name, value in head.headers}


def exchange(port: int, request: bytes, method: str = "GET") -> Optional[Response]:
    """Sends ``request`` on a new connection: the response, or None when the server closed without one."""
    with Wire(port) as wire:
        wire.send(request)
        return wire.response(method)


def request(path: str, method: str = "GET", headers: Optional[Dict[str, str]] = None, body: bytes = b"",
            version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ws_upgrade(path: str, headers: Optional[Dict[str, str]] = None) -> bytes:
    return request(path, headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                  "Sec-WebSocket-Key": WS_KEY, **(headers or {})})


def ws_frame(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = True, rsv1: bool = False) -> bytes:
    """A client frame, broken on request: websockets frames it (length, mask) as a valid binary
    frame, then its first byte is set to the FIN bit, RSV1 and opcode asked for."""
    frame = Frame(Opcode.BINARY, data).serialize(mask=mask, extensions=[])
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode.value
    return bytes([first]) + frame[1:]


def ws_open(wire: Wire, path: str = "/ws-echo") -> ServerFrames:
    """Upgrades the connection; the parser of what the server sends next."""
    wire.send(ws_upgrade(path))
    response = wire.response()
    assert response is not None and response.status == 101, response
    frames = ServerFrames()
    frames.feed(wire.buffered)
    wire.buffered = b""
    return frames


def ws_read_until_close(wire: Wire, frames: ServerFrames, within: float = 5.0) -> List[Frame]:
    """Frames until the server's Close (included) and the end of the connection."""
    seen: List[Frame] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        wire.sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = wire.recv()
        if not chunk:
            return seen
        seen += frames.feed(chunk)
    raise AssertionError(f"the connection did not end within {within} s; frames: {seen}")


def close_code(frames: List[Frame]) -> Optional[int]:
    closes = [frame for frame in frames if frame.opcode is Opcode.CLOSE]
    return Close.parse(closes[0].data).code if closes else None
