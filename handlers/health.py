"""Liveness that means something (the database answers, and answers soon), and Prometheus' scrape."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import AppContext
from bot.metrics import Metrics
from bot.single_flight import SingleFlight

logger = logging.getLogger(__name__)

# Orchestrators give a probe a second or two: a database that has not answered by then is as good as down, and
# saying so in time is what lets them tell a stuck replica from a slow one.
PROBE_SECONDS = 1.0


def register(app: FastAPI) -> None:
    # While the database stalls, probes share the one query already waiting instead of piling up a connection each.
    app.state.health_probes = SingleFlight[str, None]("health-probe")
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])


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


async def metrics(request: Request) -> Response:
    """Prometheus' scrape: the counters as they stand, and the outbox and scheduler as they are now."""
    context: AppContext = request.app.state.context
    collected: Metrics = request.app.state.metrics
    collected.scheduler_leader.set(1 if context.scheduler_role == "leader" else 0)
    await collected.read_outbox(context.sessions, context.clock())
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
