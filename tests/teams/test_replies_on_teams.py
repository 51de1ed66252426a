"""Everything whoelse says on Teams speaks Teams: typed to the bot, every command (with good words, wrong words and
none) is answered without naming Slack or Slack's `/whoelse`."""

from __future__ import annotations

import json

import pytest

from tests.teams.activities import personal_chat
from tests.teams.scenario import Teams, send

TYPED = [
    "",
    "help",
    "help me",
    "frobnicate",
    "nudge",
    "nudge Acme renewal pricing",
    "watch",
    "watch deals",
    "watch spaceships",
    "unwatch",
    "unwatch deals",
    "stats",
    "stats please",
    "snooze",
    "snooze 4h",
    "snooze forever",
    "snooze off",
    "elephant",
    "elephant now",
    "elephant weekly",
    "elephant weekly fri 15:00",
    "elephant off",
    "roundtable",
    "roundtable set",
    "roundtable cancel",
    "settings",
    "status",
]


def said(teams: Teams) -> list[str]:
    """Everything whoelse sent to Teams so far: texts and cards alike."""
    return [json.dumps(sent.activity, ensure_ascii=False) for sent in teams.connector.activities()]


@pytest.mark.parametrize("person", ["Jane Doe", "Omar Haddad"], ids=["admin", "member"])
async def test_no_reply_to_any_command_names_slack_or_its_slash_command(
    teams_with_admins: Teams, person: str
) -> None:
    teams = teams_with_admins
    for text in TYPED:
        await teams.type(text, person=person)
    await send(teams.app, teams.login, teams.connector, personal_chat("watch deals", teams.connector.service_url))
    await teams.app.context.delivery.drain()

    replies = said(teams)
    assert len(replies) > len(TYPED)
    for reply in replies:
        assert "Slack" not in reply and "/whoelse" not in reply, reply
