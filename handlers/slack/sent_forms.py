"""A Slack form sent back about one poll or meeting: read only for the person who opened it, else refused in the
form itself, which stays open."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.slack.blocks import dialog_values
from habits.form_origin import NOT_YOUR_FORM, SentForm, read_origin
from handlers.slack.clicks import team_of


async def form_about_subject(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], *, field: str
) -> SentForm | None:
    """The form, if the person sending it opened it about a poll or meeting; else None, the refusal said next to
    `field`."""
    user_id = str(body["user"]["id"])
    origin = read_origin(view.get("private_metadata"), user_id=user_id)
    if origin is None or origin.subject_id is None:
        await ack(response_action="errors", errors={field: NOT_YOUR_FORM})
        return None
    return SentForm(
        workspace_id=team_of(body),
        user_id=user_id,
        channel_id=origin.channel_id,
        subject_id=origin.subject_id,
        values=dialog_values(view.get("state") or {}),
    )
