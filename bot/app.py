"""The app factory: nothing is built at import; FastAPI's lifespan assembles the bot and tears it down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import AppContext
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.event_intake import EventIntake
from bot.logs import AccessLog
from bot.settings import ConfigurationError, Settings
from bot.slack.gateway import SlackGateway
from bot.watch_cache import WatchedChannels
from handlers import health, webhooks
from handlers import slack as slack_handlers
from handlers.slack.edge import SlackEdge
from models.base import utcnow
from models.db import create_engine_for, create_session_factory
from scheduler.jobs import JobSource
from scheduler.service import SchedulerService
from scheduler.sources import all_job_sources

logger = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 10


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    delivery_policy: DeliveryPolicy | None = None,
    background_workers: bool = True,
    socket_mode: bool = False,
    job_sources: Sequence[JobSource] | None = None,
) -> FastAPI:
    """Builds the ASGI app. `background_workers=False` leaves delivery and the scheduler to be driven by hand.

    `job_sources` replaces the features' schedules (tests use their own).
    """
    settings = settings or Settings()
    settings.require_for_serving(socket_mode=socket_mode)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(
            settings.database_url,
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            statement_timeout_seconds=settings.database_statement_timeout_seconds,
        )
        sessions = create_session_factory(engine)
        # No retries inside the client: a silently repeated post could duplicate a message; the outbox retries instead,
        # after checking whether the first attempt landed.
        client = AsyncWebClient(
            token=settings.secret("slack_bot_token"), base_url=settings.slack_api_url, retry_handlers=[]
        )
        gateway = SlackGateway(client)
        delivery = DeliveryWorker(
            sessions=sessions,
            gateway=gateway,
            policy=delivery_policy
            or DeliveryPolicy(
                max_attempts=settings.delivery_max_attempts,
                lease=timedelta(seconds=settings.delivery_lease_seconds),
            ),
            poll_seconds=settings.delivery_poll_seconds,
            clock=clock,
        )
        intake = EventIntake(
            engine=engine,
            sessions=sessions,
            delivery=delivery,
            default_timezone=settings.default_timezone,
            clock=clock,
            poll_seconds=settings.delivery_poll_seconds,
            store_timeout_seconds=settings.webhook_store_timeout_seconds,
        )
        context = AppContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            gateway=gateway,
            delivery=delivery,
            default_workspace_id=await bot_team(settings, client),
            clock=clock,
            intake=intake,
            watched=WatchedChannels(sessions),
            webhook_secret=settings.secret("whoelse_webhook_secret") if settings.webhooks_enabled else None,
        )
        signing_secret = settings.secret("slack_signing_secret")
        assert signing_secret is not None  # settings.require checked it
        bolt = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # SlackEdge checks every HTTP request's signature before Bolt reads the body (Socket Mode needs none).
            request_verification_enabled=False,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        slack_handlers.register(bolt, context)
        app.state.context = context
        app.state.slack = SlackEdge(
            bolt, signing_secret=signing_secret, max_body_bytes=settings.slack_max_body_bytes
        )
        scheduler = SchedulerService(context, all_job_sources() if job_sources is None else job_sources)
        app.state.scheduler = scheduler
        tasks: list[asyncio.Task[None]] = []
        socket: AsyncSocketModeHandler | None = None
        connecting: asyncio.Task[None] | None = None
        if background_workers:
            tasks.append(asyncio.create_task(delivery.run_forever(), name="delivery"))
            tasks.append(asyncio.create_task(intake.run_forever(), name="event-intake"))
            # With SCHEDULER=off this only records that the replica runs no jobs.
            await scheduler.start()
        if socket_mode:
            socket = AsyncSocketModeHandler(bolt, settings.secret("slack_app_token"))
            # Connected beside start-up, not within it: the SDK retries a failed connection every 10 s for ever, and
            # a start-up that never ends never opens the port and never acts on SIGTERM.
            connecting = asyncio.create_task(_connect(socket), name="socket-mode-connect")
        transport = "Socket Mode" if socket_mode else "HTTP"
        webhooks = "on" if context.webhook_secret else "off"
        logger.info(
            "whoelse is up: Slack over %s, %s, webhooks %s",
            transport,
            settings.database_label,
            webhooks,
            extra={
                "workspace": context.default_workspace_id,
                "transport": transport,
                "database": settings.database_label,
                "webhooks": webhooks,
            },
        )
        try:
            yield
        finally:
            if socket is not None and connecting is not None:
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
                await socket.close_async()  # type: ignore[no-untyped-call]
            await scheduler.stop()
            # Let delivery and intake finish what they are doing, then stop; cancel only what will not stop.
            delivery.stop()
            intake.stop()
            _done, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS) if tasks else (set(), set())
            for task in stuck:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await intake.close()
            await engine.dispose()

    app = FastAPI(title="whoelse", lifespan=lifespan)
    app.add_middleware(AccessLog)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        edge: SlackEdge = request.app.state.slack
        return await edge.handle(request)

    health.register(app)
    webhooks.register(app)
    return app


async def bot_team(settings: Settings, client: AsyncWebClient | None = None) -> str:
    """The Slack team the bot token belongs to; also proves the token and SLACK_API_URL work."""
    client = client or AsyncWebClient(token=settings.secret("slack_bot_token"), base_url=settings.slack_api_url)
    try:
        response = await client.auth_test()
    except SlackApiError as error:
        raise ConfigurationError(
            f"Slack refused the bot token ({error.response.get('error')}). Check SLACK_BOT_TOKEN."
        ) from error
    except Exception as error:
        raise ConfigurationError(
            f"Could not reach the Slack Web API at {settings.slack_api_url}: {error}. Check SLACK_API_URL."
        ) from error
    return str(response["team_id"])


async def check_app_token(settings: Settings) -> None:
    """Proves the app-level token before Socket Mode connects: the SDK would retry a refused one for ever."""
    client = AsyncWebClient(base_url=settings.slack_api_url)
    try:
        await client.apps_connections_open(app_token=settings.secret("slack_app_token") or "")
    except SlackApiError as error:
        raise ConfigurationError(
            f"Slack refused the app token ({error.response.get('error')}). Check SLACK_APP_TOKEN: it needs the "
            "connections:write scope (Basic Information > App-Level Tokens)."
        ) from error
    except Exception as error:
        raise ConfigurationError(
            f"Could not reach the Slack Web API at {settings.slack_api_url}: {error}. Check SLACK_API_URL."
        ) from error


async def _connect(socket: AsyncSocketModeHandler) -> None:
    await socket.connect_async()  # type: ignore[no-untyped-call]
