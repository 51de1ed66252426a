"""The who-else habit: turn a deal or ticket event into (at most) one well-placed nudge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from habits.events import BusinessEvent
from habits.messages import mention
from habits.nudge_message import compose_nudge
from habits.rules import juncture_of, over_hourly_cap, quiet_hours_end
from models.events import ReceivedEvent
from models.nudges import Nudge
from models.outbox import enqueue
from models.people import snoozed_users
from models.watches import home_channel
from models.workspaces import Workspace, get_or_create_workspace

Outcome = Literal[
    "nudged", "held", "duplicate_event", "duplicate_juncture", "not_a_juncture", "no_channel", "capped"
]
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
NUDGE_FOOTNOTE = (
    "One nudge per deal or ticket per moment; later ones land in this thread. `/whoelse snooze 1w` to mute."
)


@dataclass(frozen=True)
class NudgeResult:
    outcome: Outcome
    event_id: int | None = None
    nudge_id: int | None = None
    deliver_after: datetime | None = None


async def receive_event(
    session: AsyncSession,
    *,
    workspace_id: str,
    event: BusinessEvent,
    now: datetime,
    default_timezone: str = "UTC",
) -> NudgeResult:
    """Records the event and, at a critical juncture, queues a nudge. Repeating an event changes nothing."""
    workspace = await get_or_create_workspace(
        session, workspace_id=workspace_id, default_timezone=default_timezone
    )
    record = ReceivedEvent(
        workspace_id=workspace_id,
        source=event.source,
        external_id=event.external_id,
        kind=event.kind,
        event=event.event,
        subject_key=event.subject_key,
        title=event.title,
        url=event.url,
        account=event.account,
        stage=event.stage,
        priority=event.priority,
        owner=event.owner,
        channel_id=event.channel,
        payload=event.model_dump(mode="json"),
        received_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return NudgeResult("duplicate_event")

    result = await _decide(session, workspace=workspace, event=event, record=record, now=now)
    record.outcome = result.outcome
    await session.flush()
    return NudgeResult(result.outcome, record.id, result.nudge_id, result.deliver_after)


async def _decide(
    session: AsyncSession, *, workspace: Workspace, event: BusinessEvent, record: ReceivedEvent, now: datetime
) -> NudgeResult:
    juncture = juncture_of(event, workspace.junctures)
    if juncture is None:
        return NudgeResult("not_a_juncture")
    channel = event.channel or await home_channel(
        session, workspace_id=workspace.id, kind="deals" if event.kind == "deal" else "tickets"
    )
    if channel is None:
        return NudgeResult("no_channel")
    already = await session.scalar(
        select(Nudge.id).where(
            Nudge.workspace_id == workspace.id,
            Nudge.channel_id == channel,
            Nudge.subject_key == event.subject_key,
            Nudge.juncture == juncture,
        )
    )
    if already is not None:
        return NudgeResult("duplicate_juncture", nudge_id=already)

    deliver_after = (
        quiet_hours_end(now, timezone=workspace.timezone, start=workspace.quiet_start, end=workspace.quiet_end)
        or now
    )
    nudge = Nudge(
        workspace_id=workspace.id,
        channel_id=channel,
        subject_key=event.subject_key,
        juncture=juncture,
        event_id=record.id,
        title=event.title,
        deliver_after=deliver_after,
        created_at=now,
    )
    recent = await _scheduled_in_hour_before(
        session, workspace_id=workspace.id, channel_id=channel, moment=deliver_after
    )
    if over_hourly_cap(recent, workspace.hourly_cap):
        nudge.status = "suppressed"
        nudge.suppressed_reason = "hourly_cap"
        session.add(nudge)
        await session.flush()
        return NudgeResult("capped", nudge_id=nudge.id)

    session.add(nudge)
    await session.flush()
    thread_parent = await _thread_of(
        session, workspace_id=workspace.id, channel_id=channel, subject_key=event.subject_key
    )
    snoozed = await snoozed_users(session, workspace_id=workspace.id, now=now)
    message = compose_nudge(
        nudge_id=nudge.id, headline=headline(event), facts=facts(event, snoozed=snoozed), note=NUDGE_FOOTNOTE
    )
    row = await enqueue(
        session,
        workspace_id=workspace.id,
        idempotency_key=f"nudge:{nudge.id}",
        channel_id=channel,
        message=message,
        thread_parent_id=thread_parent if event.thread_ts is None else None,
        thread_ts=event.thread_ts,
        not_before=deliver_after,
    )
    nudge.outbox_id = row.id
    nudge.thread_outbox_id = thread_parent or row.id
    await session.flush()
    return NudgeResult("held" if deliver_after > now else "nudged", nudge_id=nudge.id, deliver_after=deliver_after)


async def nudge_by_hand(
    session: AsyncSession, *, workspace_id: str, channel_id: str, user_id: str, text: str, now: datetime
) -> Nudge:
    """`/whoelse nudge <text>`: someone asks the two questions about anything. Sent now, never capped."""
    await get_or_create_workspace(session, workspace_id=workspace_id)
    nudge = Nudge(
        workspace_id=workspace_id,
        channel_id=channel_id,
        subject_key=None,
        juncture="manual",
        title=text,
        created_by=user_id,
        deliver_after=now,
        created_at=now,
    )
    session.add(nudge)
    await session.flush()
    message = compose_nudge(nudge_id=nudge.id, headline=f"{mention(user_id)} asks about: *{text}*")
    row = await enqueue(
        session,
        workspace_id=workspace_id,
        idempotency_key=f"nudge:{nudge.id}",
        channel_id=channel_id,
        message=message,
        not_before=now,
    )
    nudge.outbox_id = row.id
    nudge.thread_outbox_id = row.id
    await session.flush()
    return nudge


async def _scheduled_in_hour_before(
    session: AsyncSession, *, workspace_id: str, channel_id: str, moment: datetime
) -> int:
    count = await session.scalar(
        select(func.count(Nudge.id)).where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            Nudge.status == "scheduled",
            Nudge.created_by.is_(None),
            Nudge.deliver_after > moment - timedelta(hours=1),
            Nudge.deliver_after <= moment,
        )
    )
    return int(count or 0)


async def _thread_of(session: AsyncSession, *, workspace_id: str, channel_id: str, subject_key: str) -> int | None:
    """The first nudge about this deal or ticket in this channel: later ones reply in its thread."""
    return await session.scalar(
        select(Nudge.outbox_id)
        .where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            Nudge.subject_key == subject_key,
            Nudge.outbox_id.is_not(None),
        )
        .order_by(Nudge.id)
        .limit(1)
    )


def headline(event: BusinessEvent) -> str:
    name = f"*{event.title}*" + (f" ({event.account})" if event.account else "")
    juncture = event.event.lower()
    if event.kind == "deal":
        return {
            "created": f"New deal: {name}",
            "stage_changed": f"{name} moved to *{event.stage}*",
            "closed_won": f":tada: {name} was won",
            "won": f":tada: {name} was won",
            "closed_lost": f"{name} was lost",
            "lost": f"{name} was lost",
        }.get(juncture, f"{name}: {event.event}")
    return {
        "escalated": f":rotating_light: Ticket {name} was escalated",
        "reopened": f"Ticket {name} was reopened",
        "priority_raised": f"Ticket {name} is now *{event.priority}* priority",
        "priority_changed": f"Ticket {name} is now *{event.priority}* priority",
        "created": f"New ticket: {name}",
    }.get(juncture, f"Ticket {name}: {event.event}")


def facts(event: BusinessEvent, *, snoozed: set[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if event.account:
        found.append(("Account", event.account))
    if event.kind == "deal" and event.stage:
        found.append(("Stage", event.stage))
    if event.kind == "ticket" and event.priority:
        found.append(("Priority", event.priority))
    if event.owner:
        # People who snoozed whoelse are named, not pinged.
        is_user = SLACK_USER_ID.match(event.owner) is not None
        found.append(("Owner", mention(event.owner) if is_user and event.owner not in snoozed else event.owner))
    if event.url:
        found.append(("Link", f"<{event.url}|Open in {'CRM' if event.kind == 'deal' else 'helpdesk'}>"))
    return found
