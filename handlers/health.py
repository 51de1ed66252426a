"""Liveness that means something: the database answers, and answers soon."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import AppContext
from bot.single_flight import SingleFlight

logger = logging.getLogger(__name__)

# Orchestrators give a probe a second or two: a database that has not answered by then is as good as down, and
# saying so in time is what lets them tell a stuck replica from a slow one.
PROBE_SECONDS = 1.0


def register(app: FastAPI) -> None:
    # While the database stalls, probes share the one query already waiting instead of piling up a connection each.
    app.state.health_probes = SingleFlight[str, None]("health-probe")
    app.add_api_route("/healthz", healthz, methods=["GET"])


async def healthz(request: Request) -> JSONResponse:
    context: AppContext = request.app.state.context
    probes: SingleFlight[str, None] = request.app.state.health_probes
    try:
        await asyncio.wait_for(probes.run("database", lambda: _ask(context.engine)), timeout=PROBE_SECONDS)
    except TimeoutError:
        logger.error("health check: the database did not answer within %ss", PROBE_SECONDS)
        return JSONResponse({"status": "unhealthy", "database": "not answering"}, status_code=503)
    except Exception:
        logger.exception("health check: database unreachable")
        return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def _ask(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
