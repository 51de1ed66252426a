"""`POST /webhooks/generic`: signed deal and ticket events from a CRM or helpdesk, through the real app to the
(fake) Slack channel that is asked who else needs to know."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.context import AppContext
from bot.delivery import DeliveryPolicy
from bot.settings import Settings
from habits.nudge_message import WHAT_ELSE, WHO_ELSE
from models.db import session_scope
from models.events import ReceivedEvent
from models.nudges import Nudge
from models.outbox import SENT, OutboxMessage
from models.watches import WatchKind, watch_channel
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, RunningApp, eventually, serving
from tests.fakes.slack_api import FakeSlack
from tests.support.databases import table_offline
from tests.support.garbage import UNREADABLE_JSON
from tests.support.mentions import pings_in
from tests.support.signing import WEBHOOK_SECRET, webhook_headers

ROOT = Path(__file__).resolve().parents[2]
DEALS = "CDEALS"
SUPPORT = "CSUPPORT"
Sessions = async_sessionmaker[AsyncSession]


def deal_event(**changes: Any) -> dict[str, Any]:
    return {
        "id": "crm-evt-1",
        "type": "deal",
        "event": "stage_changed",
        "title": "Acme renewal",
        "url": "https://crm.example.com/deals/1",
        "account": "Acme",
        "stage": "Negotiation",
        "owner": "jane@example.com",
    } | changes


async def send(
    app: RunningApp, payload: dict[str, Any] | bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if timestamp is None:
        timestamp = int(app.context.clock().timestamp())
    return await app.post("/webhooks/generic", body, webhook_headers(body, secret=secret, timestamp=timestamp))


async def given_workspace(
    context: AppContext,
    *,
    watching: dict[str, WatchKind] | None = None,
    timezone: str = "UTC",
    quiet: tuple[time, time] | None = None,
    cap: int = 6,
) -> None:
    """The bot's workspace; without quiet hours unless a test is about them, so the time of day never matters."""
    async with session_scope(context.sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=TEAM_ID)
        workspace.timezone = timezone
        workspace.quiet_start, workspace.quiet_end = quiet or (None, None)
        workspace.hourly_cap = cap
        chosen: dict[str, WatchKind] = watching if watching is not None else {DEALS: "deals"}
        for channel, kind in chosen.items():
            await watch_channel(session, workspace_id=TEAM_ID, channel_id=channel, kind=kind, user_id="UADMIN")


async def count(sessions: Sessions, table: type[ReceivedEvent | Nudge | OutboxMessage]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def nothing_stored(context: AppContext) -> bool:
    return all([await count(context.sessions, table) == 0 for table in (ReceivedEvent, Nudge, OutboxMessage)])


async def everything_sent(context: AppContext) -> bool:
    async with context.sessions() as session:
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    return statuses <= {SENT}


async def everything_decided(context: AppContext) -> bool:
    async with context.sessions() as session:
        undecided = await session.scalar(
            select(func.count()).select_from(ReceivedEvent).where(ReceivedEvent.outcome.is_(None))
        )
    return undecided == 0


async def outcome(app: RunningApp, external_id: str = "crm-evt-1") -> str:
    """What whoelse decided about an accepted event: the 202 comes first, the decision a moment later."""
    decided: list[str] = []

    async def is_decided() -> bool:
        async with app.context.sessions() as session:
            value = await session.scalar(
                select(ReceivedEvent.outcome).where(ReceivedEvent.external_id == external_id)
            )
        decided.extend([value] if value else [])
        return bool(value)

    await eventually(is_decided)
    return decided[-1]


async def posts_once_delivered(
    app: RunningApp, fake_slack: FakeSlack, channel: str = DEALS
) -> list[dict[str, Any]]:
    """What the channel shows once every accepted event is decided and everything due is sent."""
    await eventually(lambda: everything_decided(app.context))
    await eventually(lambda: everything_sent(app.context))
    return fake_slack.messages(channel)


def accepted(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 202 and body["status"] == "accepted" and isinstance(body["event_id"], int)


# ---------------------------------------------------------------------------------------------- accepted events


async def test_a_signed_stage_change_asks_the_watching_channel_both_questions(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)

    response = await send(running_app, deal_event())

    assert accepted(response)
    assert await outcome(running_app) == "nudged"
    await eventually(lambda: len(fake_slack.messages(DEALS)) == 1)
    [nudge] = fake_slack.messages(DEALS)
    assert "Acme renewal" in nudge["text"] and "Negotiation" in nudge["text"]
    assert WHO_ELSE in nudge["text"] and WHAT_ELSE in nudge["text"]
    assert any(block["type"] == "actions" for block in nudge["blocks"])


async def test_the_events_own_channel_is_where_its_nudge_goes(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)

    response = await send(running_app, deal_event(channel="CEMEA"))

    assert response.status_code == 202
    await eventually(lambda: len(fake_slack.messages("CEMEA")) == 1)
    assert fake_slack.messages(DEALS) == []


async def test_a_ticket_escalation_goes_to_the_channel_watching_tickets(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context, watching={DEALS: "deals", SUPPORT: "tickets"})

    response = await send(
        running_app, {"id": "zd-77", "type": "ticket", "event": "escalated", "title": "Printer on fire"}
    )

    assert response.status_code == 202
    await eventually(lambda: len(fake_slack.messages(SUPPORT)) == 1)
    assert "Printer on fire" in fake_slack.messages(SUPPORT)[0]["text"]


async def test_a_timestamp_a_few_minutes_old_is_still_accepted(running_app: RunningApp) -> None:
    await given_workspace(running_app.context)
    four_minutes_ago = int(running_app.context.clock().timestamp()) - 4 * 60

    response = await send(running_app, deal_event(), timestamp=four_minutes_ago)

    assert response.status_code == 202


async def test_routine_events_are_recorded_without_a_nudge(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    await given_workspace(running_app.context)

    response = await send(running_app, deal_event(event="note_added", stage=None))

    assert accepted(response)
    assert await outcome(running_app) == "not_a_juncture"
    assert await count(running_app.context.sessions, ReceivedEvent) == 1
    assert await posts_once_delivered(running_app, fake_slack) == []


async def test_with_no_channel_watching_and_none_named_the_event_is_kept_and_the_fix_is_logged(
    running_app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    await given_workspace(running_app.context, watching={})

    response = await send(running_app, deal_event())

    assert accepted(response)
    assert await outcome(running_app) == "no_channel"
    [warning] = [record for record in caplog.records if record.getMessage().startswith("event ")]
    assert "/whoelse watch deals" in warning.getMessage()
    assert await count(running_app.context.sessions, ReceivedEvent) == 1
    assert await count(running_app.context.sessions, OutboxMessage) == 0
    assert fake_slack.calls_to("chat.postMessage") == []


# ---------------------------------------------------------------------------------------------- refused requests


def _unsigned(body: bytes) -> dict[str, str]:
    headers = webhook_headers(body)
    del headers["X-Whoelse-Signature"]
    return headers


def _without_timestamp(body: bytes) -> dict[str, str]:
    headers = webhook_headers(body)
    del headers["X-Whoelse-Timestamp"]
    return headers


def _wrong_secret(body: bytes) -> dict[str, str]:
    return webhook_headers(body, secret="not-the-shared-secret")


def _signed_for_another_body(body: bytes) -> dict[str, str]:
    return webhook_headers(body.replace(b"Negotiation", b"Closed Won"))


def _six_minutes_old(body: bytes) -> dict[str, str]:
    return webhook_headers(body, timestamp=int(datetime.now(UTC).timestamp()) - 6 * 60)


def _six_minutes_ahead(body: bytes) -> dict[str, str]:
    return webhook_headers(body, timestamp=int(datetime.now(UTC).timestamp()) + 6 * 60)


def _bare_digest(body: bytes) -> dict[str, str]:
    headers = webhook_headers(body)
    headers["X-Whoelse-Signature"] = headers["X-Whoelse-Signature"].removeprefix("sha256=")
    return headers


@pytest.mark.parametrize(
    "sign",
    [
        _unsigned,
        _without_timestamp,
        _wrong_secret,
        _signed_for_another_body,
        _six_minutes_old,
        _six_minutes_ahead,
        _bare_digest,
    ],
)
async def test_unsigned_wrongly_signed_or_stale_requests_are_refused_and_nothing_is_stored(
    running_app: RunningApp, fake_slack: FakeSlack, sign: Callable[[bytes], dict[str, str]]
) -> None:
    await given_workspace(running_app.context, watching={})
    body = json.dumps(deal_event()).encode()

    response = await running_app.post("/webhooks/generic", body, sign(body))

    assert response.status_code == 401
    assert response.json()["error"]
    assert await nothing_stored(running_app.context)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_python_senders_nan_in_a_field_of_its_own_does_not_get_the_event_refused(
    running_app: RunningApp,
) -> None:
    await given_workspace(running_app.context)
    # Python's json.dumps writes NaN for a float that is not a number; whoelse ignores fields it does not know.
    body = json.dumps(deal_event(win_probability=float("nan"))).encode()
    assert b"NaN" in body

    response = await send(running_app, body)

    assert accepted(response)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"id": "crm-evt-1", "type": "deal",', "not valid JSON"),
        (b'["crm-evt-1", "deal"]', "JSON object"),
        (json.dumps({k: v for k, v in deal_event().items() if k != "id"}).encode(), "id"),
        (json.dumps({k: v for k, v in deal_event().items() if k != "type"}).encode(), "type"),
        (json.dumps({k: v for k, v in deal_event().items() if k != "event"}).encode(), "event"),
        (json.dumps({k: v for k, v in deal_event().items() if k != "title"}).encode(), "title"),
        (json.dumps(deal_event(stage=None)).encode(), "stage"),
        (json.dumps(deal_event(type="invoice")).encode(), "type"),
        (json.dumps(deal_event(url="javascript:alert(1)")).encode(), "url"),
        (
            json.dumps({"id": "zd-1", "type": "ticket", "event": "priority_raised", "title": "Printer"}).encode(),
            "priority",
        ),
    ],
)
async def test_malformed_or_incomplete_events_are_refused_naming_what_is_wrong(
    running_app: RunningApp, body: bytes, named: str
) -> None:
    await given_workspace(running_app.context, watching={})

    response = await send(running_app, body)

    assert response.status_code == 400
    problem = response.json()
    assert named in problem["error"]
    if "fields" in problem:
        assert named in [field["field"] for field in problem["fields"]]
    assert await nothing_stored(running_app.context)


@pytest.mark.parametrize("body", UNREADABLE_JSON.values(), ids=UNREADABLE_JSON.keys())
async def test_an_unreadable_body_is_refused_with_a_reason_and_no_traceback(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    await given_workspace(running_app.context, watching={})

    signed = await send(running_app, body)
    unsigned = await running_app.post("/webhooks/generic", body, {"Content-Type": "application/json"})

    assert (signed.status_code, unsigned.status_code) == (400, 401)
    assert signed.json()["error"].startswith("body ")
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert await nothing_stored(running_app.context)


def _padded_event(size: int) -> bytes:
    return json.dumps(deal_event(notes="x" * size)).encode()


async def test_an_oversized_body_is_refused(running_app: RunningApp) -> None:
    await given_workspace(running_app.context, watching={})
    body = _padded_event(running_app.context.settings.webhook_max_body_bytes)

    response = await send(running_app, body)

    assert response.status_code == 413
    assert await nothing_stored(running_app.context)


async def test_an_oversized_body_is_refused_even_without_a_declared_length(running_app: RunningApp) -> None:
    await given_workspace(running_app.context, watching={})
    body = _padded_event(running_app.context.settings.webhook_max_body_bytes)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    headers = webhook_headers(body)
    response = await running_app.http.post("/webhooks/generic", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert await nothing_stored(running_app.context)


async def test_without_a_configured_secret_webhooks_are_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"whoelse_webhook_secret": None}), background_workers=False)
    async with serving(app) as running:
        body = json.dumps(deal_event()).encode()
        response = await running.post("/webhooks/generic", body, webhook_headers(body))

    assert response.status_code == 503
    assert "WHOELSE_WEBHOOK_SECRET" in response.json()["error"]


# ---------------------------------------------------------------------------------------------- never twice


async def test_a_repeated_event_id_nudges_once(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    await given_workspace(running_app.context)
    first = await send(running_app, deal_event())

    again = await send(running_app, deal_event())

    assert accepted(first)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate_event")
    assert again.json()["event_id"] == first.json()["event_id"]
    assert len(await posts_once_delivered(running_app, fake_slack)) == 1


async def test_a_repeated_event_id_sent_twice_at_once_nudges_once(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)

    responses = await asyncio.gather(send(running_app, deal_event()), send(running_app, deal_event()))

    assert sorted(response.status_code for response in responses) == [200, 202]
    assert len(await posts_once_delivered(running_app, fake_slack)) == 1
    assert await count(running_app.context.sessions, OutboxMessage) == 1


async def test_the_same_moment_under_another_id_is_recorded_without_a_second_nudge(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)
    await send(running_app, deal_event())

    response = await send(running_app, deal_event(id="crm-evt-2"))

    assert accepted(response)
    assert await outcome(running_app, "crm-evt-2") == "duplicate_juncture"
    assert len(await posts_once_delivered(running_app, fake_slack)) == 1


async def test_a_later_juncture_of_the_same_deal_replies_in_the_first_nudges_thread(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)
    await send(running_app, deal_event(id="crm-evt-1", event="created", stage=None))
    await send(running_app, deal_event(id="crm-evt-2", event="stage_changed", stage="Negotiation"))
    await send(running_app, deal_event(id="crm-evt-3", event="closed_won", stage=None))

    first, negotiation, won = await posts_once_delivered(running_app, fake_slack)

    assert first["thread_ts"] is None
    assert negotiation["thread_ts"] == first["ts"]
    assert won["thread_ts"] == first["ts"]
    assert "won" in won["text"]


# ---------------------------------------------------------------------------------------------- restraint


async def test_over_the_hourly_cap_nudges_are_recorded_but_not_posted(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context, cap=2)

    for n in range(3):
        await send(running_app, deal_event(id=f"crm-evt-{n}", url=f"https://crm.example.com/deals/{n}"))

    assert [await outcome(running_app, f"crm-evt-{n}") for n in range(3)] == ["nudged", "nudged", "capped"]
    assert len(await posts_once_delivered(running_app, fake_slack)) == 2
    async with running_app.context.sessions() as session:
        suppressed = list(await session.scalars(select(Nudge).where(Nudge.status == "suppressed")))
    assert [nudge.suppressed_reason for nudge in suppressed] == ["hourly_cap"]


class Clock:
    """The app's clock, moved by hand: quiet hours end when the test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ClockedApp:
    app: RunningApp
    clock: Clock


@pytest.fixture
async def clocked_app(settings: Settings) -> AsyncIterator[ClockedApp]:
    """The real app on a clock the test controls; the test runs the delivery worker, so nothing races the clock."""
    clock = Clock(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    app = create_app(
        settings,
        clock=clock,
        background_workers=False,
        delivery_policy=DeliveryPolicy(channel_interval=timedelta(0)),
    )
    async with serving(app) as running:
        yield ClockedApp(running, clock)


async def test_in_quiet_hours_a_nudge_waits_until_they_end_in_the_workspaces_zone(
    clocked_app: ClockedApp, fake_slack: FakeSlack
) -> None:
    app, clock = clocked_app.app, clocked_app.clock
    await given_workspace(app.context, timezone="America/New_York", quiet=(time(19, 0), time(8, 0)))
    # 23:30 on Tuesday 24 November in New York; already Wednesday in UTC.
    clock.now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    eight_wednesday_morning_in_new_york = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)

    response = await send(app, deal_event())
    await app.intake.drain()

    assert accepted(response)
    assert await outcome(app) == "held"
    async with app.context.sessions() as session:
        [held] = await session.scalars(select(Nudge))
    assert held.deliver_after == eight_wednesday_morning_in_new_york
    clock.now = datetime(2026, 11, 25, 12, 59, tzinfo=UTC)
    await app.context.delivery.drain()
    assert fake_slack.messages(DEALS) == []

    clock.now = eight_wednesday_morning_in_new_york
    await app.context.delivery.drain()
    [nudge] = fake_slack.messages(DEALS)
    assert "Acme renewal" in nudge["text"]


async def test_a_late_event_for_a_deal_already_nudged_joins_its_thread_after_quiet_hours(
    clocked_app: ClockedApp, fake_slack: FakeSlack
) -> None:
    app, clock = clocked_app.app, clocked_app.clock
    await given_workspace(app.context, timezone="Europe/Berlin", quiet=(time(19, 0), time(8, 0)))
    await send(app, deal_event(id="crm-evt-1", stage="Negotiation"))
    await app.intake.drain()
    await app.context.delivery.drain()
    # 23:00 in Berlin.
    clock.now = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    await send(app, deal_event(id="crm-evt-2", event="closed_won", stage=None))
    await app.intake.drain()

    clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    await app.context.delivery.drain()

    first, won = fake_slack.messages(DEALS)
    assert won["thread_ts"] == first["ts"]


# ---------------------------------------------------------------------------------------------- storage failures


async def test_an_event_that_cannot_be_stored_is_refused_for_a_retry_and_the_retry_nudges(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    context = running_app.context
    await given_workspace(context)

    async with table_offline(context.engine, "events"):
        refused = await send(running_app, deal_event())

    assert refused.status_code == 503
    assert refused.json()["retry"] is True
    assert await nothing_stored(context)
    retried = await send(running_app, deal_event())
    assert accepted(retried)
    assert await outcome(running_app) == "nudged"
    assert len(await posts_once_delivered(running_app, fake_slack)) == 1


async def test_an_accepted_event_that_cannot_be_decided_yet_is_kept_and_nudged_once_the_database_recovers(
    running_app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    context = running_app.context
    await given_workspace(context)

    async with table_offline(context.engine, "outbox"):
        response = await send(running_app, deal_event())
        await eventually(lambda: any("trying again" in record.getMessage() for record in caplog.records))
        assert await count(context.sessions, Nudge) == 0

    assert accepted(response)
    assert await outcome(running_app) == "nudged"
    assert len(await posts_once_delivered(running_app, fake_slack)) == 1
    assert await count(context.sessions, Nudge) == 1


# ---------------------------------------------------------------------------------------------- the README example


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Webhooks and connections\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's Webhooks section has no bash example"
    return found.group(1)


async def test_the_curl_example_in_the_readme_is_accepted(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    await given_workspace(running_app.context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # The app is already running (the fixture ran its start-up); uvicorn only serves it over real HTTP.
    server = uvicorn.Server(uvicorn.Config(running_app.app, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(lambda: server.started)
        shell = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            _snippet(),
            env={
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "WHOELSE_URL": f"http://127.0.0.1:{port}",
                "WHOELSE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(shell.communicate(), timeout=30)
    finally:
        server.should_exit = True
        await serving
        listener.close()

    assert shell.returncode == 0, stderr.decode()
    assert json.loads(stdout)["status"] == "accepted"
    [nudge] = await posts_once_delivered(running_app, fake_slack)
    assert "Acme renewal" in nudge["text"]


# ---------------------------------------------------------------------------------------------- what is shown

PLANTED_URL = "https://crm.example.com/d?who=@{U0000009}&g=@{group:S123}&c=#{C0000009}"


async def test_mention_markup_in_a_deals_link_pings_nobody_and_the_link_still_leads_to_the_deal(
    running_app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(running_app.context)

    assert accepted(await send(running_app, deal_event(url=PLANTED_URL)))

    [nudge] = await posts_once_delivered(running_app, fake_slack)
    assert pings_in(nudge) == []
    assert "<https://crm.example.com/d?who=@%7BU0000009%7D&g=@%7Bgroup:S123%7D&c=#%7BC0000009%7D|" in json.dumps(
        nudge["blocks"]
    )
