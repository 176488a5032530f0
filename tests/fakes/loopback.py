"""An aiohttp application served on 127.0.0.1 from a thread of its own.

Its own thread and loop: Litestar's test client blocks the test's event loop while a request runs, so a fake
served on that loop could never answer the service's call.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from tests.fakes.ports import free_port


class LoopbackServer:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner = web.AppRunner(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
