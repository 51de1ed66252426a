"""One HTTP request as an ASGI middleware sees it: the status the client was told and how long it took."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Exchange:
    """Runs the request through the app, noting its status; read `status` and `seconds` once `run` ends (also
    when it raises: the client is then told 500 by Starlette's error middleware)."""

    def __init__(self) -> None:
        self.status = 500
        self._started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._started

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            await send(message)

        await app(scope, receive, send_noting_status)
