"""The round-table habit: set one up per channel, remind people with an agenda, count RSVPs, share the debrief."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.form_origin import FormOrigin
from habits.messages import Dialog, Message
from habits.recurrence import CADENCES, Recurrence, describe, next_occurrence, previous_occurrence
from habits.roundtables.agenda import agenda_items, elephants_on_agenda
from habits.roundtables.form import MAX_NOTES, RoundTablePlan
from habits.roundtables.messages import (
    RoundTableView,
    Rsvps,
    agenda,
    announcement,
    debrief,
    meeting_time,
    overview,
    reminder,
)
from habits.roundtables.notes_form import FIELD_KINDS, field_id, notes_form, read_outcomes
from habits.roundtables.outcomes import recorded_for, save_outcomes
from models.outbox import FAILED, OutboxMessage, enqueue
from models.roundtables import (
    MONTHLY,
    RoundTable,
    RoundTableMeeting,
    bump_notes_version,
    bump_rsvp_version,
    meeting_at,
    meeting_in_channel,
    record_rsvp,
    remember_reminder,
    reminders_of,
    roundtable_for_channel,
    rsvps,
)
from models.workspaces import get_or_create_workspace

ONE_MICROSECOND = timedelta(microseconds=1)

ReminderOutcome = Literal["posted", "no_roundtable", "not_a_reminder", "not_a_meeting", "meeting_started"]
RsvpOutcome = Literal["recorded", "not_found", "cancelled", "started"]
NotesOutcome = Literal["posted", "updated", "empty", "too_long", "not_found"]


def recurrence_of(roundtable: RoundTable) -> Recurrence:
    cadence = next((known for known in CADENCES if known == roundtable.cadence), None)
    if cadence is None:
        raise ValueError(f"round-table {roundtable.id} has an unknown cadence {roundtable.cadence!r}")
    return Recurrence(
        cadence=cadence,
        weekday=roundtable.weekday,
        at=roundtable.time_of_day,
        tz=roundtable.timezone,
        anchor=roundtable.anchor,
        week_of_month=roundtable.week_of_month or 1,
    )


def view_of(roundtable: RoundTable) -> RoundTableView:
    return RoundTableView(
        roundtable_id=roundtable.id,
        cadence=describe(recurrence_of(roundtable)),
        timezone=roundtable.timezone,
        invitees=list(roundtable.invitees),
        group_ids=list(roundtable.invited_groups),
        reminder_minutes=list(roundtable.reminder_minutes),
    )


def next_meeting(roundtable: RoundTable, *, now: datetime) -> datetime:
    return next_occurrence(recurrence_of(roundtable), now)


async def channel_roundtable(session: AsyncSession, *, workspace_id: str, channel_id: str) -> RoundTable | None:
    """The channel's round-table, unless it was cancelled."""
    roundtable = await roundtable_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    return roundtable if roundtable is not None and roundtable.active else None


async def set_up(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    plan: RoundTablePlan,
    now: datetime,
    default_timezone: str = "UTC",
) -> tuple[RoundTable, bool]:
    """Sets up the channel's round-table, or changes the one it has. Returns it and whether it was changed."""
    await get_or_create_workspace(session, workspace_id=workspace_id, default_timezone=default_timezone)
    roundtable = await roundtable_for_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    changed = roundtable is not None and roundtable.active
    # Changing who is invited or when in the day must not move an every-two-weeks series to the other weeks.
    keep_weeks = (
        roundtable is not None
        and changed
        and roundtable.cadence == plan.cadence
        and roundtable.weekday == plan.weekday
    )
    if roundtable is None:
        roundtable = RoundTable(workspace_id=workspace_id, channel_id=channel_id, created_at=now)
        session.add(roundtable)
    roundtable.cadence = plan.cadence
    roundtable.weekday = plan.weekday
    roundtable.week_of_month = plan.week_of_month if plan.cadence == MONTHLY else None
    roundtable.time_of_day = plan.at
    roundtable.timezone = plan.timezone
    roundtable.invitees = list(plan.invitees)
    roundtable.invited_groups = list(plan.group_ids)
    roundtable.reminder_minutes = list(plan.reminder_minutes)
    roundtable.active = True
    roundtable.set_up_by = user_id
    roundtable.updated_at = now
    if not keep_weeks:
        # Every two weeks counts from the first meeting after now; the other cadences ignore the anchor.
        weekly = Recurrence(
            cadence="weekly", weekday=plan.weekday, at=plan.at, tz=plan.timezone, anchor=now.date()
        )
        roundtable.anchor = next_occurrence(weekly, now).astimezone(weekly.zone).date()
    await session.flush()
    return roundtable, changed


async def cancel(session: AsyncSession, *, workspace_id: str, channel_id: str, now: datetime) -> bool:
    """Cancels the channel's round-table; False when it had none."""
    roundtable = await channel_roundtable(session, workspace_id=workspace_id, channel_id=channel_id)
    if roundtable is None:
        return False
    roundtable.active = False
    roundtable.updated_at = now
    await session.flush()
    return True


@dataclass(frozen=True)
class ReminderResult:
    outcome: ReminderOutcome
    meeting_id: int | None = None
    reminder_outbox_id: int | None = None
    agenda_outbox_id: int | None = None


def reminder_key(roundtable_id: int, starts_at: datetime, offset_minutes: int) -> str:
    return f"roundtable:{roundtable_id}:{starts_at.isoformat()}:{offset_minutes}"


async def post_reminder(
    session: AsyncSession, *, roundtable: RoundTable, offset_minutes: int, starts_at: datetime, now: datetime
) -> ReminderResult:
    """Queues the reminder `offset_minutes` before the meeting at `starts_at`, and the agenda with the first reminder.

    Running it twice for the same meeting queues nothing new: every message has its key.
    """
    if not roundtable.active:
        return ReminderResult("no_roundtable")
    if offset_minutes not in roundtable.reminder_minutes:
        return ReminderResult("not_a_reminder")
    recurrence = recurrence_of(roundtable)
    if next_occurrence(recurrence, starts_at - ONE_MICROSECOND) != starts_at:
        return ReminderResult("not_a_meeting")
    if starts_at <= now:
        return ReminderResult("meeting_started")
    workspace_id = roundtable.workspace_id
    meeting = await meeting_at(
        session, workspace_id=workspace_id, roundtable_id=roundtable.id, starts_at=starts_at
    )
    view = view_of(roundtable)
    row = await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=reminder_key(roundtable.id, starts_at, offset_minutes),
        channel_id=roundtable.channel_id,
        message=reminder(
            view,
            meeting_id=meeting.id,
            starts_at=starts_at,
            offset_minutes=offset_minutes,
            answers=await _answers(session, meeting),
        ),
        not_before=now,
    )
    await remember_reminder(session, meeting=meeting, offset_minutes=offset_minutes, outbox_id=row.id)
    await _show_agenda(session, roundtable=roundtable, meeting=meeting, offset_minutes=offset_minutes, now=now)
    await session.flush()
    return ReminderResult("posted", meeting.id, row.id, meeting.agenda_outbox_id)


def agenda_key(roundtable_id: int, starts_at: datetime) -> str:
    return f"roundtable:{roundtable_id}:{starts_at.isoformat()}:agenda"


async def _show_agenda(
    session: AsyncSession,
    *,
    roundtable: RoundTable,
    meeting: RoundTableMeeting,
    offset_minutes: int,
    now: datetime,
) -> None:
    """Posts the agenda with the first reminder and brings it up to date with every later one, so what happened
    in between (a poll that closed, an action item done) reaches the meeting."""
    since = previous_occurrence(recurrence_of(roundtable), meeting.starts_at - ONE_MICROSECOND)
    items = await agenda_items(
        session, roundtable=roundtable, meeting=meeting, since=since or roundtable.created_at, until=now
    )
    message = agenda(view_of(roundtable), meeting_id=meeting.id, starts_at=meeting.starts_at, items=items)
    key = agenda_key(roundtable.id, meeting.starts_at)
    if meeting.agenda_outbox_id is None:
        row = await enqueue(
            session,
            workspace_id=roundtable.workspace_id,
            idempotency_key=key,
            channel_id=roundtable.channel_id,
            message=message,
            not_before=now,
        )
        meeting.agenda_outbox_id = row.id
    elif await _latest_version(
        session, workspace_id=roundtable.workspace_id, outbox_id=meeting.agenda_outbox_id
    ) not in (
        None,
        message.model_dump(mode="json"),
    ):
        await enqueue(
            session,
            workspace_id=roundtable.workspace_id,
            idempotency_key=f"{key}:{offset_minutes}",
            channel_id=roundtable.channel_id,
            message=message,
            update_of_id=meeting.agenda_outbox_id,
            not_before=now,
        )


async def _latest_version(session: AsyncSession, *, workspace_id: str, outbox_id: int) -> dict[str, Any] | None:
    """The message as last queued for this post (the post or its latest edit); None when the post never made it,
    since an edit of it would wait forever."""
    if await _failed(session, workspace_id=workspace_id, outbox_id=outbox_id):
        return None
    return await session.scalar(
        select(OutboxMessage.message)
        .where(
            OutboxMessage.workspace_id == workspace_id,
            (OutboxMessage.id == outbox_id) | (OutboxMessage.update_of_id == outbox_id),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


async def _answers(session: AsyncSession, meeting: RoundTableMeeting) -> Rsvps:
    answers = await rsvps(session, meeting=meeting)
    return Rsvps(
        coming=[answer.user_id for answer in answers if answer.attending],
        not_coming=[answer.user_id for answer in answers if not answer.attending],
    )


async def answer_rsvp(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    meeting_id: int,
    user_id: str,
    attending: bool,
    now: datetime,
) -> RsvpOutcome:
    """Records someone's answer (changing an earlier one) and updates every reminder of the meeting to show it."""
    found = await meeting_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, meeting_id=meeting_id
    )
    if found is None:
        return "not_found"
    meeting, roundtable = found
    if not roundtable.active:
        return "cancelled"
    if meeting.starts_at <= now:
        return "started"
    # First, so concurrent answers to this meeting queue their updates one after the other.
    version = await bump_rsvp_version(session, meeting=meeting)
    await record_rsvp(session, meeting=meeting, user_id=user_id, attending=attending, now=now)
    answers = await _answers(session, meeting)
    view = view_of(roundtable)
    for sent in await reminders_of(session, meeting=meeting):
        if await _failed(session, workspace_id=workspace_id, outbox_id=sent.outbox_id):
            # An edit of a message that never arrived would wait for it forever, holding up the channel.
            continue
        await enqueue(
            session,
            workspace_id=workspace_id,
            idempotency_key=f"{reminder_key(roundtable.id, meeting.starts_at, sent.offset_minutes)}:rsvp:{version}",
            channel_id=roundtable.channel_id,
            message=reminder(
                view,
                meeting_id=meeting.id,
                starts_at=meeting.starts_at,
                offset_minutes=sent.offset_minutes,
                answers=answers,
            ),
            update_of_id=sent.outbox_id,
            not_before=now,
        )
    return "recorded"


async def notes_dialog(
    session: AsyncSession, *, workspace_id: str, channel_id: str, meeting_id: int, opened_by: str
) -> Dialog | None:
    """The notes form for a meeting of this channel's round-table, with the elephants on its agenda; None for any
    other meeting."""
    found = await meeting_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, meeting_id=meeting_id
    )
    if found is None:
        return None
    meeting, roundtable = found
    return notes_form(
        origin=FormOrigin(channel_id=channel_id, user_id=opened_by, subject_id=meeting.id),
        when=meeting_time(meeting.starts_at, roundtable.timezone),
        notes=meeting.notes or "",
        elephants=await elephants_on_agenda(session, roundtable=roundtable, meeting=meeting),
        recorded=await recorded_for(session, meeting=meeting),
    )


async def save_notes(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    meeting_id: int,
    user_id: str,
    text: str,
    now: datetime,
    values: Mapping[str, str | list[str] | None] | None = None,
) -> NotesOutcome:
    """Keeps the meeting's notes and the outcome per elephant, and posts them as the debrief; saving again updates
    the posted debrief. Raises FormErrors for outcome fields to fix."""
    text = text.strip()
    if len(text) > MAX_NOTES:
        return "too_long"
    found = await meeting_in_channel(
        session, workspace_id=workspace_id, channel_id=channel_id, meeting_id=meeting_id
    )
    if found is None:
        return "not_found"
    meeting, roundtable = found
    # Only the elephants the form showed: one that reached the agenda since it was opened has no fields in it.
    elephants = [
        elephant
        for elephant in await elephants_on_agenda(session, roundtable=roundtable, meeting=meeting)
        if values is not None and any(field_id(kind, elephant) in values for kind in FIELD_KINDS)
    ]
    today = now.astimezone(ZoneInfo(roundtable.timezone)).date()
    entries = read_outcomes(values or {}, elephants=elephants, today=today)
    if not text and all(entry.is_empty for entry in entries):
        return "empty"
    version = await bump_notes_version(session, meeting=meeting)
    meeting.notes = text
    meeting.notes_by = user_id
    await save_outcomes(session, meeting=meeting, entries=entries, recorded_by=user_id, now=now)
    message = debrief(
        view_of(roundtable),
        starts_at=meeting.starts_at,
        notes=text,
        by_user=user_id,
        outcomes=[entry for entry in entries if not entry.is_empty],
    )
    key = f"roundtable:{roundtable.id}:{meeting.starts_at.isoformat()}:debrief"
    first = meeting.debrief_outbox_id is None
    # A debrief that could not be posted is posted afresh rather than edited.
    repost = not first and await _failed(session, workspace_id=workspace_id, outbox_id=meeting.debrief_outbox_id)
    row = await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=key if first else f"{key}:{version}",
        channel_id=roundtable.channel_id,
        message=message,
        update_of_id=None if first or repost else meeting.debrief_outbox_id,
        not_before=now,
    )
    if first or repost:
        meeting.debrief_outbox_id = row.id
    await session.flush()
    return "posted" if first else "updated"


async def _failed(session: AsyncSession, *, workspace_id: str, outbox_id: int | None) -> bool:
    if outbox_id is None:
        return False
    status = await session.scalar(
        select(OutboxMessage.status).where(
            OutboxMessage.workspace_id == workspace_id, OutboxMessage.id == outbox_id
        )
    )
    return status == FAILED


def overview_reply(
    roundtable: RoundTable, *, now: datetime, missing: list[str] | None, steerable: bool = True
) -> Message:
    return overview(
        view_of(roundtable), next_meeting=next_meeting(roundtable, now=now), missing=missing, steerable=steerable
    )


def announcement_message(
    roundtable: RoundTable, *, by_user: str, changed: bool, now: datetime, missing: list[str] | None
) -> Message:
    return announcement(
        view_of(roundtable),
        by_user=by_user,
        changed=changed,
        next_meeting=next_meeting(roundtable, now=now),
        missing=missing,
    )
