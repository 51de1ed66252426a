"""The settings dialog's submission: admin rights checked again, every field validated, then saved."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import AppContext
from bot.gateway import DeliveryError
from bot.slack.blocks import dialog_values
from habits.form_origin import NOT_YOUR_FORM, read_origin
from habits.workspace_settings import SETTINGS_DIALOG, TIMEZONE, InvalidSettings, read_settings, save_settings
from handlers.slack.slack_trouble import trouble_asking_slack
from models.db import session_scope

logger = logging.getLogger(__name__)

NOT_AN_ADMIN = "Only workspace admins can change these settings."


def register(bolt: AsyncApp, context: AppContext) -> None:
    @bolt.view(SETTINGS_DIALOG)
    async def on_settings_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = str(body["user"]["id"])
        workspace_id = str((body.get("team") or {}).get("id") or body["user"]["team_id"])
        # Anyone who can send this submission could have been shown the dialog once; rights may have changed since.
        try:
            person = await (await context.gateway_for(workspace_id)).person(user=user_id)
        except DeliveryError as error:
            logger.exception("could not check the admin rights of %s before saving settings", user_id)
            reply = trouble_asking_slack(error, to="check your admin rights")
            await ack(response_action="errors", errors={TIMEZONE: reply})
            return
        if not person.is_admin:
            logger.warning("settings submission from %s, who is not an admin, was refused", user_id)
            await ack(response_action="errors", errors={TIMEZONE: NOT_AN_ADMIN})
            return
        if read_origin(view.get("private_metadata"), user_id=user_id) is None:
            logger.warning(
                "refused a settings form that %s did not open", user_id, extra={"workspace": workspace_id}
            )
            await ack(response_action="errors", errors={TIMEZONE: NOT_YOUR_FORM})
            return
        try:
            settings = read_settings(dialog_values(view.get("state") or {}))
        except InvalidSettings as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        async with session_scope(context.sessions) as session:
            await save_settings(
                session,
                workspace_id=workspace_id,
                settings=settings,
                saved_by=user_id,
                change_id=str(view["id"]),
                default_timezone=context.settings.default_timezone,
            )
        context.delivery.wake()
        await ack()
