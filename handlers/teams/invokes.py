"""Card actions and dialogs on Teams: `invoke` activities, answered in the HTTP response (Teams requires it).

Three kinds reach whoelse: `adaptiveCard/action` (a Universal Action button, `Action.Execute`, answered with a
refreshed card or a short message), `task/fetch` (a button that opens a dialog, answered with the dialog) and
`task/submit` (a dialog sent, answered by closing it with a message, or with the dialog again to show errors).
Each is routed by its verb: the button's action id, or the dialog's callback id, as the neutral messages name them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from microsoft_agents.activity import Activity

from bot.context import AppContext
from bot.teams.card_text import NO_NAMES, Names, PostedIn, plain
from bot.teams.cards import CARD_CONTENT_TYPE, DIALOG_KEY, VERB_KEY

logger = logging.getLogger(__name__)

CARD_ACTION = "adaptiveCard/action"
DIALOG_FETCH = "task/fetch"
DIALOG_SUBMIT = "task/submit"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


@dataclass(frozen=True)
class InvokeResponse:
    """The HTTP answer to an `invoke` activity (card actions and dialogs are answered in the response)."""

    status: int
    body: dict[str, Any] | None


@dataclass(frozen=True)
class Invoke:
    """One card action or dialog, with where it came from and who sent it, as whoelse names them."""

    name: str
    verb: str
    data: Mapping[str, Any]
    workspace_id: str
    # The conversation the card is in (a channel, without the ";messageid=" of its thread), and that thread's root.
    channel_id: str
    thread_root: str | None
    user_id: str
    activity: Activity

    def shown_here(self, names: Names = NO_NAMES) -> PostedIn:
        """The names for a card or dialog answered to this invoke: Teams shows it in the conversation it came from,
        so that conversation is "this channel", as in whoelse's posts there."""
        return PostedIn(names, self.channel_id)


InvokeHandler = Callable[[Invoke, AppContext], Awaitable[InvokeResponse]]


def read_invoke(activity: Activity) -> tuple[str, Mapping[str, Any]] | None:
    """The verb and data of a card action or dialog, or None for an invoke whoelse does not take."""
    value = _object(activity.value)
    if activity.name == CARD_ACTION:
        action = _object(value.get("action"))
        return str(action.get("verb") or ""), _object(action.get("data"))
    data = _object(value.get("data"))
    if activity.name == DIALOG_FETCH:
        return str(data.get(VERB_KEY) or ""), data
    if activity.name == DIALOG_SUBMIT:
        return str(data.get(DIALOG_KEY) or ""), data
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def message(text: str) -> InvokeResponse:
    """A short answer: shown in place of the card's spinner, or as the dialog closes."""
    return InvokeResponse(200, {"statusCode": 200, "type": MESSAGE_TYPE, "value": text})


def card(content: dict[str, Any]) -> InvokeResponse:
    """The card refreshed in place after an answer."""
    return InvokeResponse(200, {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": content})


def dialog_message(text: str) -> InvokeResponse:
    """Closes a dialog (or answers a dialog fetch) with a message instead of a form."""
    return InvokeResponse(200, {"task": {"type": "message", "value": text}})


NOT_ON_TEAMS_YET = "That is coming to Teams but does not work here yet."


async def answer_invoke(
    invoke: Invoke, context: AppContext, handlers: Mapping[str, InvokeHandler]
) -> InvokeResponse:
    handler = handlers.get(invoke.verb)
    if handler is None:
        logger.info("Teams invoke with no handler", extra={"invoke": invoke.name, "verb": invoke.verb[:64]})
        answer = dialog_message(NOT_ON_TEAMS_YET) if invoke.name != CARD_ACTION else message(NOT_ON_TEAMS_YET)
    else:
        answer = await handler(invoke, context)
    return _written_here(answer, invoke)


def _written_here(answer: InvokeResponse, invoke: Invoke) -> InvokeResponse:
    """A short answer's text comes in the neutral messages' markup (*bold*, commands, mentions); Teams shows it as
    typed, so it is written plain, with the conversation it is shown in called "this channel", as on cards."""
    body = answer.body or {}
    task = _object(body.get("task"))
    if body.get("type") == MESSAGE_TYPE:
        return replace(answer, body={**body, "value": plain(str(body.get("value") or ""), invoke.shown_here())})
    if task.get("type") == "message":
        task = {**task, "value": plain(str(task.get("value") or ""), invoke.shown_here())}
        return replace(answer, body={**body, "task": task})
    return answer


def invoke_handlers() -> dict[str, InvokeHandler]:
    """Every card action and dialog whoelse answers on Teams, by verb."""
    # Imported here: each feature's handlers import this module's Invoke and answers.
    from handlers.teams import connections, nudge_answers, polls, roundtables, settings

    handlers: dict[str, InvokeHandler] = {}
    handlers.update(connections.handlers())
    handlers.update(nudge_answers.handlers())
    handlers.update(polls.handlers())
    handlers.update(roundtables.handlers())
    handlers.update(settings.handlers())
    return handlers
