"""SIGTERM and SIGINT stop the server at once and cleanly, whatever is open: the ASan build reports no
leak and no error, and exits 0 (conftest's stop() checks both)."""

from __future__ import annotations

import json
import signal
from contextlib import ExitStack

import pytest
from websockets.frames import Opcode

from conftest import Server
from wire import Wire, close_code, request, ws_frame, ws_open, ws_read_until_close

SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_stopping_with_every_kind_of_connection_open(sig: int, room: str) -> None:
    server = Server("shutdown", {})
    stopped = False
    try:
        with ExitStack() as stack:
            def wire() -> Wire:
                return stack.enter_context(Wire(server.port))

            for path in ("events?user=sse", "xhr?user=xhr", "iframe?cb=cb&user=iframe"):
                wire().send(request(f"/rooms/{room}/{path}"))
            chat, echo = wire(), wire()
            chat_frames = ws_open(chat, f"/rooms/{room}/ws?user=wes")
            echo_frames = ws_open(echo, "/ws-echo")
            echo.send(ws_frame(Opcode.TEXT, b"half of a message", fin=False))
            wire().send(request(f"/rooms/{room}/longpoll?timeout=60"))
            wire().send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a head never finished
            body = json.dumps({"user": "ann", "text": "never finished"}).encode()
            wire().send(request(f"/rooms/{room}/messages", "POST", body=body)[:-4])
            idle = wire()
            idle.send(request("/healthz"))
            assert idle.response() is not None

            server.wait_metric("pushbus_subscriptions", 5)  # 3 streams, the chat socket, the long poll
            assert server.metric("chat_connections") == 10  # with this /metrics request
            present = json.loads(server.get(f"/rooms/{room}/connectors"))["connectors"]
            assert sorted(c["user"] for c in present) == ["iframe", "sse", "wes", "xhr"]
            stopped = True
            server.stop(sig)
            # The sockets heard a Close 1001 (going away) before the end.
            assert close_code(ws_read_until_close(chat, chat_frames)) == 1001
            assert close_code(ws_read_until_close(echo, echo_frames)) == 1001
    finally:
        if not stopped:
            server.stop()
