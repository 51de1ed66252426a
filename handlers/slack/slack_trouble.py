"""What to tell someone when whoelse asked Slack about them (are they an admin?) and got no usable answer.

"I couldn't reach Slack" is true only when Slack could not be reached or was failing (a network error, a 5xx).
When Slack answered with an error of its own (`user_not_found`, `missing_scope`, a revoked token), trying again
in a minute will not help, so the reply says what went wrong and who can fix it.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.gateway import DeliveryError, PermanentError, RateLimited

# Errors that mean whoelse's own access to Slack is broken, not anything the person did.
ACCESS_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}


def trouble_asking_slack(error: DeliveryError, *, to: str) -> str:
    """The reply when asking Slack failed; `to` says what whoelse was trying to do ("check your admin rights")."""
    if isinstance(error, RateLimited):
        return f"Slack asked whoelse to slow down, so I couldn't {to} just now. Please try again in a minute."
    code = _slack_code(error)
    if code is None:
        return f"I couldn't reach Slack to {to} just now. Please try again in a minute."
    if code == "user_not_found":
        return (
            f"Slack doesn't know your account in the workspace whoelse serves, so I can't {to}. "
            "If you're in a channel shared with another organisation, ask someone from this workspace."
        )
    if code in ACCESS_ERRORS:
        return (
            f"Slack refused whoelse's own access (`{code}`), so I can't {to}. "
            "Whoever runs whoelse needs to check its Slack bot token."
        )
    if code == "missing_scope":
        return (
            f"whoelse lacks a Slack permission it needs to {to} (`missing_scope`). "
            "Whoever runs whoelse needs to reinstall the Slack app with the scopes in manifest.yml."
        )
    return (
        f"Slack answered with an error (`{code}`), so I couldn't {to}. "
        "If it keeps happening, tell whoever runs whoelse."
    )


def _slack_code(error: DeliveryError) -> str | None:
    """Slack's own error code when Slack answered (below 500) with one; None when it was not reached."""
    if isinstance(error, PermanentError):
        return error.reason
    cause = error.__cause__
    if isinstance(cause, SlackApiError) and cause.response.status_code < 500 and cause.response.get("error"):
        return str(cause.response["error"])
    return None
