"""Workspace settings: each mistake is named next to its field, nothing is half-saved, and the admin gets a receipt."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack.blocks import dialog_values, render_dialog
from habits.form_origin import FormOrigin
from habits.workspace_settings import (
    HOURLY_CAP,
    JUNCTURES,
    QUIET_END,
    QUIET_START,
    TIMEZONE,
    InvalidSettings,
    WorkspaceSettings,
    read_settings,
    save_settings,
    settings_dialog,
)
from models.db import session_scope
from models.outbox import OutboxMessage
from models.workspaces import DEFAULT_JUNCTURES, Workspace, get_or_create_workspace

WORKSPACE = "T0001"

Sessions = async_sessionmaker[AsyncSession]


def form(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        TIMEZONE: "Europe/Berlin",
        QUIET_START: "19:00",
        QUIET_END: "08:00",
        HOURLY_CAP: "6",
        JUNCTURES: ["deal.closed_won", "ticket.escalated"],
    }
    values.update(changes)
    return values


def errors_for(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidSettings) as caught:
        read_settings(form(**changes))
    return caught.value.errors


def test_a_complete_form_reads_as_settings() -> None:
    assert read_settings(form(timezone=" america/new_york ", quiet_start="7:30", hourly_cap="0")) == (
        WorkspaceSettings(
            timezone="America/New_York",
            quiet_start=time(7, 30),
            quiet_end=time(8, 0),
            hourly_cap=0,
            junctures=["deal.closed_won", "ticket.escalated"],
        )
    )


def test_no_quiet_hours_and_no_moments_are_allowed() -> None:
    settings = read_settings(form(quiet_start=None, quiet_end="  ", junctures=[]))
    assert (settings.quiet_start, settings.quiet_end, settings.junctures) == (None, None, [])


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "", "Europe/../etc", "CEST", "UTC+2"])
def test_an_unknown_time_zone_is_named_next_to_its_field(timezone: str) -> None:
    assert errors_for(timezone=timezone) == {TIMEZONE: "Pick a time zone from the list."}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({QUIET_START: "7pm"}, {QUIET_START: "Pick a time, or leave it empty."}),
        ({QUIET_END: "24:00"}, {QUIET_END: "Pick a time, or leave it empty."}),
        (
            {QUIET_END: ""},
            {QUIET_END: "Quiet hours need a start and an end; leave both empty for no quiet hours."},
        ),
        (
            {QUIET_START: "08:00"},
            {QUIET_END: "The end must differ from the start; leave both empty for no quiet hours."},
        ),
        ({HOURLY_CAP: "-1"}, {HOURLY_CAP: "Use a whole number from 0 (no cap) to 100."}),
        ({HOURLY_CAP: "many"}, {HOURLY_CAP: "Use a whole number from 0 (no cap) to 100."}),
        ({HOURLY_CAP: "101"}, {HOURLY_CAP: "Use a whole number from 0 (no cap) to 100."}),
    ],
)
def test_bad_quiet_hours_and_caps_are_named_next_to_their_fields(
    changes: dict[str, str], errors: dict[str, str]
) -> None:
    assert errors_for(**changes) == errors


def test_every_mistake_is_reported_at_once() -> None:
    assert set(errors_for(timezone="Nowhere", quiet_start="late", hourly_cap="")) == {
        TIMEZONE,
        QUIET_START,
        HOURLY_CAP,
    }


def test_moments_the_form_does_not_offer_are_ignored() -> None:
    assert read_settings(form(junctures=["deal.exploded", "deal.created"])).junctures == ["deal.created"]


def test_the_dialog_shows_the_current_settings_and_reads_back_unchanged() -> None:
    workspace = Workspace(
        id=WORKSPACE,
        timezone="Asia/Tokyo",
        quiet_start=time(20, 0),
        quiet_end=time(7, 0),
        hourly_cap=3,
        junctures=["deal.closed_lost", "ticket.reopened"],
    )
    view = render_dialog(settings_dialog(workspace, origin=FormOrigin(channel_id="CSALES", user_id="UADMIN")))
    # What Slack sends back when the admin saves without touching anything.
    state: dict[str, Any] = {"values": {}}
    for block in view["blocks"]:
        element = block.get("element")
        if element is None:
            continue
        if element["type"] == "checkboxes":
            submitted = {"type": "checkboxes", "selected_options": element.get("initial_options", [])}
        elif element["type"] == "timepicker":
            submitted = {"type": "timepicker", "selected_time": element.get("initial_time")}
        elif element["type"] == "static_select":
            submitted = {"type": "static_select", "selected_option": element.get("initial_option")}
        else:
            submitted = {"type": element["type"], "value": element.get("initial_value")}
        state["values"][block["block_id"]] = {element["action_id"]: submitted}

    assert read_settings(dialog_values(state)) == WorkspaceSettings(
        timezone="Asia/Tokyo",
        quiet_start=time(20, 0),
        quiet_end=time(7, 0),
        hourly_cap=3,
        junctures=["deal.closed_lost", "ticket.reopened"],
    )
    checkboxes = next(block["element"] for block in view["blocks"] if block.get("block_id") == JUNCTURES)
    assert [option["value"] for option in checkboxes["options"]] == DEFAULT_JUNCTURES


def test_a_dialog_with_nothing_ticked_leaves_out_initial_options() -> None:
    workspace = Workspace(
        id=WORKSPACE, timezone="UTC", quiet_start=None, quiet_end=None, hourly_cap=0, junctures=[]
    )
    view = render_dialog(settings_dialog(workspace, origin=FormOrigin(channel_id="CSALES", user_id="UADMIN")))
    checkboxes = next(block["element"] for block in view["blocks"] if block.get("block_id") == JUNCTURES)
    assert "initial_options" not in checkboxes
    quiet = next(block["element"] for block in view["blocks"] if block.get("block_id") == QUIET_START)
    assert quiet["type"] == "timepicker" and "initial_time" not in quiet


def test_the_time_zone_menu_starts_with_the_admins_own_zone_and_keeps_the_workspaces() -> None:
    workspace = Workspace(
        id=WORKSPACE, timezone="Asia/Tokyo", quiet_start=None, quiet_end=None, hourly_cap=0, junctures=[]
    )
    view = render_dialog(
        settings_dialog(
            workspace, origin=FormOrigin(channel_id="CSALES", user_id="UADMIN"), own_zone="America/New_York"
        )
    )
    zone = next(block["element"] for block in view["blocks"] if block.get("block_id") == TIMEZONE)

    assert zone["type"] == "static_select"
    assert [option["value"] for option in zone["options"][:2]] == ["America/New_York", "Asia/Tokyo"]
    assert zone["options"][0]["text"]["text"] == "America / New York (your time zone)"
    assert zone["initial_option"]["value"] == "Asia/Tokyo"
    assert len(zone["options"]) <= 100


async def test_saving_changes_the_workspace_and_sends_the_admin_one_receipt(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        workspace = await get_or_create_workspace(session, workspace_id=WORKSPACE)
        workspace.junctures = [*DEFAULT_JUNCTURES, "deal.renewal_due"]
    settings = read_settings(form(quiet_start="", quiet_end="", hourly_cap="0"))

    for _submitted_twice in range(2):
        async with session_scope(sessions) as session:
            await save_settings(
                session, workspace_id=WORKSPACE, settings=settings, saved_by="UADMIN", change_id="V0001"
            )

    async with session_scope(sessions) as session:
        saved = await session.get_one(Workspace, WORKSPACE)
        receipts = list(await session.scalars(select(OutboxMessage)))
    assert (saved.timezone, saved.quiet_start, saved.quiet_end, saved.hourly_cap) == (
        "Europe/Berlin",
        None,
        None,
        0,
    )
    # A moment set some other way survives a save from the form, which cannot show it.
    assert saved.junctures == ["deal.closed_won", "ticket.escalated", "deal.renewal_due"]
    assert [(row.dm_user_id, row.idempotency_key) for row in receipts] == [("UADMIN", "settings-saved:V0001")]
    text = receipts[0].neutral_message().text
    assert "Time zone: Europe/Berlin" in text
    assert "Quiet hours: none" in text
    assert "Hourly cap: no cap" in text
    assert "A deal is won; A ticket is escalated; deal.renewal_due" in text


async def test_saving_creates_a_workspace_seen_for_the_first_time(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await save_settings(
            session, workspace_id="TNEW", settings=read_settings(form()), saved_by="UADMIN", change_id="V1"
        )
    async with session_scope(sessions) as session:
        saved = await session.get_one(Workspace, "TNEW")
    assert (saved.quiet_start, saved.quiet_end, saved.hourly_cap) == (time(19, 0), time(8, 0), 6)
