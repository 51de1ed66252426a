"""Clicks on a nudge: the people picker, "Nobody else", and the help form. Everything comes from the payload and
the database, so buttons keep working after a restart."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.slack.blocks import dialog_values
from habits.messages import Message
from habits.nudge_answers import help_dialog, help_errors, loop_in, nobody_else, nudge_in_workspace, record_help
from habits.nudge_message import HELP_OPEN, HELP_SUBMIT, LOOP_IN_NOBODY, LOOP_IN_PICK, nudge_id_from
from handlers.slack.commands import CommandRouter
from models.db import session_scope

logger = logging.getLogger(__name__)
BOT_USER_IDS = {"USLACKBOT"}
GONE = Message(text="That nudge is not from this workspace, or no longer exists.")


def _team(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body.get("team_id") or "")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def _nudge_id(action: dict[str, Any]) -> int | None:
    try:
        return nudge_id_from(str(action.get("value") or action.get("block_id") or ""))
    except ValueError:
        return None


def register(bolt: AsyncApp, context: AppContext, router: CommandRouter) -> None:
    """Registers the nudge's interactions; `router` is unused (answers come from clicks, not commands)."""

    async def tell(body: dict[str, Any], message: Message) -> None:
        channel, user = _channel(body), _user(body)
        if channel and user:
            await context.gateway.post_ephemeral(channel=channel, user=user, message=message)

    @bolt.action(LOOP_IN_PICK)
    async def on_pick(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        nudge_id = _nudge_id(action)
        picked = [str(user) for user in action.get("selected_users") or []]
        async with session_scope(context.sessions) as session:
            nudge = (
                None
                if nudge_id is None
                else await nudge_in_workspace(session, workspace_id=_team(body), nudge_id=nudge_id)
            )
            if nudge is None:
                logger.warning("loop-in for unknown nudge %s in workspace %s", nudge_id, _team(body))
            else:
                result = await loop_in(
                    session,
                    nudge=nudge,
                    by_user=_user(body),
                    picked=picked,
                    now=context.clock(),
                    ignore=BOT_USER_IDS,
                )
        if nudge is None:
            await tell(body, GONE)
        elif result.newly_looped:
            context.delivery.wake()

    @bolt.action(LOOP_IN_NOBODY)
    async def on_nobody(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        nudge_id = _nudge_id(action)
        async with session_scope(context.sessions) as session:
            nudge = (
                None
                if nudge_id is None
                else await nudge_in_workspace(session, workspace_id=_team(body), nudge_id=nudge_id)
            )
            recorded = nudge is not None and await nobody_else(
                session, nudge=nudge, by_user=_user(body), now=context.clock()
            )
        if nudge is None:
            await tell(body, GONE)
        else:
            # Only the person who answered sees this: "nobody else" is worth recording, not announcing.
            await tell(
                body,
                Message(
                    text="Noted: nobody else needs to know. Thanks for checking."
                    if recorded
                    else "You already said nobody else needs to know."
                ),
            )

    @bolt.action(HELP_OPEN)
    async def on_help_open(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        nudge_id = _nudge_id(action)
        async with session_scope(context.sessions) as session:
            nudge = (
                None
                if nudge_id is None
                else await nudge_in_workspace(session, workspace_id=_team(body), nudge_id=nudge_id)
            )
        if nudge is None:
            await tell(body, GONE)
            return
        await context.gateway.open_dialog(trigger_id=str(body.get("trigger_id", "")), dialog=help_dialog(nudge))

    @bolt.view(HELP_SUBMIT)
    async def on_help_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = dialog_values(view.get("state") or {})
        errors = help_errors(values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        try:
            nudge_id: int | None = nudge_id_from(str(view.get("private_metadata", "")))
        except ValueError:
            nudge_id = None
        async with session_scope(context.sessions) as session:
            nudge = (
                None
                if nudge_id is None
                else await nudge_in_workspace(session, workspace_id=_team(body), nudge_id=nudge_id)
            )
            if nudge is None:
                await ack(response_action="errors", errors={"text": "That nudge no longer exists here."})
                return
            await record_help(
                session,
                nudge=nudge,
                user_id=_user(body),
                kind=str(values["kind"]),
                category=str(values["category"]),
                text=str(values["text"]),
                now=context.clock(),
            )
        await ack()
        context.delivery.wake()
