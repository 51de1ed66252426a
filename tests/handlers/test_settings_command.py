"""`/whoelse settings`: admins change workspace settings in a dialog; nobody else can, not even with a forged one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from habits.workspace_settings import HOURLY_CAP, JUNCTURES, QUIET_END, QUIET_START, SETTINGS_DIALOG, TIMEZONE
from models.db import session_scope
from models.outbox import OutboxMessage
from models.workspaces import DEFAULT_JUNCTURES, Workspace
from tests.conftest import TEAM_ID, RunningApp, eventually
from tests.fakes.slack_api import FakeSlack
from tests.handlers.slash_commands import reply_to, running, whoelse
from tests.support.logs import failures
from tests.support.signing import slack_interaction

ADMIN = "UADMIN"
MEMBER = "UMEMBER"


@pytest.fixture
async def app(settings: Settings, fake_slack: FakeSlack) -> AsyncIterator[RunningApp]:
    fake_slack.add_user(ADMIN, is_admin=True)
    fake_slack.add_user(MEMBER)
    async with running(settings) as application:
        yield application


async def open_dialog(app: RunningApp, fake_slack: FakeSlack) -> dict[str, Any]:
    response = await whoelse(app, "settings", user=ADMIN, trigger_id="trigger-admin")
    assert response.status_code == 200
    # The dialog is the answer: Slack gets a bare acknowledgement, with nothing to show in the channel.
    assert response.content == b""
    opened = fake_slack.views_opened
    assert len(opened) == 1
    assert opened[0]["trigger_id"] == "trigger-admin"
    return {**opened[0]["view"], "id": opened[0]["view_id"]}


def filled_in(view: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The state Slack submits for this view: what it showed, with the admin's `changes` typed over it."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element")
        if element is None:
            continue
        input_id = block["block_id"]
        if element["type"] == "checkboxes":
            chosen = changes.get(input_id, [option["value"] for option in element.get("initial_options", [])])
            selected = [option for option in element["options"] if option["value"] in chosen]
            values[input_id] = {element["action_id"]: {"type": "checkboxes", "selected_options": selected}}
        elif element["type"] == "timepicker":
            picked = changes.get(input_id, element.get("initial_time"))
            values[input_id] = {element["action_id"]: {"type": "timepicker", "selected_time": picked}}
        elif element["type"] == "static_select":
            initial = (element.get("initial_option") or {}).get("value")
            option = {"value": changes.get(input_id, initial)}
            values[input_id] = {element["action_id"]: {"type": "static_select", "selected_option": option}}
        else:
            value = changes.get(input_id, element.get("initial_value"))
            values[input_id] = {element["action_id"]: {"type": element["type"], "value": value}}
    return {"values": values}


async def submit(app: RunningApp, view: dict[str, Any], *, user: str = ADMIN, **changes: Any) -> Any:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user, "team_id": TEAM_ID, "name": user.lower()},
        "api_app_id": "AWHOELSE",
        "token": "legacy-verification-token",
        "trigger_id": "trigger-submit",
        "view": {**view, "team_id": TEAM_ID, "state": filled_in(view, **changes), "hash": "1.abc"},
    }
    body, headers = slack_interaction(payload)
    response = await app.post("/slack/events", body, headers)
    assert response.status_code == 200
    return response.json() if response.content else None


async def workspace(app: RunningApp) -> Workspace:
    async with session_scope(app.context.sessions) as session:
        return await session.get_one(Workspace, TEAM_ID)


async def test_people_who_are_not_admins_are_politely_refused(app: RunningApp, fake_slack: FakeSlack) -> None:
    reply = await reply_to(app, "settings", user=MEMBER)

    assert reply.startswith("Sorry, only workspace admins can change whoelse's settings")
    assert fake_slack.views_opened == []


async def test_admins_get_a_dialog_showing_the_current_settings(app: RunningApp, fake_slack: FakeSlack) -> None:
    view = await open_dialog(app, fake_slack)

    assert view["callback_id"] == SETTINGS_DIALOG
    elements = {block["block_id"]: block["element"] for block in view["blocks"] if "element" in block}
    assert elements[TIMEZONE]["type"] == "static_select"
    assert elements[TIMEZONE]["initial_option"]["value"] == "UTC"
    assert elements[TIMEZONE]["options"][0]["text"]["text"] == "UTC (your time zone)"
    assert [elements[QUIET_START]["type"], elements[QUIET_END]["type"]] == ["timepicker", "timepicker"]
    assert (elements[QUIET_START]["initial_time"], elements[QUIET_END]["initial_time"]) == ("19:00", "08:00")
    assert elements[HOURLY_CAP]["initial_value"] == "6"
    assert elements[JUNCTURES]["type"] == "checkboxes"
    assert [option["value"] for option in elements[JUNCTURES]["initial_options"]] == DEFAULT_JUNCTURES


async def test_a_submitted_dialog_is_saved_and_the_admin_gets_a_receipt(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_dialog(app, fake_slack)

    answer = await submit(
        app,
        view,
        timezone="Europe/Berlin",
        quiet_start="20:30",
        quiet_end="07:15",
        hourly_cap="2",
        junctures=["deal.closed_won", "ticket.escalated"],
    )

    # A bare acknowledgement closes the dialog.
    assert answer is None
    saved = await workspace(app)
    assert (saved.timezone, saved.quiet_start, saved.quiet_end, saved.hourly_cap) == (
        "Europe/Berlin",
        time(20, 30),
        time(7, 15),
        2,
    )
    assert saved.junctures == ["deal.closed_won", "ticket.escalated"]
    await eventually(lambda: len(fake_slack.messages(fake_slack.dm_channel_id(ADMIN))) == 1)
    receipt = fake_slack.messages(fake_slack.dm_channel_id(ADMIN))[0]["text"]
    assert "whoelse settings saved" in receipt
    assert "Quiet hours: 20:30–07:15" in receipt


async def test_an_invalid_time_zone_is_shown_next_to_its_field_and_nothing_is_saved(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_dialog(app, fake_slack)

    answer = await submit(app, view, timezone="Mars/Olympus_Mons", hourly_cap="3")

    assert answer == {
        "response_action": "errors",
        "errors": {TIMEZONE: "Pick a time zone from the list."},
    }
    saved = await workspace(app)
    assert (saved.timezone, saved.hourly_cap) == ("UTC", 6)


async def test_a_submission_from_someone_who_is_not_an_admin_is_refused(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_dialog(app, fake_slack)

    answer = await submit(app, view, user=MEMBER, hourly_cap="0")

    assert answer == {
        "response_action": "errors",
        "errors": {TIMEZONE: "Only workspace admins can change these settings."},
    }
    assert (await workspace(app)).hourly_cap == 6
    async with session_scope(app.context.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_an_admin_who_lost_their_rights_cannot_save_the_dialog_they_opened(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    view = await open_dialog(app, fake_slack)
    fake_slack.add_user(ADMIN, is_admin=False)

    answer = await submit(app, view, hourly_cap="0")

    assert answer["response_action"] == "errors"
    assert (await workspace(app)).hourly_cap == 6


ADMIN_CHECK = "check your admin rights"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (
            {"status": 503, "error": "service_unavailable"},
            f"I couldn't reach Slack to {ADMIN_CHECK} just now. Please try again in a minute.",
        ),
        (
            {"error": "missing_scope"},
            f"whoelse lacks a Slack permission it needs to {ADMIN_CHECK} (`missing_scope`). Whoever runs whoelse "
            "needs to reinstall the Slack app with the scopes in manifest.yml.",
        ),
        (
            {"error": "token_revoked"},
            f"Slack refused whoelse's own access (`token_revoked`), so I can't {ADMIN_CHECK}. Whoever runs "
            "whoelse needs to check its Slack bot token.",
        ),
        (
            {"error": "fatal_error"},
            f"Slack answered with an error (`fatal_error`), so I couldn't {ADMIN_CHECK}. If it keeps happening, "
            "tell whoever runs whoelse.",
        ),
    ],
)
async def test_when_slack_cannot_confirm_an_admin_the_reply_says_what_went_wrong(
    app: RunningApp, fake_slack: FakeSlack, fault: dict[str, Any], said: str
) -> None:
    view = await open_dialog(app, fake_slack)
    fake_slack.fail_next("users.info", times=3, **fault)

    assert await reply_to(app, "settings", user=ADMIN) == said
    assert await reply_to(app, "status", user=ADMIN) == said
    assert await submit(app, view, hourly_cap="2") == {"response_action": "errors", "errors": {TIMEZONE: said}}
    assert (await workspace(app)).hourly_cap == 6


async def test_someone_slack_does_not_know_is_told_so_not_that_slack_was_unreachable(app: RunningApp) -> None:
    for command in ("settings", "status"):
        reply = await reply_to(app, command, user="UOUTSIDER")

        assert reply == (
            f"Slack doesn't know your account in the workspace whoelse serves, so I can't {ADMIN_CHECK}. "
            "If you're in a channel shared with another organisation, ask someone from this workspace."
        )


async def test_a_rate_limited_admin_check_says_slack_asked_to_slow_down(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    # More refusals than whoelse's read retries, with no wait between them.
    fake_slack.rate_limit_next("users.info", times=3, retry_after=0)

    reply = await reply_to(app, "settings", user=ADMIN)

    assert reply == (
        f"Slack asked whoelse to slow down, so I couldn't {ADMIN_CHECK} just now. Please try again in a minute."
    )


async def test_a_settings_dialog_is_saved_only_by_the_admin_who_opened_it(
    app: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UOTHERADMIN", is_admin=True)
    view = await open_dialog(app, fake_slack)

    answer = await submit(app, view, user="UOTHERADMIN", hourly_cap="0")

    assert answer["response_action"] == "errors"
    assert "open it again" in answer["errors"][TIMEZONE]
    assert (await workspace(app)).hourly_cap == 6


@pytest.mark.parametrize("typed", ["²", "٣", "-1", "1.5", "9" * 5000])
async def test_an_odd_hourly_cap_is_shown_next_to_its_field_without_a_failure(
    app: RunningApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, typed: str
) -> None:
    view = await open_dialog(app, fake_slack)

    answer = await submit(app, view, hourly_cap=typed)

    assert answer == {
        "response_action": "errors",
        "errors": {HOURLY_CAP: "Use a whole number from 0 (no cap) to 100."},
    }
    assert (await workspace(app)).hourly_cap == 6
    assert failures(caplog) == []
