"""The who-else habit: turn a deal or ticket event into (at most) one well-placed nudge."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from habits.events import PERSON_ROLES, BusinessEvent, PersonRole
from habits.messages import command, link, mention, shown
from habits.nudge_message import compose_nudge
from habits.rules import canonical_event, juncture_of, over_hourly_cap, quiet_hours_end
from models.db import insert_skipping_duplicates
from models.events import ReceivedEvent
from models.nudges import Nudge
from models.outbox import OutboxMessage, enqueue
from models.people import snoozed_users
from models.watches import home_channel
from models.workspaces import Workspace, get_or_create_workspace

Outcome = Literal[
    "nudged", "held", "duplicate_event", "duplicate_juncture", "not_a_juncture", "no_channel", "capped"
]
SCHEDULED = "scheduled"
SUPPRESSED = "suppressed"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
LINKABLE_URL = re.compile(r"^https?://[^\s<>|]+$")

# Read by whoever sets up a sender (in logs and webhook answers): what happened and, where something is missing,
# how to fix it.
OUTCOME_DETAILS: dict[Outcome, str] = {
    "nudged": "the channel is being asked who else needs to know",
    "held": "quiet hours: the nudge goes out when they end",
    "capped": "recorded; the channel already had its hourly number of nudges, so this one is not posted",
    "duplicate_event": "this event id was received before; nothing changed",
    "duplicate_juncture": "this deal or ticket was already nudged for this moment; recorded without a new nudge",
    "not_a_juncture": "recorded; this event is not a moment whoelse nudges about",
    "no_channel": (
        "recorded, but no channel is watching this kind of event: in a channel, run `watch deals` (or tickets) "
        "(`/whoelse watch deals` on Slack, a message to @whoelse on Teams), or send `channel` with the event"
    ),
}
# The nudges table's unique key (models/nudges.py): one nudge per deal or ticket per moment per workspace.
NUDGE_MOMENT = ["workspace_id", "subject_key", "juncture"]
NUDGE_FOOTNOTE = (
    f"One nudge per deal or ticket per moment; later ones land in this thread. {command('snooze 1w')} to mute."
)


# How the nudge names the people an event concerns, once their email matched someone in the workspace.
ROLE_LABELS: dict[PersonRole, str] = {"owner": "Owner", "assignee": "Assignee", "requester": "Requester"}
# Whoever of these matched stands for the owner's name the sender gave, which is then not shown a second time.
RESPONSIBLE: tuple[PersonRole, ...] = ("owner", "assignee")


@dataclass(frozen=True)
class MatchedPerson:
    """A chat user whose email is one the event named."""

    user_id: str
    name: str


@dataclass(frozen=True)
class NudgeResult:
    outcome: Outcome
    event_id: int | None = None
    nudge_id: int | None = None
    deliver_after: datetime | None = None


def event_row(*, workspace_id: str, event: BusinessEvent, now: datetime) -> dict[str, Any]:
    """The stored form of an event, before any rule has looked at it (its outcome is still unset)."""
    return {
        "workspace_id": workspace_id,
        "source": event.source,
        "external_id": event.external_id,
        "kind": event.kind,
        "event": event.event,
        "subject_key": event.subject_key,
        "title": event.title,
        "url": event.url,
        "account": event.account,
        "stage": event.stage,
        "priority": event.priority,
        "owner": event.owner,
        "channel_id": event.channel,
        # Only what has no column of its own; an event is read back from its columns (see stored_event).
        "payload": payload_of(event),
        "received_at": now,
        "outcome": None,
    }


# Event fields without a column of their own, kept in the row's `payload` when they are set.
PAYLOAD_FIELDS = ("thread_ts", "amount", "owner_email", "pending")


def payload_of(event: BusinessEvent) -> dict[str, Any]:
    payload = {name: value for name in PAYLOAD_FIELDS if (value := getattr(event, name)) is not None}
    if event.people:
        payload["people"] = dict(event.people)
    return payload


def stored_people(payload: Mapping[str, Any] | None) -> dict[PersonRole, str]:
    """The emails of the people a stored event concerns, by role (none for events stored before they were kept)."""
    people = (payload or {}).get("people")
    if not isinstance(people, dict):
        return {}
    return {role: people[role] for role in PERSON_ROLES if isinstance(people.get(role), str)}


def stored_event(record: ReceivedEvent) -> BusinessEvent:
    """The event as it was received. Rows from releases that kept the whole event in `payload` read the same."""
    _kind, _, subject_id = record.subject_key.partition(":")
    return BusinessEvent(
        source=record.source,
        external_id=record.external_id,
        # Validated here: a row of a kind this release does not know is unreadable, and marked so.
        kind=record.kind,
        event=record.event,
        subject_id=subject_id,
        title=record.title,
        url=record.url,
        account=record.account,
        stage=record.stage,
        priority=record.priority,
        owner=record.owner,
        channel=record.channel_id,
        **{name: value for name, value in (record.payload or {}).items() if name in PAYLOAD_FIELDS},
        people=stored_people(record.payload),
    )


async def decide_stored_event(
    session: AsyncSession,
    *,
    record: ReceivedEvent,
    now: datetime,
    default_timezone: str = "UTC",
    people: Mapping[PersonRole, MatchedPerson] | None = None,
) -> NudgeResult:
    """Applies the rules to an event stored earlier (see bot/event_intake.py) and records the outcome. `people` are
    the chat users the event's emails matched (looked up before, outside the transaction)."""
    workspace = await get_or_create_workspace(
        session, workspace_id=record.workspace_id, default_timezone=default_timezone
    )
    event = stored_event(record)
    result = await _decide(session, workspace=workspace, event=event, record=record, now=now, people=people or {})
    record.outcome = result.outcome
    await session.flush()
    return replace(result, event_id=record.id)


async def _decide(
    session: AsyncSession,
    *,
    workspace: Workspace,
    event: BusinessEvent,
    record: ReceivedEvent,
    now: datetime,
    people: Mapping[PersonRole, MatchedPerson],
) -> NudgeResult:
    juncture = juncture_of(event, workspace.junctures)
    if juncture is None:
        return NudgeResult("not_a_juncture")
    channel = event.channel or await home_channel(
        session, workspace_id=workspace.id, kind="deals" if event.kind == "deal" else "tickets"
    )
    if channel is None:
        return NudgeResult("no_channel")
    deliver_after = (
        quiet_hours_end(now, timezone=workspace.timezone, start=workspace.quiet_start, end=workspace.quiet_end)
        or now
    )
    earlier, recent = await _moment_and_channel_so_far(
        session,
        workspace_id=workspace.id,
        subject_key=event.subject_key,
        juncture=juncture,
        channel_id=channel,
        moment=deliver_after,
    )
    # Per workspace, not per channel: asking about the same moment in two channels would split the answers.
    if earlier is not None:
        return NudgeResult("duplicate_juncture", nudge_id=earlier)

    capped = over_hourly_cap(recent, workspace.hourly_cap)
    nudge_id = await session.scalar(
        insert_skipping_duplicates(session, Nudge)
        .values(
            workspace_id=workspace.id,
            channel_id=channel,
            subject_key=event.subject_key,
            juncture=juncture,
            event_id=record.id,
            title=event.title,
            status=SUPPRESSED if capped else SCHEDULED,
            # Kept (not posted) so admins can see what the cap held back and tune it.
            suppressed_reason="hourly_cap" if capped else None,
            deliver_after=deliver_after,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=NUDGE_MOMENT)
        .returning(Nudge.id)
    )
    if nudge_id is None:
        # A concurrent event about the same moment (another id from the sender, its bot post, or the same moment sent
        # to another channel) got there first.
        raced = await _nudge_for(
            session, workspace_id=workspace.id, subject_key=event.subject_key, juncture=juncture
        )
        return NudgeResult("duplicate_juncture", nudge_id=raced)
    if capped:
        return NudgeResult("capped", nudge_id=nudge_id)

    first = await _first_nudge_post(
        session, workspace_id=workspace.id, channel_id=channel, subject_key=event.subject_key
    )
    thread_parent_id, thread_ts = _placement(event, first)
    snoozed = await snoozed_users(session, workspace_id=workspace.id, now=now)
    message = compose_nudge(
        nudge_id=nudge_id,
        headline=headline(event),
        facts=facts(event, snoozed=snoozed, people=people),
        note=NUDGE_FOOTNOTE,
    )
    row = await enqueue(
        session,
        workspace_id=workspace.id,
        idempotency_key=f"nudge:{nudge_id}",
        channel_id=channel,
        message=message,
        thread_parent_id=thread_parent_id,
        thread_ts=thread_ts,
        not_before=deliver_after,
    )
    await session.execute(
        update(Nudge)
        .where(Nudge.workspace_id == workspace.id, Nudge.id == nudge_id)
        .values(outbox_id=row.id, thread_outbox_id=first.id if first is not None else row.id)
    )
    return NudgeResult("held" if deliver_after > now else "nudged", nudge_id=nudge_id, deliver_after=deliver_after)


def _placement(event: BusinessEvent, first: OutboxMessage | None) -> tuple[int | None, str | None]:
    """Where the nudge goes: (outbox row to reply under once it is sent, platform thread to reply in)."""
    if event.thread_ts is not None:
        # Reacting to a bot's post: answer beside it, where the channel is already looking.
        return None, event.thread_ts
    if first is None:
        return None, None
    if first.thread_ts is not None:
        # The first nudge was itself a reply (to a bot's post): stay in that thread, whose root is the post.
        return None, first.thread_ts
    return first.id, None


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
        status=SCHEDULED,
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


def _first_nudge_about(*, workspace_id: str, subject_key: str, juncture: str) -> Select[int]:
    return (
        select(Nudge.id)
        .where(Nudge.workspace_id == workspace_id, Nudge.subject_key == subject_key, Nudge.juncture == juncture)
        .order_by(Nudge.id)
        .limit(1)
    )


async def _nudge_for(session: AsyncSession, *, workspace_id: str, subject_key: str, juncture: str) -> int | None:
    return await session.scalar(
        _first_nudge_about(workspace_id=workspace_id, subject_key=subject_key, juncture=juncture)
    )


async def _moment_and_channel_so_far(
    session: AsyncSession, *, workspace_id: str, subject_key: str, juncture: str, channel_id: str, moment: datetime
) -> tuple[int | None, int]:
    """In one round trip: the nudge already asked about this moment (if any), and the automatic nudges the channel
    gets in the hour up to `moment`, including ones held until then."""
    earlier = _first_nudge_about(
        workspace_id=workspace_id, subject_key=subject_key, juncture=juncture
    ).scalar_subquery()
    recent = (
        select(func.count(Nudge.id))
        .where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            Nudge.status != SUPPRESSED,
            Nudge.created_by.is_(None),
            Nudge.deliver_after > moment - timedelta(hours=1),
            Nudge.deliver_after <= moment,
        )
        .scalar_subquery()
    )
    found = (await session.execute(select(earlier, recent))).one()
    return found[0], int(found[1] or 0)


async def _first_nudge_post(
    session: AsyncSession, *, workspace_id: str, channel_id: str, subject_key: str
) -> OutboxMessage | None:
    """The post of the first nudge about this deal or ticket in this channel: later ones reply in its thread."""
    return await session.scalar(
        select(OutboxMessage)
        .join(Nudge, Nudge.outbox_id == OutboxMessage.id)
        .where(
            Nudge.workspace_id == workspace_id,
            Nudge.channel_id == channel_id,
            Nudge.subject_key == subject_key,
        )
        .order_by(Nudge.id)
        .limit(1)
    )


def headline(event: BusinessEvent) -> str:
    name = f"*{shown(event.title)}*" + (f" ({shown(event.account)})" if event.account else "")
    moment = canonical_event(event.event)
    stage = shown(event.stage or "")
    priority = shown(event.priority or "")
    if event.kind == "deal":
        return {
            "created": f"New deal: {name}",
            "stage_changed": f"{name} moved to *{stage}*",
            "closed_won": f":tada: {name} was won",
            "closed_lost": f"{name} was lost",
        }.get(moment, f"{name}: {shown(event.event)}")
    return {
        "created": f"New ticket: {name}",
        "escalated": f":rotating_light: Ticket {name} was escalated",
        "reopened": f"Ticket {name} was reopened",
        "priority_raised": f"Ticket {name} is now *{priority}* priority",
    }.get(moment, f"Ticket {name}: {shown(event.event)}")


def facts(
    event: BusinessEvent, *, snoozed: set[str], people: Mapping[PersonRole, MatchedPerson] | None = None
) -> list[tuple[str, str]]:
    """What the nudge shows about the event. People are mentioned only when their email matched a chat user;
    an email that matched nobody is never shown (it is someone's address, and no ping can come of it)."""
    people = people or {}
    found: list[tuple[str, str]] = []
    if event.account:
        found.append(("Account", shown(event.account)))
    if event.kind == "deal" and event.amount:
        found.append(("Amount", shown(event.amount)))
    if event.kind == "deal" and event.stage:
        found.append(("Stage", shown(event.stage)))
    if event.kind == "ticket" and event.priority:
        found.append(("Priority", shown(event.priority)))
    if event.owner and not any(role in people for role in RESPONSIBLE):
        # People who snoozed whoelse are named, not pinged.
        is_user = SLACK_USER_ID.match(event.owner) is not None
        owner = mention(event.owner) if is_user and event.owner not in snoozed else shown(event.owner)
        found.append(("Owner", owner))
    for role in PERSON_ROLES:
        person = people.get(role)
        if person is not None:
            # The platform's own id for them, so a mention; but people who snoozed whoelse are named, not pinged.
            named = shown(person.name) if person.user_id in snoozed else mention(person.user_id)
            found.append((ROLE_LABELS[role], named))
    if event.url and LINKABLE_URL.match(event.url):
        # The address comes from outside too: link() keeps mention markup in it from pinging anyone.
        found.append(("Link", link(event.url, f"Open in {'CRM' if event.kind == 'deal' else 'helpdesk'}")))
    return found
