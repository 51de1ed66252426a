"""Workspace settings admins can change: time zone, quiet hours, the hourly nudge cap, which moments nudge, and who
may steer elephant polls and round-tables.

The form is a neutral `Dialog`; what comes back is checked field by field, so each mistake is shown next to the
field it is about, and nothing is saved until every field is right.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import time
from zoneinfo import available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from habits.form_origin import FormOrigin
from habits.form_values import FormValues, clock, several_of, text_of, time_of
from habits.messages import (
    Checkboxes,
    Choice,
    ChoiceInput,
    Dialog,
    Message,
    TextInput,
    TimeInput,
    ZoneSelect,
    command,
)
from habits.steering import STEERING_LABELS
from models.outbox import enqueue
from models.workspaces import DEFAULT_JUNCTURES, STEERING_CHOICES, Workspace, get_or_create_workspace

SETTINGS_DIALOG = "whoelse_settings"
TIMEZONE = "timezone"
QUIET_START = "quiet_start"
QUIET_END = "quiet_end"
HOURLY_CAP = "hourly_cap"
JUNCTURES = "junctures"
POLL_STEERING = "poll_steering"
LARGEST_HOURLY_CAP = 100

JUNCTURE_LABELS = {
    "deal.created": "A deal is created",
    "deal.stage_changed": "A deal moves to another stage",
    "deal.closed_won": "A deal is won",
    "deal.closed_lost": "A deal is lost",
    "ticket.escalated": "A ticket is escalated",
    "ticket.reopened": "A ticket is reopened",
    "ticket.priority_raised": "A ticket's priority is raised to high or urgent",
}


@dataclass(frozen=True)
class WorkspaceSettings:
    timezone: str
    quiet_start: time | None
    quiet_end: time | None
    # Nudges per channel per hour; 0 means no cap.
    hourly_cap: int
    junctures: list[str]
    # Who may start, stop and reschedule polls and round-tables; None leaves it as it is.
    poll_steering: str | None = None


class InvalidSettings(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {error}" for field, error in errors.items()))
        # Keyed by the dialog's input ids, so the platform can show each next to its field.
        self.errors = errors


def refusal() -> Message:
    return Message(
        text=(
            "Sorry, only workspace admins can change whoelse's settings: they apply to every channel. "
            "An admin can change them for you."
        )
    )


def settings_dialog(workspace: Workspace, *, origin: FormOrigin, own_zone: str = "") -> Dialog:
    """The settings form; `own_zone` (the admin's own time zone) is offered first in the zone menu."""
    return Dialog(
        callback_id=SETTINGS_DIALOG,
        title="whoelse settings",
        submit_label="Save",
        context=origin.encoded(),
        intro=(
            "These apply to every channel in this workspace. Nudges that come up during quiet hours wait "
            "until quiet hours end; nudges over the hourly cap are skipped."
        ),
        inputs=[
            ZoneSelect(input_id=TIMEZONE, label="Time zone", own_zone=own_zone, initial=workspace.timezone),
            TimeInput(
                input_id=QUIET_START,
                label="Quiet hours start (leave both empty for no quiet hours)",
                initial=_clock(workspace.quiet_start),
                optional=True,
            ),
            TimeInput(
                input_id=QUIET_END, label="Quiet hours end", initial=_clock(workspace.quiet_end), optional=True
            ),
            TextInput(
                input_id=HOURLY_CAP,
                label="Most nudges per channel per hour (0 = no cap)",
                initial=str(workspace.hourly_cap),
                max_length=3,
            ),
            Checkboxes(
                input_id=JUNCTURES,
                label="Moments that get a nudge",
                choices=[
                    Choice(value=juncture, label=JUNCTURE_LABELS[juncture]) for juncture in DEFAULT_JUNCTURES
                ],
                initial=[juncture for juncture in workspace.junctures if juncture in JUNCTURE_LABELS],
            ),
            steering_input(workspace),
        ],
    )


def steering_input(workspace: Workspace) -> ChoiceInput:
    """Its own block, so it stays apart from the other fields whatever form they take."""
    return ChoiceInput(
        input_id=POLL_STEERING,
        label="Who may start, stop and reschedule elephant polls and round-tables",
        choices=[Choice(value=value, label=STEERING_LABELS[value]) for value in STEERING_CHOICES],
        initial=workspace.poll_steering if workspace.poll_steering in STEERING_CHOICES else None,
        style="radio",
    )


def read_steering(values: FormValues, errors: dict[str, str]) -> str | None:
    """The steering choice, None when the form did not carry the field; an unknown value is an error."""
    chosen = values.get(POLL_STEERING)
    if chosen is None or chosen == "":
        return None
    if chosen not in STEERING_CHOICES:
        errors[POLL_STEERING] = "Pick one of the choices offered."
        return None
    return str(chosen)


def read_settings(values: FormValues) -> WorkspaceSettings:
    """The submitted form as settings, or `InvalidSettings` naming every field that is wrong."""
    errors: dict[str, str] = {}
    timezone = _canonical_timezone(_text(values, TIMEZONE))
    if timezone is None:
        errors[TIMEZONE] = "Pick a time zone from the list."
    quiet_start, quiet_end = _text(values, QUIET_START), _text(values, QUIET_END)
    start, end = time_of(values, QUIET_START), time_of(values, QUIET_END)
    for field, text, parsed in ((QUIET_START, quiet_start, start), (QUIET_END, quiet_end, end)):
        if text and parsed is None:
            errors[field] = "Pick a time, or leave it empty."
    if QUIET_START not in errors and QUIET_END not in errors:
        if bool(quiet_start) != bool(quiet_end):
            missing = QUIET_END if quiet_start else QUIET_START
            errors[missing] = "Quiet hours need a start and an end; leave both empty for no quiet hours."
        elif start is not None and start == end:
            errors[QUIET_END] = "The end must differ from the start; leave both empty for no quiet hours."
    cap_text = _text(values, HOURLY_CAP)
    # ASCII digits only: isdigit() also passes "²", which int() then rejects.
    cap = int(cap_text) if re.fullmatch(r"[0-9]{1,3}", cap_text) else None
    if cap is None or cap > LARGEST_HOURLY_CAP:
        errors[HOURLY_CAP] = f"Use a whole number from 0 (no cap) to {LARGEST_HOURLY_CAP}."
    chosen = several_of(values, JUNCTURES)
    junctures = [juncture for juncture in DEFAULT_JUNCTURES if juncture in chosen]
    steering = read_steering(values, errors)
    if errors or timezone is None or cap is None:
        raise InvalidSettings(errors)
    return WorkspaceSettings(
        timezone=timezone,
        quiet_start=start,
        quiet_end=end,
        hourly_cap=cap,
        junctures=junctures,
        poll_steering=steering,
    )


async def save_settings(
    session: AsyncSession,
    *,
    workspace_id: str,
    settings: WorkspaceSettings,
    saved_by: str,
    change_id: str,
    default_timezone: str = "UTC",
) -> Workspace:
    """Saves the settings and queues a receipt to the admin who saved them (once per `change_id`)."""
    workspace = await get_or_create_workspace(
        session, workspace_id=workspace_id, default_timezone=default_timezone
    )
    workspace.timezone = settings.timezone
    workspace.quiet_start = settings.quiet_start
    workspace.quiet_end = settings.quiet_end
    workspace.hourly_cap = settings.hourly_cap
    # Moments the form does not offer (set some other way) are kept rather than silently dropped.
    unlisted = [juncture for juncture in workspace.junctures if juncture not in JUNCTURE_LABELS]
    workspace.junctures = settings.junctures + unlisted
    if settings.poll_steering is not None:
        workspace.poll_steering = settings.poll_steering
    await session.flush()
    await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=f"settings-saved:{change_id}",
        dm_user_id=saved_by,
        message=saved_message(workspace),
    )
    return workspace


def saved_message(workspace: Workspace) -> Message:
    if workspace.quiet_start is not None and workspace.quiet_end is not None:
        quiet = f"{_clock(workspace.quiet_start)}–{_clock(workspace.quiet_end)}"
    else:
        quiet = "none"
    cap = "no cap" if workspace.hourly_cap == 0 else f"at most {workspace.hourly_cap} nudges per channel per hour"
    moments = [JUNCTURE_LABELS.get(juncture, juncture) for juncture in workspace.junctures]
    lines = [
        "*whoelse settings saved.*",
        f"• Time zone: {workspace.timezone}",
        f"• Quiet hours: {quiet}",
        f"• Hourly cap: {cap}",
        "• Moments that get a nudge: "
        + ("; ".join(moments) if moments else f"none (only {command('nudge <topic>')})"),
        "• Who may start, stop and reschedule polls and round-tables: "
        + STEERING_LABELS.get(workspace.poll_steering, workspace.poll_steering),
    ]
    return Message(text="\n".join(lines))


def _text(values: FormValues, input_id: str) -> str:
    return text_of(values, input_id)


def _clock(moment: time | None) -> str:
    return clock(moment)


@functools.cache
def _timezones_by_lowercase() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _canonical_timezone(text: str) -> str | None:
    """The IANA name as spelled in the database ("europe/berlin" → "Europe/Berlin"), or None if unknown."""
    return _timezones_by_lowercase().get(text.lower()) if text else None
