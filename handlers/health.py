"""Liveness that means something: the database answers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.context import AppContext

logger = logging.getLogger(__name__)


def register(app: FastAPI) -> None:
    app.add_api_route("/healthz", healthz, methods=["GET"])


async def healthz(request: Request) -> JSONResponse:
    context: AppContext = request.app.state.context
    try:
        async with context.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        logger.exception("health check: database unreachable")
        return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
