"""HubSpot's v3 request signature (`X-HubSpot-Signature-v3`), for the coming `POST /webhooks/hubspot`.

Not routed yet: HubSpot's deal notifications carry ids and the changed property, not the deal's name or owner, so
the route waits for the per-workspace HubSpot connection that lets whoelse fetch them from the CRM API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from handlers.webhooks.signature import SignatureRejected

# HubSpot signs the URI with these characters decoded (its documented list); every other escape stays as sent.
DECODED_IN_URI = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _as_signed(uri: str) -> str:
    for escaped, character in DECODED_IN_URI.items():
        uri = uri.replace(escaped, character).replace(escaped.lower(), character)
    return uri


def hubspot_v3_signature(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(client secret, method + URI + body + timestamp)), as HubSpot computes it."""
    signed = method.upper().encode() + _as_signed(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int,
    max_age_seconds: int,
) -> None:
    """Raises SignatureRejected unless the request is HubSpot's: the public URI it called (scheme and host
    included, as HubSpot saw them, not as a proxy passed them on), and a timestamp in milliseconds that is fresh."""
    if not signature:
        raise SignatureRejected("missing X-HubSpot-Signature-v3 header")
    if not timestamp or not timestamp.strip().isdigit() or not timestamp.isascii():
        raise SignatureRejected("missing X-HubSpot-Request-Timestamp header, or not milliseconds")
    if abs(now_ms - int(timestamp)) > max_age_seconds * 1000:
        raise SignatureRejected(f"X-HubSpot-Request-Timestamp is more than {max_age_seconds // 60} minutes off")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureRejected("X-HubSpot-Signature-v3 must be base64") from error
    expected = hubspot_v3_signature(secret=secret, method=method, uri=uri, body=body, timestamp=timestamp.strip())
    if not hmac.compare_digest(base64.b64decode(expected), given):
        raise SignatureRejected("signature does not match the request")
