"""Verifies `X-Whoelse-Signature: sha256=<hex HMAC-SHA256 of the raw body>` and the freshness timestamp."""

from __future__ import annotations

import hashlib
import hmac


class SignatureRejected(Exception):
    """Why a request is not trusted; the reason is safe to show the sender."""


def verify(
    *,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    now: float,
    max_age_seconds: int,
) -> None:
    if not signature:
        raise SignatureRejected("missing X-Whoelse-Signature header")
    if not timestamp:
        raise SignatureRejected("missing X-Whoelse-Timestamp header")
    try:
        sent_at = int(timestamp)
    except ValueError as error:
        raise SignatureRejected("X-Whoelse-Timestamp must be Unix seconds") from error
    if abs(now - sent_at) > max_age_seconds:
        raise SignatureRejected(f"X-Whoelse-Timestamp is more than {max_age_seconds // 60} minutes off")
    scheme, _, digest = signature.partition("=")
    if scheme != "sha256" or not digest:
        raise SignatureRejected("X-Whoelse-Signature must look like sha256=<hex digest>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise SignatureRejected("signature does not match the body")
