"""How `whoelse serve` runs uvicorn facing the internet: deadlines for each request's headers and body, a cap on
connections, and a cap on the size of a request's line and headers."""

from __future__ import annotations

import asyncio
import logging
from typing import TypedDict

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.settings import Settings

logger = logging.getLogger(__name__)


class HttpLimits(TypedDict):
    """uvicorn.run's keyword arguments for the limits (`uvicorn.run(app, ..., **http_limits(settings))`)."""

    http: type[asyncio.Protocol]
    timeout_keep_alive: int
    limit_concurrency: int
    h11_max_incomplete_event_size: int


def request_deadline_protocol(header_seconds: float, body_seconds: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol, closing a connection whose client is too slow to send a request: its line and
    headers must be in within `header_seconds` of the connection opening (or of the previous response on it ending),
    its body within `body_seconds` of the headers.

    uvicorn has no such deadline of its own: its keep-alive timer runs only between requests and stops at the first
    byte, so a client sending half a header line, or a body one byte at a time, keeps the connection for as long as
    it likes. How long the app takes to answer is not limited here.
    """

    class RequestDeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        # The part of a request the deadline is for: h11.IDLE (line and headers) or h11.SEND_BODY.
        _owed: type[h11.IDLE] | type[h11.SEND_BODY] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._follow()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Either the client owes the next request now, or (answered early) still the rest of this one's body.
            self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop()
            super().connection_lost(exc)

        def _follow(self) -> None:
            """Starts the deadline for what the client owes now, unless it is the one already running."""
            owed = self.conn.their_state
            if self.transport.is_closing() or (owed is not h11.IDLE and owed is not h11.SEND_BODY):
                self._stop()
            elif owed is not self._owed:
                self._stop()
                self._owed = owed
                seconds = header_seconds if owed is h11.IDLE else body_seconds
                self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _stop(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline, self._owed = None, None

        def _too_slow(self) -> None:
            part = "line and headers" if self._owed is h11.IDLE else "body"
            self._deadline, self._owed = None, None
            if not self.transport.is_closing():
                # DEBUG: each slow client would otherwise be a log line an attacker can multiply at will.
                logger.debug("closed a connection whose request %s took too long", part)
                self.transport.close()

    return RequestDeadlineProtocol


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        http=request_deadline_protocol(settings.http_header_timeout_seconds, settings.http_body_timeout_seconds),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # Past this many open connections (or requests in progress) uvicorn answers 503 rather than take on more.
        limit_concurrency=settings.http_max_connections,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )
