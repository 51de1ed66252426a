"""Verifies Slack's request signature: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">`,
with `X-Slack-Request-Timestamp` no more than five minutes from now (Slack's rule, the one Bolt applies)."""

from __future__ import annotations

import hashlib
import hmac

MAX_AGE_SECONDS = 5 * 60
# Unix seconds have 10 digits until the year 2286. A longer "timestamp" is not one, and int() refuses (after a
# quadratic-time attempt) one of more than 4,300 digits.
MAX_TIMESTAMP_DIGITS = 12


class SlackSignatureRejected(Exception):
    """Why a request is not trusted (`reason`, safe to show the sender) and what an operator should suspect."""

    def __init__(self, reason: str, likely_cause: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.likely_cause = likely_cause


def verify(*, body: bytes, signature: str | None, timestamp: str | None, secret: str, now: float) -> None:
    if not signature or not timestamp:
        raise SlackSignatureRejected(
            "missing X-Slack-Signature or X-Slack-Request-Timestamp header", "the request was not sent by Slack"
        )
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SlackSignatureRejected(
            "X-Slack-Request-Timestamp must be Unix seconds", "the request was not sent by Slack"
        )
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise SlackSignatureRejected(
            f"X-Slack-Request-Timestamp is more than {MAX_AGE_SECONDS // 60} minutes off",
            "a replayed request, or this server's clock is wrong",
        )
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = b"v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest().encode()
    # Compared as bytes: compare_digest refuses str with characters beyond ASCII, and a header may hold any Latin-1.
    if not hmac.compare_digest(expected, signature.strip().encode("latin-1", errors="replace")):
        raise SlackSignatureRejected(
            "signature does not match the body",
            "if Slack's own requests are refused, SLACK_SIGNING_SECRET is not this Slack app's Signing Secret",
        )
