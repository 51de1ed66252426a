"""Probes and metrics: liveness (the database answers, and soon), readiness (this replica can do its work) and
Prometheus' scrape."""

from __future__ import annotations

import asyncio
import functools
import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import AppContext
from bot.metrics import Metrics
from bot.schema import applied_revisions, head_revisions, schema_problem
from bot.single_flight import SingleFlight
from scheduler.service import SchedulerService

logger = logging.getLogger(__name__)

# Orchestrators give a probe a second or two: a database that has not answered by then is as good as down, and
# saying so in time is what lets them tell a stuck replica from a slow one.
PROBE_SECONDS = 1.0


def register(app: FastAPI) -> None:
    # While the database stalls, probes share the one query already waiting instead of piling up a connection each.
    app.state.health_probes = SingleFlight[str, None]("health-probe")
    app.state.schema_probes = SingleFlight[str, set[str]]("schema-probe")
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", readyz, methods=["GET"])
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


# The code does not change while it runs: its migrations' heads are read once.
_heads = functools.cache(head_revisions)
# The background work every replica does (bot/app.py names the tasks).
WORKERS = ("delivery", "event-intake")


async def readyz(request: Request) -> JSONResponse:
    """200 when this replica can do its work: the schema is the one this code expects, delivery and intake run,
    and the scheduler runs if this replica leads it. Otherwise 503, naming each part that is not ready."""
    context: AppContext = request.app.state.context
    parts: dict[str, str] = {"schema": await _schema_state(request, context.engine)}
    workers: dict[str, asyncio.Task[None]] = getattr(request.app.state, "workers", {})
    for name in WORKERS:
        task = workers.get(name)
        parts[name] = "running" if task is not None and not task.done() else "not running"
    scheduler: SchedulerService = request.app.state.scheduler
    role = context.scheduler_role
    leading = scheduler.scheduler is not None and scheduler.scheduler.running
    parts["scheduler"] = role if role != "leader" or leading else "leader, but not running"
    ready = parts["schema"] == "current" and all(parts[name] == "running" for name in WORKERS)
    ready = ready and not parts["scheduler"].endswith("not running")
    return JSONResponse({"status": "ready" if ready else "not ready", **parts}, status_code=200 if ready else 503)


async def _schema_state(request: Request, engine: AsyncEngine) -> str:
    probes: SingleFlight[str, set[str]] = request.app.state.schema_probes
    try:
        applied = await asyncio.wait_for(probes.run("schema", lambda: _revisions(engine)), timeout=PROBE_SECONDS)
    except TimeoutError:
        logger.error("readiness check: the database did not answer within %ss", PROBE_SECONDS)
        return "database not answering"
    except Exception:
        logger.exception("readiness check: database unreachable")
        return "database unreachable"
    if applied == _heads():
        return "current"
    return schema_problem(applied) or "current"


async def _revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(applied_revisions)


async def metrics(request: Request) -> Response:
    """Prometheus' scrape: the counters as they stand, and the outbox and scheduler as they are now."""
    context: AppContext = request.app.state.context
    collected: Metrics = request.app.state.metrics
    collected.scheduler_leader.set(1 if context.scheduler_role == "leader" else 0)
    await collected.read_outbox(context.sessions, context.clock())
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
