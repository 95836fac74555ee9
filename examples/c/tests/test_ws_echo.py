"""/ws-echo against an independent client (websockets) and raw frames: RFC 6455 conformance."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from typing import Any, List

import pytest
import websockets
from websockets.frames import Close, Opcode

from conftest import Server
from wire import Wire, close_code, ws_frame, ws_open, ws_read_until_close

MAX_MESSAGE = 16 * 1024 * 1024
MAX_FRAGMENTS = 65_536


def run(coroutine: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def echo_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/ws-echo"


def test_text_and_binary_come_back_with_their_opcode(server: Server) -> None:
    async def scenario() -> List[Any]:
        async with websockets.connect(echo_url(server)) as ws:
            got = []
            for message in ("héllo", b"\x00\xff\x10", "", b""):
                await ws.send(message)
                got.append(await ws.recv())
            return got

    assert run(scenario()) == ["héllo", b"\x00\xff\x10", "", b""]


def test_fragmented_messages_come_back_whole(server: Server) -> None:
    async def scenario() -> List[Any]:
        async with websockets.connect(echo_url(server)) as ws:
            # A code point split across fragments is fine (validated as a whole).
            await ws.send(["caf", "\u00e9"[:1], " au lait"])
            await ws.send([b"ab", b"", b"cd"])
            return [await ws.recv(), await ws.recv()]

    assert run(scenario()) == ["café au lait", b"abcd"]


def test_a_16_mib_message_comes_back_intact(server: Server) -> None:
    payload = os.urandom(MAX_MESSAGE)

    async def scenario() -> bytes:
        async with websockets.connect(echo_url(server), max_size=None) as ws:
            await ws.send(payload)
            return bytes(await ws.recv())

    assert hashlib.sha256(run(scenario())).digest() == hashlib.sha256(payload).digest()


def raw_close_code(server: Server, *frames: bytes) -> int | None:
    with Wire(server.port) as wire:
        parser = ws_open(wire)
        try:
            wire.send(b"".join(frames))
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while sending: its Close is read below
        return close_code(ws_read_until_close(wire, parser))


def test_a_message_declared_one_byte_over_16_mib_closes_with_1009_before_its_payload(server: Server) -> None:
    header = ws_frame(Opcode.BINARY, b"x" * (MAX_MESSAGE + 1))[:14]  # the 64-bit length and the mask
    assert raw_close_code(server, header) == 1009


def test_fragments_adding_up_to_over_16_mib_close_with_1009(server: Server) -> None:
    half = MAX_MESSAGE // 2
    frames = [ws_frame(Opcode.BINARY, b"a" * half, fin=False), ws_frame(Opcode.CONT, b"b" * half, fin=False),
              ws_frame(Opcode.CONT, b"c")]
    assert raw_close_code(server, *frames) == 1009


def test_65536_fragments_pass_and_one_more_closes_with_1009(server: Server) -> None:
    async def echo_of(pieces: int) -> bytes:
        async with websockets.connect(echo_url(server)) as ws:
            # websockets ends a fragmented message with an empty final frame: pieces + 1 frames.
            await ws.send([b"f"] * pieces)
            return bytes(await ws.recv())

    assert run(echo_of(MAX_FRAGMENTS - 1)) == b"f" * (MAX_FRAGMENTS - 1)
    frames = [ws_frame(Opcode.BINARY, b"f", fin=False)]
    frames += [ws_frame(Opcode.CONT, b"f", fin=False)] * (MAX_FRAGMENTS - 1)
    frames += [ws_frame(Opcode.CONT, b"f")]
    assert raw_close_code(server, *frames) == 1009


@pytest.mark.parametrize("frames", [
    [ws_frame(Opcode.TEXT, b"\xff\xfe")],
    [ws_frame(Opcode.TEXT, b"\xed\xa0\x80")],  # a UTF-16 surrogate
    [ws_frame(Opcode.TEXT, b"ok \xe2\x82", fin=False), ws_frame(Opcode.CONT, b"\x28")],  # bad continuation byte
], ids=["bytes", "surrogate", "across-fragments"])
def test_invalid_utf8_text_closes_with_1007(server: Server, frames: List[bytes]) -> None:
    assert raw_close_code(server, *frames) == 1007


@pytest.mark.parametrize("frames", [
    [ws_frame(Opcode.TEXT, b"unmasked", mask=False)],
    [ws_frame(Opcode.TEXT, b"rsv1", rsv1=True)],
    [bytes([0x83, 0x80, 0, 0, 0, 0])],  # reserved opcode 3, empty, masked
    [ws_frame(Opcode.PING, b"p" * 126)],
    [ws_frame(Opcode.PING, b"p", fin=False)],
    [ws_frame(Opcode.CONT, b"nothing to continue")],
    [ws_frame(Opcode.TEXT, b"a", fin=False), ws_frame(Opcode.TEXT, b"b")],
    [ws_frame(Opcode.CLOSE, b"\x03")],  # a one-byte Close payload
    [ws_frame(Opcode.CLOSE, (1005).to_bytes(2, "big"))],  # a code no one may send
    [ws_frame(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"\xff")],  # a reason that is not UTF-8
], ids=["unmasked", "rsv1", "opcode-3", "long-ping", "fragmented-ping", "lone-continuation",
        "text-inside-fragments", "short-close", "reserved-code", "bad-reason"])
def test_protocol_errors_close_with_1002(server: Server, frames: List[bytes]) -> None:
    assert raw_close_code(server, *frames) == 1002


def test_a_ping_gets_a_pong_with_its_payload_even_between_fragments(server: Server) -> None:
    with Wire(server.port) as wire:
        parser = ws_open(wire)
        wire.send(ws_frame(Opcode.TEXT, b"be", fin=False) + ws_frame(Opcode.PING, b"are you there?")
                  + ws_frame(Opcode.CONT, b"fore"))
        frames = []
        while len(frames) < 2:
            frames += parser.feed(wire.recv())
        assert [(f.opcode, f.data) for f in frames] == [(Opcode.PONG, b"are you there?"), (Opcode.TEXT, b"before")]


@pytest.mark.parametrize("code,reason", [(1000, b"bye"), (4000, b"app"), (None, b"")])
def test_a_close_is_echoed_then_the_server_ends_the_connection(server: Server, code: int | None,
                                                              reason: bytes) -> None:
    payload = b"" if code is None else Close(code, reason.decode()).serialize()
    with Wire(server.port) as wire:
        parser = ws_open(wire)
        wire.send(ws_frame(Opcode.CLOSE, payload))
        frames = ws_read_until_close(wire, parser)  # returns once the server ends the TCP connection
        assert [f.opcode for f in frames] == [Opcode.CLOSE]
        assert (Close.parse(frames[0].data).code if frames[0].data else None) == code


def test_no_origin_or_token_is_needed(server: Server) -> None:
    async def scenario() -> str:
        async with websockets.connect(echo_url(server), origin=websockets.Origin("http://evil.example")) as ws:
            await ws.send("still echoed")
            return str(await ws.recv())

    assert run(scenario()) == "still echoed"


def test_a_client_that_sends_but_never_reads_is_held_back(impatient_server: Server) -> None:
    """Reading pauses while an echo waits to be written: the server's buffers stay bounded, and the
    write timeout (1 s here) ends the connection."""
    message = ws_frame(Opcode.BINARY, b"m" * (1 << 20))
    with Wire(impatient_server.port, timeout=0.5, rcvbuf=4096) as wire:
        ws_open(wire, "/ws-echo")
        wire.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        accepted = 0
        try:
            for _ in range(200):  # 200 MiB, far more than a bounded server takes
                wire.sock.sendall(message)
                accepted += len(message)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
    # One message held by the decoder, one echo waiting, the kernels' buffers: far below 200 MiB.
    assert accepted < 40 * (1 << 20), f"the server took {accepted >> 20} MiB from a client that never reads"
