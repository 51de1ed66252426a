"""The app as started paces what it posts to one channel as Slack asks: about one message a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import create_app
from bot.settings import Settings
from habits.messages import Message, Paragraph
from models.base import utcnow
from models.db import session_scope
from models.outbox import enqueue
from models.workspaces import get_or_create_workspace
from tests.conftest import TEAM_ID, eventually, serving
from tests.fakes.slack_api import FakeSlack
from tests.support.signing import BOT_TOKEN

CHANNEL = "CPACED"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    # Answers a second post to a channel within a second with a 429, as Slack does.
    with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM_ID, channel_rate_limit_per_second=1) as slack:
        yield slack


async def test_posts_queued_together_for_one_channel_go_out_in_order_and_none_is_refused(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with serving(create_app(settings, job_sources=[])) as app:
        async with session_scope(app.context.sessions) as session:
            await get_or_create_workspace(session, workspace_id=TEAM_ID)
            for word in ("first", "second", "third"):
                await enqueue(
                    session,
                    workspace_id=TEAM_ID,
                    idempotency_key=f"paced:{word}",
                    channel_id=CHANNEL,
                    message=Message(text=word, parts=[Paragraph(text=word)]),
                    not_before=utcnow(),
                )
        app.context.delivery.wake()

        await eventually(lambda: len(fake_slack.messages(CHANNEL)) == 3)

    assert [message["text"] for message in fake_slack.messages(CHANNEL)] == ["first", "second", "third"]
    assert fake_slack.rate_limited() == 0
