"""How `whoelse serve` runs uvicorn facing the internet: a deadline for each request's headers, a cap on
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


def header_deadline_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request line and headers are not all in within
    `seconds` of the connection opening (or of the previous response on it ending).

    uvicorn has no such deadline of its own: its keep-alive timer runs only between requests and stops at the first
    byte, so a client sending half a header line and then nothing keeps the connection forever.
    """

    class HeaderDeadlineProtocol(H11Protocol):
        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._stop_waiting()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # A pipelined request may already have been read by now; otherwise the next one's clock starts.
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._stop_waiting()
            self._header_deadline = self.loop.call_later(seconds, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                # DEBUG: each slow client would otherwise be a log line an attacker can multiply at will.
                logger.debug("closed a connection whose request headers were not in within %ss", seconds)
                self.transport.close()

    return HeaderDeadlineProtocol


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        http=header_deadline_protocol(settings.http_header_timeout_seconds),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # Past this many open connections (or requests in progress) uvicorn answers 503 rather than take on more.
        limit_concurrency=settings.http_max_connections,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )
