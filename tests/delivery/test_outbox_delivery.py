"""Every outbound message goes out exactly once, even when Slack pushes back, fails, or we crash mid-send."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.slack.gateway import SlackGateway
from habits.messages import Message, Paragraph
from models.outbox import FAILED, PENDING, SENDING, SENT, OutboxMessage, enqueue
from models.workspaces import get_or_create_workspace
from tests.conftest import eventually
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import BOT_TOKEN

WORKSPACE = "T0001"
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


class Clock:
    """Time the tests move by hand, so backoff and rate-limit waits need no sleeping."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def worker(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock, **policy: object
) -> DeliveryWorker:
    gateway = SlackGateway(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))
    return DeliveryWorker(sessions=sessions, gateway=gateway, policy=DeliveryPolicy(**policy), clock=clock)  # type: ignore[arg-type]


async def queue(
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    *,
    channel: str = "C1",
    clock: Clock,
    workspace: str = WORKSPACE,
    **extra: object,
) -> int:
    async with sessions() as session:
        await get_or_create_workspace(session, workspace_id=workspace)
        row = await enqueue(
            session,
            workspace_id=workspace,
            idempotency_key=key,
            channel_id=channel,
            message=Message(text=f"hello {key}", parts=[Paragraph(text=f"hello {key}")]),
            not_before=clock(),
            **extra,  # type: ignore[arg-type]
        )
        await session.commit()
        return row.id


async def row(sessions: async_sessionmaker[AsyncSession], row_id: int) -> OutboxMessage:
    async with sessions() as session:
        found = await session.get(OutboxMessage, row_id)
        assert found is not None
        return found


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_queued_message_is_posted_once_with_its_idempotency_key(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    row_id = await queue(sessions, "greeting", clock=clock)
    await worker(sessions, fake_slack, clock).drain()
    await worker(sessions, fake_slack, clock).drain()

    posted = fake_slack.messages("C1")
    assert [message["text"] for message in posted] == ["hello greeting"]
    assert posted[0]["metadata"]["event_payload"]["idempotency_key"] == "greeting"
    delivered = await row(sessions, row_id)
    assert (delivered.status, delivered.sent_ts) == (SENT, posted[0]["ts"])


async def test_queueing_the_same_key_twice_sends_one_message(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    first = await queue(sessions, "same", clock=clock)
    second = await queue(sessions, "same", clock=clock)
    await worker(sessions, fake_slack, clock).drain()

    assert first == second
    assert len(fake_slack.messages("C1")) == 1


async def test_slack_429_is_honoured_and_the_message_still_goes_out(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=7)
    row_id = await queue(sessions, "limited", clock=clock)
    sender = worker(sessions, fake_slack, clock)

    await sender.drain()
    waiting = await row(sessions, row_id)
    assert waiting.status == PENDING
    assert waiting.not_before == START + timedelta(seconds=7)
    assert waiting.attempts == 0, "a rate limit is not a failed attempt"
    assert fake_slack.messages("C1") == []

    clock.advance(seconds=6)
    await sender.drain()
    assert fake_slack.messages("C1") == [], "no retry before Retry-After has passed"

    clock.advance(seconds=1)
    await sender.drain()
    assert len(fake_slack.messages("C1")) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


async def test_a_429_holds_back_every_channel_of_the_workspace_until_retry_after_but_not_other_workspaces(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    # Slack caps posts per workspace as well as per channel, and a 429 does not say which limit was hit: trying the
    # workspace's other channels at once would only earn more 429s.
    fake_slack.rate_limit_next("chat.postMessage", retry_after=5)
    for channel in ("C1", "C2", "C3"):
        await queue(sessions, f"poll-{channel}", channel=channel, clock=clock)
    await queue(sessions, "elsewhere", channel="COTHER", workspace="T0002", clock=clock)
    # One send at a time, so the 429 comes back before the next channel's turn.
    sender = worker(sessions, fake_slack, clock, concurrency=1)

    await sender.drain()
    assert [m["channel"] for m in fake_slack.messages()] == ["COTHER"], "another workspace is not held back"
    assert len(fake_slack.calls_to("chat.postMessage")) == 2, "no other channel of the workspace was tried"

    clock.advance(seconds=4)
    await sender.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 2, "nothing is tried before Retry-After has passed"

    clock.advance(seconds=1)
    await sender.drain()
    assert sorted(m["channel"] for m in fake_slack.messages()) == ["C1", "COTHER"], "then one post goes first"

    clock.advance(seconds=1)
    await sender.drain()
    assert sorted(m["channel"] for m in fake_slack.messages()) == ["C1", "C2", "C3", "COTHER"]
    assert fake_slack.duplicates_by_metadata_key() == {}


async def test_after_a_429_the_workspace_posts_at_a_pace_that_starts_slow_and_picks_up_and_nothing_is_lost(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    # Sending all of a workspace's waiting posts the moment Retry-After has passed would earn the next 429s.
    fake_slack.rate_limit_next("chat.postMessage", retry_after=2)
    channels = [f"C{n:02d}" for n in range(12)]
    for channel in channels:
        await queue(sessions, f"poll-{channel}", channel=channel, clock=clock)
    sender = worker(sessions, fake_slack, clock, concurrency=1)

    posted_by_second: list[int] = []
    for _ in range(8):
        before = len(fake_slack.messages())
        for _ in range(10):
            await sender.drain()
            clock.advance(seconds=0.1)
        posted_by_second.append(len(fake_slack.messages()) - before)

    assert posted_by_second[:2] == [0, 0], "nothing before Retry-After has passed"
    assert posted_by_second[2] <= 3, "the first second after it sends a few posts, not all eleven waiting"
    assert posted_by_second[3] > posted_by_second[2], "the pace picks up as posts go through"
    assert sorted(m["channel"] for m in fake_slack.messages()) == channels, "every post lands"
    assert fake_slack.duplicates_by_metadata_key() == {}, "none twice"
    assert fake_slack.rate_limited() == 1, "and no second 429"


async def test_a_workspace_that_never_saw_a_429_is_not_slowed_by_one_that_is_paced(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)
    paced = [f"CP{n:02d}" for n in range(30)]
    for channel in paced:
        await queue(sessions, f"poll-{channel}", channel=channel, clock=clock)
    others = [f"CO{n:02d}" for n in range(10)]
    for channel in others:
        await queue(sessions, f"poll-{channel}", channel=channel, workspace="T0002", clock=clock)
    # The paced workspace's queue alone fills a batch, and was queued first.
    sender = worker(sessions, fake_slack, clock, concurrency=1, batch_size=10)

    await sender.drain()
    assert sorted(m["channel"] for m in fake_slack.messages()) == others, "all at once, without waiting"

    for _ in range(30):
        clock.advance(seconds=1)
        await sender.drain()
    assert sorted(m["channel"] for m in fake_slack.messages()) == sorted(paced + others)
    assert fake_slack.duplicates_by_metadata_key() == {}


async def test_the_running_worker_sends_a_paced_workspace_s_posts_as_its_pace_allows_not_at_its_next_poll(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)
    for channel in ("C1", "C2", "C3"):
        await queue(sessions, f"poll-{channel}", channel=channel, clock=Clock(datetime.now(UTC)))
    gateway = SlackGateway(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))
    # Nothing new is queued, so without waking for the pace the worker would look again only after its poll.
    sender = DeliveryWorker(sessions=sessions, gateway=gateway, poll_seconds=60)
    running = asyncio.create_task(sender.run_forever())
    try:
        await eventually(lambda: len(fake_slack.messages()) == 3, within=15)
    finally:
        sender.stop()
        await running
    assert fake_slack.rate_limited() == 1
    assert fake_slack.duplicates_by_metadata_key() == {}


async def test_while_slack_is_down_messages_wait_with_growing_backoff_and_are_not_lost(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.set_down(True)
    row_id = await queue(sessions, "outage", clock=clock)
    sender = worker(sessions, fake_slack, clock, base_backoff_seconds=10.0)

    waits = []
    for _ in range(3):
        await sender.drain()
        pending = await row(sessions, row_id)
        assert pending.status == PENDING
        waits.append((pending.not_before - clock()).total_seconds())
        clock.now = pending.not_before
    assert waits[0] < waits[1] < waits[2], f"backoff should grow: {waits}"
    assert (await row(sessions, row_id)).attempts == 3

    fake_slack.set_down(False)
    await sender.drain()
    assert len(fake_slack.messages("C1")) == 1
    assert (await row(sessions, row_id)).status == SENT


async def test_a_message_that_keeps_failing_is_recorded_as_failed_after_the_last_attempt(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.fail_next("chat.postMessage", times=3, status=500)
    row_id = await queue(sessions, "doomed", clock=clock)
    sender = worker(sessions, fake_slack, clock, max_attempts=3)
    for _ in range(3):
        await sender.drain()
        clock.advance(hours=1)

    failed = await row(sessions, row_id)
    assert failed.status == FAILED
    assert failed.attempts == 3
    assert failed.last_error


async def test_a_message_to_an_unknown_channel_fails_at_once_with_the_reason(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    row_id = await queue(sessions, "nowhere", clock=clock)
    await worker(sessions, fake_slack, clock).drain()

    failed = await row(sessions, row_id)
    assert (failed.status, failed.last_error) == (FAILED, "channel_not_found")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_messages_to_one_channel_are_paced_to_one_per_second(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    for key in ("first", "second"):
        await queue(sessions, key, clock=clock)
    await queue(sessions, "elsewhere", channel="C2", clock=clock)
    sender = worker(sessions, fake_slack, clock)

    await sender.drain()
    assert [m["text"] for m in fake_slack.messages("C1")] == ["hello first"]
    assert len(fake_slack.messages("C2")) == 1, "other channels are not held back"

    clock.advance(seconds=1)
    await sender.drain()
    assert [m["text"] for m in fake_slack.messages("C1")] == ["hello first", "hello second"]


async def test_a_thread_reply_waits_for_its_parent_and_lands_in_its_thread(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.set_down(True)
    parent = await queue(sessions, "parent", clock=clock)
    await queue(sessions, "reply", channel="C1", clock=clock, thread_parent_id=parent)
    sender = worker(sessions, fake_slack, clock)
    await sender.drain()
    fake_slack.set_down(False)
    clock.advance(minutes=5)
    for _ in range(3):
        await sender.drain()
        clock.advance(seconds=1)

    parent_post, reply_post = fake_slack.messages("C1")
    assert parent_post["text"] == "hello parent"
    assert reply_post["thread_ts"] == parent_post["ts"]


async def test_a_reply_to_a_post_that_failed_for_good_is_failed_too_and_the_channel_moves_on(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.fail_next("chat.postMessage", error="msg_too_long")
    parent = await queue(sessions, "parent", clock=clock)
    reply = await queue(sessions, "reply", clock=clock, thread_parent_id=parent)
    edit = await queue(sessions, "edit", clock=clock, update_of_id=parent)
    later = await queue(sessions, "later", clock=clock)
    sender = worker(sessions, fake_slack, clock)

    for _ in range(4):
        await sender.drain()
        clock.advance(seconds=1)

    assert [(await row(sessions, row_id)).status for row_id in (parent, reply, edit, later)] == [
        FAILED,
        FAILED,
        FAILED,
        SENT,
    ]
    assert "could not be sent" in ((await row(sessions, reply)).last_error or "")
    assert [message["text"] for message in fake_slack.messages("C1")] == ["hello later"]


@pytest.mark.parametrize("landed", [True, False], ids=["post-landed", "post-lost"])
async def test_after_a_crash_mid_send_the_message_is_neither_repeated_nor_dropped(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock, landed: bool
) -> None:
    row_id = await queue(sessions, "in-doubt", clock=clock)
    # The process dies while waiting for Slack's answer: either Slack had stored the post, or it had not.
    fake_slack.set_delay("chat.postMessage", 1)
    if not landed:
        fake_slack.fail_next("chat.postMessage", status=503)
    crashing = asyncio.create_task(worker(sessions, fake_slack, clock, lease=timedelta(seconds=30)).run_once())
    for _ in range(200):
        if fake_slack.calls_to("chat.postMessage"):
            break
        await asyncio.sleep(0.01)
    crashing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashing
    assert (await row(sessions, row_id)).status == SENDING
    fake_slack.set_delay("chat.postMessage", 0)

    restarted = worker(sessions, fake_slack, clock, lease=timedelta(seconds=30))
    await restarted.drain()
    assert len(fake_slack.messages("C1")) == (1 if landed else 0), "the lease of the dead worker still holds"

    clock.advance(seconds=31)
    await restarted.drain()
    assert len(fake_slack.messages("C1")) == 1
    assert fake_slack.duplicates_by_metadata_key() == {}
    delivered = await row(sessions, row_id)
    assert delivered.status == SENT
    assert delivered.sent_ts == fake_slack.messages("C1")[0]["ts"]


async def test_a_post_slack_stored_but_answered_500_is_not_posted_again_after_a_long_outage(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # The fake stamps posts with the wall clock, so the worker's hand-driven clock starts from it.
    clock = Clock(datetime.now(UTC))
    started = clock()
    fake_slack.fail_after_storing_next("chat.postMessage", status=500)
    row_id = await queue(sessions, "poll-opens", clock=clock)
    sender = worker(sessions, fake_slack, clock)
    await sender.drain()
    assert len(fake_slack.messages("C1")) == 1, "Slack stored the post although it answered 500"

    # Slack stays down while backoff carries the retries well past the first attempt.
    fake_slack.set_down(True)
    while clock() - started < timedelta(minutes=4):
        clock.now = (await row(sessions, row_id)).not_before
        await sender.drain()
    fake_slack.set_down(False)
    clock.now = (await row(sessions, row_id)).not_before
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        await sender.drain()

    posted = fake_slack.messages("C1")
    assert [message["text"] for message in posted] == ["hello poll-opens"]
    delivered = await row(sessions, row_id)
    assert (delivered.status, delivered.sent_ts) == (SENT, posted[0]["ts"])
    assert any(
        "poll-opens" in record.getMessage() and "already landed" in record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    )


async def test_queued_messages_survive_in_the_database_until_sent(
    sessions: async_sessionmaker[AsyncSession], fake_slack: FakeSlack, clock: Clock
) -> None:
    fake_slack.set_down(True)
    await queue(sessions, "kept", clock=clock)
    await worker(sessions, fake_slack, clock).drain()
    async with sessions() as session:
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert statuses == [PENDING]
