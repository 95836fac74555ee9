"""The web page in a real browser (headless Chromium over the DevTools protocol), every transport.

Skipped when no Chromium is installed (`apt-get install chromium`).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional

import httpx
import pytest
import websockets

from clients import run
from conftest import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed")
SHOTS = Path(__file__).resolve().parents[3] / "target" / "python" / "screenshots"


class Page:
    """One browser tab driven over CDP."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> Dict[str, Any]:
        ident = next(self.ids)
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return dict(reply.get("result", {}))

    async def eval(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            await asyncio.sleep(0.1)


async def browser_page() -> AsyncIterator[Page]:
    profile = tempfile.mkdtemp(prefix="pushbus-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1100,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "Chromium did not start"
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with websockets.connect(url, max_size=None) as ws:
            page = Page(ws)
            await page.call("Runtime.enable")
            yield page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group we started, by its pid
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("transport", ["sse", "ws", "xhr", "iframe", "longpoll", "poll"])
def test_page_connects_receives_sends_and_lists_connectors(server: Server, room: str, transport: str) -> None:
    with httpx.Client(base_url=server.base, timeout=10) as http:
        for i in range(3):
            assert http.post(f"/rooms/{room}/messages", json={"user": "ann", "text": f"before {i}"}).status_code == 201

        async def scenario() -> Optional[bytes]:
            async for page in browser_page():
                url = f"{server.base}/?room={room}&user=viewer&transport={transport}&connect=1"
                await page.call("Page.navigate", url=url)
                await page.wait_for("document.getElementById('state').textContent === 'connected'")
                texts = "Array.from(document.querySelectorAll('#messages li')).map(li => li.textContent).join('\\n')"
                await page.wait_for(f"({texts}).includes('before 2')")
                # live: a message posted by someone else arrives
                await asyncio.to_thread(http.post, f"/rooms/{room}/messages", json={"user": "bob", "text": "live one"})
                await page.wait_for(f"({texts}).includes('live one')")
                # the page sends (POST, or the WebSocket itself)
                await page.eval("document.getElementById('text').value = 'from the page'")
                await page.eval("document.getElementById('send-button').click()")
                await page.wait_for(f"({texts}).includes('from the page')")
                # presence: this page is a connector
                await page.wait_for("document.getElementById('connectors').textContent.includes('viewer')")
                all_text = await page.eval(texts)
                assert all_text.count("live one") == 1 and all_text.count("before 0") == 1  # nothing twice
                shot = await page.call("Page.captureScreenshot", format="png")
                return base64.b64decode(shot["data"])
            return None

        png = run(scenario(), timeout=60)
        assert png and png.startswith(b"\x89PNG")
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"page-{transport}.png").write_bytes(png)
        said = [m["data"] for m in http.get(f"/rooms/{room}/poll").json()["messages"] if m["event"] == "message"]
        assert {"user": "viewer", "text": "from the page"} in said


@pytest.mark.parametrize("transport", ["xhr", "iframe"])
def test_page_reopens_after_the_byte_budget_without_loss_or_repeat(server: Server, room: str, transport: str) -> None:
    """The server ends XHR and iframe streams after 32 KiB (in the tests): the page reopens from its key."""
    with httpx.Client(base_url=server.base, timeout=10) as http:

        async def scenario() -> None:
            async for page in browser_page():
                await page.call("Page.navigate",
                                url=f"{server.base}/?room={room}&user=re&transport={transport}&connect=1")
                await page.wait_for("document.getElementById('state').textContent === 'connected'")
                for i in range(16):  # ~64 KiB of envelopes: at least one budget close
                    await asyncio.to_thread(http.post, f"/rooms/{room}/messages",
                                            json={"user": "big", "text": f"n{i:02d} " + "z" * 4000})
                texts = "Array.from(document.querySelectorAll('#messages li')).map(li => li.textContent)"
                await page.wait_for(f"{texts}.filter(t => t.includes('n15 ')).length === 1", timeout=20)
                got = [t for t in await page.eval(texts) if "big" in t]
                assert [t.split("big")[1][:3] for t in got] == [f"n{i:02d}" for i in range(16)]
                assert int(await page.eval("document.getElementById('reconnects').textContent")) >= 1
                await page.wait_for("document.getElementById('state').textContent === 'connected'")
                return

        run(scenario(), timeout=60)
