"""An aiohttp application served on 127.0.0.1 from a daemon thread with its own event loop.

Sync tests, async tests (whose loop must stay free) and standalone bench scripts can all use a fake built on it
the same way; the fakes in this package share it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    def __init__(self, name: str, build_app: Callable[[], web.Application], *, backlog: int = 128) -> None:
        self.name = name
        self._build_app = build_app
        self._backlog = backlog
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._port

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Binding here rather than in the thread gives us the port before start() returns.
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._serve, args=(loop, sock, ready, failure), name=self.name, daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError(f"{self.name} did not start within 10 s")
        if failure:
            self._thread = self._loop = None
            raise RuntimeError(f"{self.name} failed to start") from failure[0]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = None

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: threading.Event,
        failure: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        # A short shutdown timeout keeps stop() quick when a delayed answer is still in flight.
        runner = web.AppRunner(self._build_app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        try:
            loop.run_until_complete(runner.setup())
            site = web.SockSite(runner, sock, backlog=self._backlog)
            loop.run_until_complete(site.start())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            sock.close()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            # Requests still being answered (a delayed one in flight) end here, not as "Task was destroyed" noise.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.close()


class LoopbackFake:
    """A fake platform service served by a LoopbackServer: start and stop it, or use it as a context manager."""

    _server: LoopbackServer

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
