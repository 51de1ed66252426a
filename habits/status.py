"""`/whoelse status` for workspace admins: is the scheduler running, what runs next, what failed to send."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from habits.job_words import describe_job
from habits.messages import Message, Note, Paragraph, channel_mention, command, mention
from habits.roundtables.follow_up_runs import follow_up_runs
from models.events import count_unplaced_events
from models.outbox import OutboxMessage
from models.outbox_status import count_failed, failed_messages, queue_counts
from models.scheduler_jobs import upcoming_runs
from models.workspaces import Workspace
from scheduler.roles import SchedulerRole

UPCOMING_LIMIT = 10
FAILED_LIMIT = 10
ERROR_PREVIEW = 200
UNPLACED_WINDOW = timedelta(days=7)

SCHEDULER_STATES: dict[SchedulerRole, str] = {
    "leader": "running in this replica.",
    "standby": "running in another replica; this one takes over if that one stops.",
    "off": "not running in this replica (`SCHEDULER=off`, or it has not started).",
}

SCHEDULER_SUMMARIES: dict[SchedulerRole, str] = {
    "leader": "running here",
    "standby": "running in another replica",
    "off": "not running here",
}


def admins_only() -> Message:
    return Message(
        text=(
            f"Sorry, {command('status')} is for workspace admins: it shows delivery problems across every channel. "
            "An admin can run it for you."
        )
    )


async def status_report(
    session: AsyncSession,
    *,
    workspace_id: str,
    scheduler_role: SchedulerRole,
    now: datetime,
    default_timezone: str = "UTC",
) -> Message:
    workspace = await session.get(Workspace, workspace_id)
    zone = ZoneInfo(workspace.timezone if workspace is not None else default_timezone)
    upcoming = sorted(
        [
            *await upcoming_runs(session, workspace_id=workspace_id, limit=UPCOMING_LIMIT),
            *await follow_up_runs(session, workspace_id=workspace_id, now=now),
        ],
        key=lambda run: run[1],
    )[:UPCOMING_LIMIT]
    failed = await failed_messages(session, workspace_id=workspace_id, limit=FAILED_LIMIT)
    failed_total = await count_failed(session, workspace_id=workspace_id)
    queued = await queue_counts(session, workspace_id=workspace_id)

    parts: list[Paragraph | Note] = [Paragraph(text=f"*Scheduler:* {SCHEDULER_STATES[scheduler_role]}")]
    if upcoming:
        lines = [
            "• "
            + await describe_job(
                session,
                workspace_id=workspace_id,
                name=display_name(job_id),
                when=when,
                now=now,
                workspace_zone=zone.key,
            )
            for job_id, when in upcoming
        ]
        parts.append(Paragraph(text="*Next runs:*\n" + "\n".join(lines)))
    else:
        parts.append(Paragraph(text="*Next runs:* nothing scheduled for this workspace."))
    parts.append(
        Paragraph(
            text=(
                f"*Delivery:* {queued.pending} waiting to send, {queued.retrying} retrying, "
                f"{failed_total} failed for good."
            )
        )
    )
    unplaced = await count_unplaced_events(session, workspace_id=workspace_id, since=now - UNPLACED_WINDOW)
    if unplaced:
        parts.append(Paragraph(text=describe_unplaced(unplaced)))
    if failed:
        parts.append(
            Paragraph(text="*Failed messages, newest first:*\n" + "\n".join(map(describe_failure, failed)))
        )
        if failed_total > len(failed):
            parts.append(Note(text=f"…and {failed_total - len(failed)} older failed messages."))
    summary = (
        f"whoelse status: the scheduler is {SCHEDULER_SUMMARIES[scheduler_role]}; messages: {queued.pending} "
        f"waiting, {queued.retrying} retrying, {failed_total} failed."
    )
    return Message(text=summary, parts=list(parts))


def describe_unplaced(counts: dict[str, int]) -> str:
    lines = ["*Events whoelse could not act on (last 7 days):*"]
    if counts.get("no_channel"):
        lines.append(
            f"• {counts['no_channel']} with no channel to go to: run {command('watch deals')} (or `tickets`) in a "
            "channel, or have the sender name a `channel`."
        )
    if counts.get("error"):
        lines.append(f"• {counts['error']} that could not be read; the logs say why.")
    return "\n".join(lines)


def display_name(job_id: str) -> str:
    """A job id without its schedule fingerprint (`name@0123456789ab`), which means nothing to a person."""
    name, separator, fingerprint = job_id.rpartition("@")
    if separator and name and fingerprint.isalnum():
        return name
    return job_id


def describe_failure(row: OutboxMessage) -> str:
    where = channel_mention(row.channel_id) if row.channel_id else f"DM to {mention(row.dm_user_id or '?')}"
    error = _code(row.last_error or "no error recorded")
    if len(error) > ERROR_PREVIEW:
        error = error[: ERROR_PREVIEW - 1] + "…"
    attempts = f"{row.attempts} attempt" + ("" if row.attempts == 1 else "s")
    return f"• {where} · `{_code(row.idempotency_key)}` · {attempts} · {error}"


def _code(text: str) -> str:
    # A backtick inside would end the code span early and garble the line.
    return " ".join(text.replace("`", "'").split())
