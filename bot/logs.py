"""Structured logs: one JSON object per line, so log search can filter on fields."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.http_exchange import Exchange

# uvicorn adds a coloured copy of some messages as `color_message`: terminal escapes have no place in a log line.
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
access_logger = logging.getLogger("whoelse.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _ANSI_ESCAPE.sub("", record.getMessage()),
        }
        # Fields passed with `extra={...}` become top-level keys.
        entry.update(
            {
                key: _ANSI_ESCAPE.sub("", value) if isinstance(value, str) else value
                for key, value in vars(record).items()
                if key not in _STANDARD
            }
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler logs every job run at INFO; keep its warnings (missed runs) and errors.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    # uvicorn's access line is one preformatted string without the time taken; AccessLog logs fields instead.
    logging.getLogger("uvicorn.access").disabled = True


# A connection's webhook address ends in its key: whoever reads the logs need not learn where to send deliveries.
_CONNECTION_KEY = re.compile(r"^(/webhooks/[^/]+/)[^/]+$")


def logged_path(path: str) -> str:
    return _CONNECTION_KEY.sub(r"\1…", path)


class AccessLog:
    """ASGI middleware: one log line per HTTP request, with client, method, path, status and duration_ms as fields."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange()
        try:
            await exchange.run(self.app, scope, receive, send)
        finally:
            client = scope["client"][0] if scope.get("client") else None
            # The path without its query string, which may carry tokens.
            method, path = scope["method"], logged_path(scope["path"])
            status, duration_ms = exchange.status, round(exchange.seconds * 1000, 1)
            access_logger.info(
                '%s "%s %s" %d %.1f ms',
                client,
                method,
                path,
                status,
                duration_ms,
                extra={
                    "client": client,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
