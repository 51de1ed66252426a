"""`POST /api/messages`: authenticate the request, read the activity, hand it to `activities.dispatch`.

The token is checked before the body is read, so an unauthenticated sender costs no more than a header; the parts
of the check that need the activity (its service URL and channel) follow once it is parsed.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from microsoft_agents.activity import Activity
from pydantic import ValidationError

from bot.context import AppContext
from bot.teams.auth import TeamsAuthenticator, TokenRejected, VerifiedToken
from bot.teams.keys import KeysUnavailable
from handlers.request_body import read_limited
from handlers.teams import activities

logger = logging.getLogger(__name__)

# Teams caps a message at about 28 KB; invokes carry card data too. Well past both, far short of a memory problem.
MAX_ACTIVITY_BYTES = 256 * 1024


class _WithoutRejectedActivities(logging.Filter):
    """The SDK logs a rejected activity at ERROR with the input in it; whoelse answers 400 itself and never logs
    message bodies (they are people's words)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Validation error for Activity")


logging.getLogger("microsoft_agents.activity.activity").addFilter(_WithoutRejectedActivities())


def _problem(status: int, error: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


async def messages(request: Request) -> Response:
    """`POST /api/messages` (registered in handlers/teams)."""
    context: AppContext = request.app.state.context
    authenticator: TeamsAuthenticator | None = request.app.state.teams_authenticator
    verified: VerifiedToken | None = None
    if authenticator is not None:
        try:
            verified = await authenticator.authenticate(request.headers.get("authorization"))
        except TokenRejected as rejected:
            logger.warning("Teams request refused: %s", rejected)
            return _problem(401, str(rejected))
        except KeysUnavailable:
            logger.exception("Teams request not checked: the signing keys are unavailable")
            return _problem(503, "the signing keys could not be fetched; please retry")

    body = await read_limited(request, MAX_ACTIVITY_BYTES)
    if body is None:
        return _problem(413, f"body is larger than {MAX_ACTIVITY_BYTES} bytes")
    activity = _read_activity(body)
    if isinstance(activity, JSONResponse):
        return activity

    if verified is not None:
        try:
            verified.check_activity(
                service_url=activity.service_url or "",
                channel_id=activity.channel_id.channel if activity.channel_id is not None else "",
            )
        except TokenRejected as rejected:
            logger.warning("Teams request refused: %s", rejected)
            return _problem(401, str(rejected))

    answer = await activities.dispatch(
        activity,
        context,
        request.app.state.commands,
        request.app.state.teams_invokes,
        request.app.state.teams_conversations,
        request.app.state.teams_replies,
    )
    if answer is None:
        return Response(status_code=200)
    if answer.body is None:
        return Response(status_code=answer.status)
    return JSONResponse(answer.body, status_code=answer.status)


def _read_activity(body: bytes) -> Activity | JSONResponse:
    """The activity, or a 400 naming what is wrong (never echoing the body, which holds people's words)."""
    try:
        activity = Activity.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
            for issue in error.errors(include_input=False, include_url=False, include_context=False)
        )
        return _problem(400, f"not an activity: {problems}")
    except Exception as error:
        # The SDK's own checks raise TypeError (a blank channelId) and a bare Exception (a channelId whose
        # sub-channel contradicts the productInfo entity) rather than validation errors: still the sender's mistake.
        logger.warning("Teams activity refused: %s", type(error).__name__)
        return _problem(400, f"not an activity: {str(error).splitlines()[0]}")
    if not activity.service_url or activity.channel_id is None:
        return _problem(400, "not an activity: serviceUrl and channelId are required")
    return activity
