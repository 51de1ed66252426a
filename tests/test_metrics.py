"""`GET /metrics`: what Prometheus sees move when whoelse receives events, nudges, records answers and delivers,
scraped from the real app after driving it the way Slack and a CRM do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.delivery import DeliveryPolicy
from bot.metrics import Metrics
from bot.settings import Settings
from habits.nudge_message import HELP_OPEN, LOOP_IN_NOBODY
from habits.nudging import nudge_by_hand
from models.db import session_scope
from tests.conftest import TEAM_ID, RunningApp, eventually, serving
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import CHANNEL
from tests.handlers.test_nudge_answers import button, click, help_form, pick, posted_nudge
from tests.handlers.test_nudge_answers import send as interact
from tests.handlers.test_webhooks import DEALS, deal_event, everything_sent, given_workspace, outcome
from tests.handlers.test_webhooks import send as send_webhook

Labels = dict[str, str]


async def scrape(app: RunningApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, by name and labels."""
    response = await app.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    for user in ("UANA", "UBO"):
        fake_slack.add_user(user)
    policy = DeliveryPolicy(channel_interval=timedelta(0), base_backoff_seconds=0.01, max_backoff_seconds=0.01)
    async with serving(create_app(settings, job_sources=[], delivery_policy=policy)) as running:
        yield running


async def test_a_webhook_that_nudges_moves_the_event_nudge_and_delivery_counters(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    await given_workspace(app.context)
    before = await scrape(app)

    response = await send_webhook(app, deal_event())
    assert response.status_code == 202
    assert await outcome(app) == "nudged"
    await eventually(lambda: len(fake_slack.messages(DEALS)) == 1)
    # The sender retries: stored once, counted as a duplicate.
    assert (await send_webhook(app, deal_event())).status_code == 200

    after = await scrape(app)
    assert value(before, "whoelse_nudges_posted_total") == 0
    assert value(after, "whoelse_events_received_total", source="webhook", result="stored") == 1
    assert value(after, "whoelse_events_received_total", source="webhook", result="duplicate") == 1
    assert value(after, "whoelse_events_decided_total", outcome="nudged") == 1
    assert value(after, "whoelse_nudges_posted_total") == 1
    assert value(after, "whoelse_delivery_attempts_total", result="sent") == 1
    # Requests are timed by route and status.
    assert (
        value(
            after,
            "whoelse_http_request_duration_seconds_count",
            route="/webhooks/generic",
            method="POST",
            status="202",
        )
        == 1
    )


async def test_a_routine_event_is_counted_by_its_outcome_and_posts_nothing(app: RunningApp) -> None:
    await given_workspace(app.context)

    await send_webhook(app, deal_event(event="note_added", stage=None))
    assert await outcome(app) == "not_a_juncture"

    after = await scrape(app)
    assert value(after, "whoelse_events_decided_total", outcome="not_a_juncture") == 1
    assert value(after, "whoelse_nudges_posted_total") == 0


async def test_each_kind_of_answer_is_counted_once(app: RunningApp, fake_slack: FakeSlack) -> None:
    nudge_id, nudge_ts = await posted_nudge(app, fake_slack)

    await interact(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
    # The same selection again records nothing new, and is not counted again.
    await interact(app, click(pick(nudge_id, ["UBO"]), ts=nudge_ts))
    await interact(app, click(button(LOOP_IN_NOBODY, nudge_id), ts=nudge_ts, user="UBO"))
    await interact(app, help_form(nudge_id, text="I can join the call"))
    await eventually(lambda: everything_sent(app.context))

    after = await scrape(app)
    assert value(after, "whoelse_answers_recorded_total", kind="loop_in") == 1
    assert value(after, "whoelse_answers_recorded_total", kind="nobody_else") == 1
    assert value(after, "whoelse_answers_recorded_total", kind="help") == 1
    # The nudge itself, by hand, is a nudge posted too.
    assert value(after, "whoelse_nudges_posted_total") == 1
    # Opening the help form is not an answer.
    await interact(app, click(button(HELP_OPEN, nudge_id), ts=nudge_ts))
    assert value(await scrape(app), "whoelse_answers_recorded_total", kind="help") == 1


async def test_rate_limits_retries_and_failures_are_told_apart(app: RunningApp, fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit_next("chat.postMessage")
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    await posted_nudge(app, fake_slack)
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    async with session_scope(app.context.sessions) as session:
        await nudge_by_hand(
            session,
            workspace_id=TEAM_ID,
            channel_id=CHANNEL,
            user_id="UASKER",
            text="Gone",
            now=app.context.clock(),
        )
    app.context.delivery.wake()

    async def one_failed() -> bool:
        return value(await scrape(app), "whoelse_delivery_attempts_total", result="failed") == 1

    await eventually(one_failed)
    after = await scrape(app)
    assert value(after, "whoelse_delivery_attempts_total", result="rate_limited") == 1
    assert value(after, "whoelse_delivery_attempts_total", result="retrying") == 1
    assert value(after, "whoelse_delivery_attempts_total", result="sent") == 1
    assert value(after, "whoelse_nudges_posted_total") == 1


async def test_the_outbox_gauges_show_what_waits_and_for_how_long(settings: Settings) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = [now]
    # Nobody delivers: what is queued stays queued.
    application = create_app(settings, job_sources=[], background_workers=False, clock=lambda: clock[0])
    async with serving(application) as app:
        empty = await scrape(app)
        async with session_scope(app.context.sessions) as session:
            await nudge_by_hand(
                session, workspace_id=TEAM_ID, channel_id=CHANNEL, user_id="UASKER", text="Acme", now=now
            )
            await nudge_by_hand(
                session, workspace_id=TEAM_ID, channel_id="COTHER", user_id="UASKER", text="Beta", now=now
            )
        clock[0] = now + timedelta(seconds=90)

        waiting = await scrape(app)

    assert value(empty, "whoelse_outbox_pending_messages") == 0
    assert value(empty, "whoelse_outbox_oldest_due_age_seconds") == 0
    assert value(waiting, "whoelse_outbox_pending_messages") == 2
    assert value(waiting, "whoelse_outbox_oldest_due_age_seconds") == pytest.approx(90, abs=1)


async def test_the_scheduler_leader_gauge_follows_this_replicas_role(settings: Settings) -> None:
    async with serving(create_app(settings, job_sources=[])) as leading:

        async def is_leader() -> bool:
            return value(await scrape(leading), "whoelse_scheduler_leader") == 1

        # On PostgreSQL the replica is elected a moment after start.
        await eventually(is_leader)
    off = settings.model_copy(update={"scheduler": "off"})
    async with serving(create_app(off, job_sources=[])) as standing_by:
        assert value(await scrape(standing_by), "whoelse_scheduler_leader") == 0


def test_a_late_job_start_is_observed_as_lag() -> None:
    metrics = Metrics()
    scheduled = datetime.now(UTC) - timedelta(seconds=7)

    metrics.job_submitted(JobSubmissionEvent(EVENT_JOB_SUBMITTED, "weekly-poll", "default", [scheduled]))

    assert metrics.registry.get_sample_value("whoelse_scheduler_job_lag_seconds_count") == 1
    lag = metrics.registry.get_sample_value("whoelse_scheduler_job_lag_seconds_sum")
    assert lag is not None and 7 <= lag < 9
    assert metrics.registry.get_sample_value("whoelse_scheduler_job_lag_seconds_bucket", {"le": "5.0"}) == 0


async def test_paths_that_match_no_route_share_one_series(app: RunningApp) -> None:
    for path in ("/wp-admin", "/.env", "/webhooks/generic/../../etc/passwd"):
        await app.http.get(path)

    after = await scrape(app)
    assert (
        value(after, "whoelse_http_request_duration_seconds_count", route="unmatched", method="GET", status="404")
        == 3
    )
    assert not [key for key in after if ("route", "/wp-admin") in key[1]]


async def test_each_app_counts_for_itself(settings: Settings, fake_slack: FakeSlack) -> None:
    first, second = create_app(settings, job_sources=[]), create_app(settings, job_sources=[])
    async with serving(first) as one, serving(second) as other:
        await one.http.get("/healthz")

        assert (
            value(
                await scrape(one),
                "whoelse_http_request_duration_seconds_count",
                route="/healthz",
                method="GET",
                status="200",
            )
            == 1
        )
        assert (
            value(
                await scrape(other),
                "whoelse_http_request_duration_seconds_count",
                route="/healthz",
                method="GET",
                status="200",
            )
            == 0
        )
