"""Each person's Home tab: their own side of the habit, what waits for their answer, and their snooze.

"Waiting for you" is defined simply: a nudge posted in the last 14 days, in a channel you are in or on which someone
looped you in, that you have not answered yourself (no loop-in, "nobody else" or help from you).

Elephant polls are counted with the per-poll participation markers the poll keeps while it is open (see
habits/elephants/anonymity.py): only the viewer's own token is computed, nothing is stored, and what anyone wrote is
never read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from habits.elephants.messages import close_control
from habits.elephants.polls import has_named, has_voted, naming_open, voting_open
from habits.messages import Actions, Button, Divider, Facts, Message, Note, Paragraph, channel_mention, link, shown
from habits.roundtables.meetings import next_meeting
from habits.snoozing import SnoozeAction, SnoozeFor
from habits.status import status_report
from habits.time_words import describe_moment
from habits.workspace_settings import saved_message
from models.elephants import CLOSED, ElephantPoll
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import SENT, OutboxMessage
from models.people import snoozed_until
from models.roundtables import RoundTable
from models.workspaces import get_or_create_workspace
from scheduler.roles import SchedulerRole

WAITING_WINDOW = timedelta(days=14)
RECENT = timedelta(days=30)
WAITING_SHOWN = 10
HOME_SNOOZE = "home_snooze"
SNOOZE_LENGTH = timedelta(weeks=1)
SNOOZE_ON = "1w"
SNOOZE_OFF: Literal["off"] = "off"


@dataclass(frozen=True)
class Reach:
    """What only the platform can say about the viewer: the channels and user groups they are in, their clock, and
    where the workspace's messages live (for links)."""

    channels: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    timezone: str = "UTC"
    # e.g. "https://acme.slack.com/archives/": a message's link is this, its channel, "/p" and its ts without the dot.
    archive_url: str | None = None


def snooze_action(value: str) -> SnoozeAction:
    """What a click on the Home tab's snooze button asks for: a week's snooze, or "off"."""
    return SnoozeFor(SNOOZE_LENGTH) if value == SNOOZE_ON else SNOOZE_OFF


async def channels_to_ask_about(session: AsyncSession, *, workspace_id: str, now: datetime) -> list[str]:
    """Channels with nudges recent enough to wait for someone, or with an open elephant poll: the only channels
    whose membership the Home tab needs."""
    nudged = await session.scalars(
        _posted_since(workspace_id, now - WAITING_WINDOW).with_only_columns(Nudge.channel_id).distinct()
    )
    polled = await session.scalars(
        select(ElephantPoll.channel_id)
        .where(ElephantPoll.workspace_id == workspace_id, ElephantPoll.phase != CLOSED)
        .distinct()
    )
    return sorted({*nudged, *polled})


async def groups_to_ask_about(session: AsyncSession, *, workspace_id: str) -> list[str]:
    """User groups invited to an active round-table: the only groups whose members the Home tab needs."""
    rows = await session.scalars(
        select(RoundTable.invited_groups).where(
            RoundTable.workspace_id == workspace_id, RoundTable.active.is_(True)
        )
    )
    return sorted({group for groups in rows for group in groups})


async def home_for(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    now: datetime,
    is_admin: bool,
    reach: Reach | None = None,
    scheduler_role: SchedulerRole = "off",
    default_timezone: str = "UTC",
) -> Message:
    reach = reach or Reach()
    parts: list[Paragraph | Facts | Note | Divider | Actions] = [
        Paragraph(text="*Your whoelse*"),
        Facts(facts=await _answer_counts(session, workspace_id=workspace_id, user_id=user_id, now=now)),
    ]
    waiting = await _waiting_nudges(session, workspace_id=workspace_id, user_id=user_id, now=now, reach=reach)
    parts.append(Paragraph(text=_waiting_text(waiting, reach)))
    parts.append(
        Paragraph(
            text=await _roundtable_text(session, workspace_id=workspace_id, user_id=user_id, now=now, reach=reach)
        )
    )
    polls = await _polls_waiting(
        session, workspace_id=workspace_id, user_id=user_id, now=now, channels=reach.channels
    )
    parts.append(Paragraph(text=_polls_text(polls)))
    until = await snoozed_until(session, workspace_id=workspace_id, user_id=user_id, now=now)
    parts.extend(_snooze_parts(until, now=now, timezone=reach.timezone))
    if is_admin:
        parts.extend(
            await _admin_parts(
                session,
                workspace_id=workspace_id,
                now=now,
                scheduler_role=scheduler_role,
                default_timezone=default_timezone,
            )
        )
    return Message(text=f"Your whoelse: {len(waiting)} nudges wait for your answer.", parts=list(parts))


def _posted_since(workspace_id: str, since: datetime) -> Select[Nudge, OutboxMessage]:
    return (
        select(Nudge, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == Nudge.outbox_id)
        .where(
            Nudge.workspace_id == workspace_id,
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.status == SENT,
            OutboxMessage.sent_at > since,
        )
    )


async def _count(session: AsyncSession, query: Select[int]) -> int:
    return int(await session.scalar(query) or 0)


async def _answer_counts(
    session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime
) -> list[tuple[str, str]]:
    since = now - RECENT
    asked = select(HelpExchange.nudge_id).where(
        HelpExchange.workspace_id == workspace_id,
        HelpExchange.user_id == user_id,
        HelpExchange.kind == "request",
    )
    counts = {
        "People you looped in": (
            select(func.count())
            .select_from(LoopIn)
            .where(
                LoopIn.workspace_id == workspace_id, LoopIn.by_user == user_id, LoopIn.looped_user.is_not(None)
            ),
            LoopIn.created_at,
        ),
        "Times you were looped in": (
            select(func.count())
            .select_from(LoopIn)
            .where(LoopIn.workspace_id == workspace_id, LoopIn.looped_user == user_id),
            LoopIn.created_at,
        ),
        "Help you offered": (
            select(func.count())
            .select_from(HelpExchange)
            .where(
                HelpExchange.workspace_id == workspace_id,
                HelpExchange.user_id == user_id,
                HelpExchange.kind == "offer",
            ),
            HelpExchange.created_at,
        ),
        # Offers from others on the nudges where you asked for help.
        "Help offered to you": (
            select(func.count())
            .select_from(HelpExchange)
            .where(
                HelpExchange.workspace_id == workspace_id,
                HelpExchange.user_id != user_id,
                HelpExchange.kind == "offer",
                HelpExchange.nudge_id.in_(asked),
            ),
            HelpExchange.created_at,
        ),
    }
    facts: list[tuple[str, str]] = []
    for label, (query, created_at) in counts.items():
        recent = await _count(session, query.where(created_at > since))
        ever = await _count(session, query)
        facts.append((label, f"{recent} in the last 30 days · {ever} in all"))
    return facts


@dataclass(frozen=True)
class _Waiting:
    title: str
    channel_id: str
    ts: str | None


async def _waiting_nudges(
    session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime, reach: Reach
) -> list[_Waiting]:
    looped_me = select(LoopIn.nudge_id).where(LoopIn.workspace_id == workspace_id, LoopIn.looped_user == user_id)
    answered_loop = select(LoopIn.nudge_id).where(LoopIn.workspace_id == workspace_id, LoopIn.by_user == user_id)
    answered_help = select(HelpExchange.nudge_id).where(
        HelpExchange.workspace_id == workspace_id, HelpExchange.user_id == user_id
    )
    rows = await session.execute(
        _posted_since(workspace_id, now - WAITING_WINDOW)
        .where(
            or_(Nudge.channel_id.in_(sorted(reach.channels)), Nudge.id.in_(looped_me)),
            and_(Nudge.id.not_in(answered_loop), Nudge.id.not_in(answered_help)),
        )
        .order_by(OutboxMessage.sent_at.desc())
    )
    return [
        _Waiting(title=nudge.title, channel_id=post.sent_channel_id or nudge.channel_id, ts=post.sent_ts)
        for nudge, post in rows.all()
    ]


def _waiting_text(waiting: list[_Waiting], reach: Reach) -> str:
    if not waiting:
        return "*Waiting for your answer:* nothing right now."
    lines = [f"*Waiting for your answer ({len(waiting)}):*"]
    for item in waiting[:WAITING_SHOWN]:
        where = channel_mention(item.channel_id)
        title = _plain(item.title)
        if reach.archive_url and item.ts:
            title = link(f"{reach.archive_url}{item.channel_id}/p{item.ts.replace('.', '')}", title)
        lines.append(f"• {title} in {where}")
    if len(waiting) > WAITING_SHOWN:
        lines.append(f"…and {len(waiting) - WAITING_SHOWN} more.")
    return "\n".join(lines)


def _plain(text: str) -> str:
    # A nudge's title comes from a CRM or a person: shown as written, and never able to end the link's label early.
    return shown(text).replace("|", "¦")


async def _roundtable_text(
    session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime, reach: Reach
) -> str:
    rows = await session.scalars(
        select(RoundTable).where(RoundTable.workspace_id == workspace_id, RoundTable.active.is_(True))
    )
    invited = [
        roundtable
        for roundtable in rows
        if user_id in roundtable.invitees or reach.groups & set(roundtable.invited_groups)
    ]
    if not invited:
        return "*Next round-table:* you're not invited to one."
    upcoming = min((next_meeting(roundtable, now=now), roundtable.channel_id) for roundtable in invited)
    when = describe_moment(upcoming[0], now=now, timezone=reach.timezone)
    return f"*Next round-table:* {when} in {channel_mention(upcoming[1])}."


async def _polls_waiting(
    session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime, channels: Collection[str]
) -> int:
    polls = await session.scalars(
        select(ElephantPoll).where(
            ElephantPoll.workspace_id == workspace_id,
            ElephantPoll.phase != CLOSED,
            ElephantPoll.channel_id.in_(sorted(channels)),
        )
    )
    waiting = 0
    for poll in polls:
        # Only the viewer's own marker is looked up, exactly as the poll does when they answer it.
        if (naming_open(poll, now) and not has_named(poll, user_id)) or (
            voting_open(poll, now) and not has_voted(poll, user_id)
        ):
            waiting += 1
    return waiting


def _polls_text(waiting: int) -> str:
    if waiting == 0:
        return "*Elephant polls:* none waits for you."
    polls = "poll waits" if waiting == 1 else "polls wait"
    return f"*Elephant polls:* {waiting} open {polls} for you (anonymous: nobody sees what you write)."


def _snooze_parts(until: datetime | None, *, now: datetime, timezone: str) -> list[Paragraph | Actions]:
    if until is None:
        text = "*Snooze:* off. whoelse may ping you when you're part of a nudge."
        button = Button(action_id=HOME_SNOOZE, label="Snooze 1 week", value=SNOOZE_ON)
    else:
        text = f"*Snooze:* on until {describe_moment(until, now=now, timezone=timezone)}."
        button = Button(action_id=HOME_SNOOZE, label="End snooze", value=SNOOZE_OFF, style="primary")
    return [Paragraph(text=text), Actions(block_id="home_snooze", controls=[button])]


async def _admin_parts(
    session: AsyncSession,
    *,
    workspace_id: str,
    now: datetime,
    scheduler_role: SchedulerRole,
    default_timezone: str,
) -> list[Paragraph | Facts | Note | Divider | Actions]:
    parts: list[Paragraph | Facts | Note | Divider | Actions] = [
        Divider(),
        Paragraph(text="*Workspace (admins only)*"),
    ]
    workspace = await get_or_create_workspace(
        session, workspace_id=workspace_id, default_timezone=default_timezone
    )
    # The same lines the settings form confirms with, without its "saved" heading.
    settings_lines = saved_message(workspace).text.split("\n")[1:]
    parts.append(Paragraph(text="*Settings:*\n" + "\n".join(settings_lines)))
    report = await status_report(
        session,
        workspace_id=workspace_id,
        scheduler_role=scheduler_role,
        now=now,
        default_timezone=default_timezone,
    )
    parts.extend(part for part in report.parts if isinstance(part, Paragraph | Note))
    parts.extend(await _open_polls_parts(session, workspace_id=workspace_id, now=now, timezone=workspace.timezone))
    return parts


# Admins may close any open poll early; the tab lists the ones closing soonest.
OPEN_POLLS_SHOWN = 5


async def _open_polls_parts(
    session: AsyncSession, *, workspace_id: str, now: datetime, timezone: str
) -> list[Paragraph | Facts | Note | Divider | Actions]:
    polls = await session.scalars(
        select(ElephantPoll)
        .where(ElephantPoll.workspace_id == workspace_id, ElephantPoll.phase != CLOSED)
        .order_by(ElephantPoll.closes_at, ElephantPoll.id)
        .limit(OPEN_POLLS_SHOWN)
    )
    parts: list[Paragraph | Facts | Note | Divider | Actions] = []
    for poll in polls:
        closes = describe_moment(poll.closes_at, now=now, timezone=timezone)
        parts.append(
            Paragraph(text=f"*Elephant poll open in {channel_mention(poll.channel_id)}*, closes {closes}.")
        )
        parts.append(close_control(poll_id=poll.id))
    return parts
