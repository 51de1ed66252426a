"""The app factory: nothing is built at import; FastAPI's lifespan assembles the bot and tears it down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
from apscheduler.events import EVENT_JOB_SUBMITTED
from fastapi import FastAPI, Request, Response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import AppContext
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.event_intake import EventIntake
from bot.gateway import ChatGateway
from bot.gateways import GatewayDirectory
from bot.hubspot.crm import HubSpotCrm
from bot.hubspot.details import HubSpotDetails
from bot.hubspot.tokens import HubSpotTokens, can_use_hubspot
from bot.logs import AccessLog
from bot.metrics import Metrics, RequestMetrics
from bot.people_by_email import PeopleByEmail
from bot.settings import ConfigurationError, Settings
from bot.slack.authorize import StoredAuthorize
from bot.slack.gateway import SlackGateway
from bot.slack.oauth.flow import STATE_EXPIRATION_SECONDS, TOKEN_ROTATION_MINUTES, oauth_flow
from bot.slack.oauth.installation_store import SqlInstallationStore
from bot.slack.oauth.state_store import SqlOAuthStateStore
from bot.slack.remembered import RememberedInstallations
from bot.slack.removal import WorkspaceRemoval
from bot.slack.turned_off import SlackTurnedOff
from bot.slack.workspaces import InstalledWorkspaces, SharedRotation
from bot.watch_cache import WatchedChannels
from habits.vendor_events.hubspot import SOURCE as HUBSPOT
from handlers import health, webhooks
from handlers import slack as slack_handlers
from handlers.slack import command_router
from handlers.slack import install as slack_install
from handlers.slack import uninstall as slack_uninstall
from handlers.slack.edge import SlackEdge
from handlers.slack.not_installed import refuse_uninstalled
from handlers.slack.one_workspace import SlackHome, refuse_other_teams
from models.base import utcnow
from models.db import create_engine_for, create_session_factory, session_scope
from models.workspace_removal import clear_uninstalled
from scheduler.jobs import JobSource
from scheduler.service import SchedulerService
from scheduler.sources import all_job_sources

if TYPE_CHECKING:
    # Loaded at run time only where they are used: the Teams SDK by a bot that serves Teams, Socket Mode's client by
    # a bot that connects through it. A Slack-only start over HTTP imports neither.
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.teams_serving import TeamsServing

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
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(
            settings.database_url,
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            statement_timeout_seconds=settings.database_statement_timeout_seconds,
        )
        sessions = create_session_factory(engine)
        client: AsyncWebClient | None = None
        gateway: ChatGateway = SlackTurnedOff()
        many = _ManyWorkspaces.build(settings, sessions, clock) if settings.slack_multi_workspace else None
        if many is not None:
            # Each request's and each workspace's client gets that workspace's token; this one has none.
            client = many.client
            gateway = SlackTurnedOff(MANY_WORKSPACES_REASON)
        elif settings.slack_enabled:
            # No retries inside the client: a silently repeated post could duplicate a message; the outbox retries
            # instead, after checking whether the first attempt landed.
            client = AsyncWebClient(
                token=settings.secret("slack_bot_token"), base_url=settings.slack_api_url, retry_handlers=[]
            )
            gateway = SlackGateway(client)
        teams: TeamsServing | None = None
        if settings.teams_enabled:
            from bot.teams_serving import TeamsServing

            teams = TeamsServing.build(settings, engine, sessions)
        gateways = GatewayDirectory(
            sessions,
            slack=gateway,
            slack_per_workspace=many.workspaces.gateway if many is not None else None,
            teams=teams.gateways if teams is not None else None,
        )
        delivery = DeliveryWorker(
            sessions=sessions,
            gateway=gateway,
            gateways=gateways,
            policy=delivery_policy
            or DeliveryPolicy(
                max_attempts=settings.delivery_max_attempts,
                lease=timedelta(seconds=settings.delivery_lease_seconds),
            ),
            poll_seconds=settings.delivery_poll_seconds,
            clock=clock,
            metrics=metrics,
        )
        intake = EventIntake(
            engine=engine,
            sessions=sessions,
            delivery=delivery,
            default_timezone=settings.default_timezone,
            clock=clock,
            poll_seconds=settings.delivery_poll_seconds,
            store_timeout_seconds=settings.webhook_store_timeout_seconds,
            metrics=metrics,
            people=PeopleByEmail(gateways.for_workspace, clock=clock),
        )
        # Serving one workspace: the team (and Enterprise Grid org) the bot token belongs to.
        home = await bot_home(settings, client) if client is not None and many is None else None
        context = AppContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            gateway=gateway,
            delivery=delivery,
            # Where signed webhooks land: the Slack team, or a single-tenant Teams bot's tenant.
            # Serving many Slack workspaces, there is none: webhooks are connected per workspace.
            default_workspace_id=home.team_id
            if home is not None
            else ("" if many is not None else settings.teams_tenant_id or ""),
            clock=clock,
            intake=intake,
            watched=WatchedChannels(sessions),
            webhook_secret=_webhook_secret(settings),
            gateways=gateways,
        )
        if many is not None:
            # A new install (or a reinstall) has jobs to schedule: reconcile now rather than at the next pass.
            many.installations.on_change(lambda _workspace: context.schedule_changes.set())
        elif home is not None:
            # The bot token works (bot_home proved it): a workspace that had removed whoelse installed it again.
            await _served_again(sessions, context.default_workspace_id)
        hubspot_http = _add_hubspot_details(settings, context)
        commands = command_router()
        app.state.commands = commands
        bolt: AsyncApp | None = None
        if client is not None:
            signing_secret = settings.secret("slack_signing_secret")
            assert signing_secret is not None  # settings.require_for_serving checked it
            bolt = (
                many.bolt(signing_secret)
                if many is not None
                else AsyncApp(
                    client=client,
                    signing_secret=signing_secret,
                    # SlackEdge checks every HTTP request's signature before Bolt reads the body (Socket Mode needs
                    # none).
                    request_verification_enabled=False,
                    process_before_response=False,
                    logger=logging.getLogger("slack_bolt"),
                    before_authorize=refuse_other_teams(home) if home is not None else None,
                )
            )
            slack_handlers.register(bolt, context, commands, workspace_url=home.url if home is not None else None)
            slack_uninstall.register(
                bolt,
                WorkspaceRemoval(context, forget_tokens=many.installations.delete_workspace if many else None),
            )
            app.state.slack = SlackEdge(
                bolt, signing_secret=signing_secret, max_body_bytes=settings.slack_max_body_bytes
            )
        app.state.context = context
        if teams is not None:
            teams.serve(settings, app.state)
        if settings.teams_allow_unauthenticated:
            logger.warning(
                "TEAMS_ALLOW_UNAUTHENTICATED is on: /api/messages accepts requests from anyone, unchecked. "
                "Use it only with the Microsoft 365 Agents Playground, never where the bot can be reached."
            )
        scheduler = SchedulerService(context, all_job_sources() if job_sources is None else job_sources)
        scheduler.add_listener(metrics.job_submitted, EVENT_JOB_SUBMITTED)
        app.state.scheduler = scheduler
        tasks: list[asyncio.Task[None]] = []
        socket: AsyncSocketModeHandler | None = None
        connecting: asyncio.Task[None] | None = None
        if background_workers:
            tasks.append(asyncio.create_task(delivery.run_forever(), name="delivery"))
            tasks.append(asyncio.create_task(intake.run_forever(), name="event-intake"))
            # With SCHEDULER=off this only records that the replica runs no jobs.
            await scheduler.start()
        # What /readyz checks is running.
        app.state.workers = {task.get_name(): task for task in tasks}
        if socket_mode and bolt is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(bolt, settings.secret("slack_app_token"))
            # Connected beside start-up, not within it: the SDK retries a failed connection every 10 s for ever, and
            # a start-up that never ends never opens the port and never acts on SIGTERM.
            connecting = asyncio.create_task(_connect(socket), name="socket-mode-connect")
        transport = "Socket Mode" if socket_mode else "HTTP"
        if many is not None:
            transport += f" for every workspace that installs it at {settings.slack_install_url}"
        webhooks = "per workspace" if many is not None else "on" if context.webhook_secret else "off"
        logger.info(
            "whoelse is up: %s, %s, webhooks %s",
            _platforms_served(settings, transport),
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
            if teams is not None:
                await teams.close()
            if hubspot_http is not None:
                await hubspot_http.close()
            await engine.dispose()

    docs = settings.expose_api_docs
    app = FastAPI(
        title="whoelse",
        lifespan=lifespan,
        # Off by default: a public bot has no API for strangers to browse (EXPOSE_API_DOCS=true turns them on).
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.metrics = metrics
    app.add_middleware(AccessLog)
    app.add_middleware(RequestMetrics, metrics=metrics)

    if settings.slack_enabled:

        @app.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            edge: SlackEdge = request.app.state.slack
            return await edge.handle(request)

    if settings.slack_multi_workspace:
        slack_install.register(app)

    if settings.teams_enabled:
        from handlers import teams as teams_handlers

        teams_handlers.register(app)
    health.register(app)
    webhooks.register(app)
    return app


MANY_WORKSPACES_REASON = "whoelse serves many Slack workspaces here: each workspace's messages use its own token"


@dataclass(frozen=True)
class _ManyWorkspaces:
    """What serving many Slack workspaces adds: the installations (tokens sealed), the install flow, and a gateway
    per workspace."""

    settings: Settings
    client: AsyncWebClient
    installations: SqlInstallationStore
    states: SqlOAuthStateStore
    workspaces: InstalledWorkspaces
    rotator: SharedRotation

    @classmethod
    def build(
        cls, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> _ManyWorkspaces:
        client = AsyncWebClient(base_url=settings.slack_api_url, retry_handlers=[])
        installations = SqlInstallationStore(
            sessions, settings.secret_box(), default_timezone=settings.default_timezone, clock=clock
        )
        rotator = SharedRotation(
            RememberedInstallations(installations),
            client_id=settings.slack_client_id or "",
            client_secret=settings.secret("slack_client_secret") or "",
            client=client,
            rotation_minutes=TOKEN_ROTATION_MINUTES,
        )
        return cls(
            settings=settings,
            client=client,
            installations=installations,
            states=SqlOAuthStateStore(sessions, expiration_seconds=STATE_EXPIRATION_SECONDS, clock=clock),
            workspaces=InstalledWorkspaces(installations, base_url=settings.slack_api_url, rotation=rotator),
            rotator=rotator,
        )

    def bolt(self, signing_secret: str) -> AsyncApp:
        settings = self.settings
        bolt_logger = logging.getLogger("slack_bolt")
        # The same rotation as deliveries and jobs use, so a request and a post never rotate one token twice; and
        # auth.test once per token rather than once per request.
        authorize = StoredAuthorize(self.installations, self.rotator, client=self.client)
        return AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            request_verification_enabled=False,
            process_before_response=False,
            logger=bolt_logger,
            oauth_flow=oauth_flow(
                settings, client=self.client, installations=self.installations, states=self.states
            ),
            installation_store=self.installations,
            # Bolt takes its authorize classes here, though its annotation names only plain functions.
            authorize=authorize,  # type: ignore[arg-type]
            before_authorize=refuse_uninstalled(self.rotator.installed, install_url=settings.slack_install_url),
        )


async def _served_again(sessions: async_sessionmaker[AsyncSession], workspace_id: str) -> None:
    async with session_scope(sessions) as session:
        again = await clear_uninstalled(session, workspace_id=workspace_id)
    if again:
        logger.info("Slack workspace %s has whoelse again: its jobs and deliveries resume", workspace_id)


def _platforms_served(settings: Settings, slack_transport: str) -> str:
    """What the start-up line says is served: a Teams-only whoelse is not "Slack over HTTP"."""
    platforms = [f"Slack over {slack_transport}"] if settings.slack_enabled else []
    if settings.teams_enabled:
        checked = " without checking tokens (development only)" if settings.teams_allow_unauthenticated else ""
        platforms.append(f"Teams at /api/messages{checked}")
    return " and ".join(platforms) or f"Slack over {slack_transport}"


def _webhook_secret(settings: Settings) -> str | None:
    """Webhooks land in the Slack team the bot token belongs to, or in a single-tenant Teams bot's tenant; a
    multi-tenant Teams bot alone cannot tell which tenant a webhook is for."""
    if not settings.webhooks_enabled:
        return None
    if not settings.slack_enabled and settings.teams_tenant_id is None:
        logger.warning(
            "WHOELSE_WEBHOOK_SECRET is set but there is no workspace for the server-wide webhooks: they are refused "
            "until Slack is on or TEAMS_TENANT_ID names the Teams tenant they are for (each tenant's admins can "
            "connect their own instead, with `connect <source>` typed to the bot)"
        )
        return None
    return settings.secret("whoelse_webhook_secret")


def _add_hubspot_details(settings: Settings, context: AppContext) -> aiohttp.ClientSession | None:
    """Has HubSpot events completed from HubSpot's CRM API before they are decided, with the private app token of
    the workspace they are for (its connection's, or the settings' for this install's own workspace). Returns the
    HTTP client to close at shutdown (None when HubSpot cannot be used at all)."""
    if context.intake is None or not can_use_hubspot(context):
        return None
    http = aiohttp.ClientSession()
    context.intake.completers[HUBSPOT] = HubSpotDetails(
        sessions=context.sessions,
        crm=HubSpotCrm(http, api_url=settings.hubspot_api_url),
        token_for=HubSpotTokens(context).token_for,
        clock=context.clock,
    )
    return http


async def bot_team(settings: Settings, client: AsyncWebClient | None = None) -> str:
    """The Slack team the bot token belongs to; also proves the token and SLACK_API_URL work."""
    return (await bot_home(settings, client)).team_id


async def bot_home(settings: Settings, client: AsyncWebClient | None = None) -> SlackHome:
    """The Slack team (and Enterprise Grid org) the bot token belongs to; also proves the token and SLACK_API_URL
    work."""
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
    enterprise_id = response.get("enterprise_id")
    return SlackHome(
        team_id=str(response["team_id"]),
        enterprise_id=str(enterprise_id) if enterprise_id else None,
        is_enterprise_install=bool(response.get("is_enterprise_install")),
        url=str(response.get("url") or "") or None,
    )


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
