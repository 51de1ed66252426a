"""`whoelse serve` facing the internet: the real uvicorn server, with the limits `whoelse serve` runs it with, on a
free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from bot.app import create_app
from bot.http_server import http_limits
from bot.settings import Settings
from tests.conftest import eventually, serving
from tests.support import databases

HEADER_TIMEOUT = 1.0
# How much later than the deadline a stalled connection may be closed, on a busy 2-core machine.
SLACK = 2.0


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The server's limits act before any request reaches the app: SQLite alone is enough here."""
    return databases.sqlite_copy(sqlite_template, tmp_path)


@contextlib.asynccontextmanager
async def listening(settings: Settings) -> AsyncIterator[int]:
    """The app served over real HTTP with the limits `whoelse serve` uses; yields the port."""
    async with serving(create_app(settings, background_workers=False)) as running:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        # The app is already running (serving() ran its start-up); uvicorn only serves it over real HTTP.
        config = uvicorn.Config(running.app, lifespan="off", log_level="warning", **http_limits(settings))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            await eventually(lambda: server.started)
            yield listener.getsockname()[1]
        finally:
            server.should_exit = True
            await task
            listener.close()


@pytest.fixture
def limited(settings: Settings) -> Settings:
    # A keep-alive longer than the header deadline, so that only the deadline can be what closes a connection.
    return settings.model_copy(
        update={
            "http_header_timeout_seconds": HEADER_TIMEOUT,
            "http_keep_alive_seconds": 30,
            "http_max_header_bytes": 4096,
        }
    )


async def closed_after(reader: asyncio.StreamReader) -> float:
    """Seconds until the server closes the connection (having sent nothing more)."""
    started = asyncio.get_running_loop().time()
    leftover = await asyncio.wait_for(reader.read(), timeout=HEADER_TIMEOUT + SLACK)
    assert leftover == b""
    return asyncio.get_running_loop().time() - started


async def test_a_connection_stalling_in_the_middle_of_a_header_line_is_closed_at_the_deadline(
    limited: Settings,
) -> None:
    async with listening(limited) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slack-Signat")
        await writer.drain()

        waited = await closed_after(reader)
        writer.close()

    assert HEADER_TIMEOUT - 0.1 <= waited < HEADER_TIMEOUT + SLACK


async def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(limited: Settings) -> None:
    async with listening(limited) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        await reader.readexactly(int(head.split("content-length:")[1].split("\r\n")[0]))
        writer.write(b"GET /heal")
        await writer.drain()

        waited = await closed_after(reader)
        writer.close()

    assert status.startswith(b"HTTP/1.1 200")
    # The deadline counts from the end of the response, a moment before the client had read it all.
    assert HEADER_TIMEOUT - 0.5 <= waited < HEADER_TIMEOUT + SLACK


async def test_a_request_sent_in_time_is_answered_even_when_it_arrives_in_pieces(limited: Settings) -> None:
    async with listening(limited) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHo", b"st: 127.0.0.1\r\n\r\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(HEADER_TIMEOUT / 4)

        status = await asyncio.wait_for(reader.readline(), timeout=SLACK)
        writer.close()

    assert status.startswith(b"HTTP/1.1 200")


async def test_headers_growing_past_the_limit_are_refused_without_waiting_for_their_end(limited: Settings) -> None:
    async with listening(limited) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 8192)
        await writer.drain()

        status = await asyncio.wait_for(reader.readline(), timeout=SLACK)
        writer.close()

    assert status.startswith(b"HTTP/1.1 400")
