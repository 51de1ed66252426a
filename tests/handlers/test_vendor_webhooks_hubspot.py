"""HubSpot's v3 request signature, checked against the vector HubSpot's own client library is tested with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handlers.webhooks.hubspot import hubspot_v3_signature, verify_hubspot_v3
from handlers.webhooks.signature import SignatureRejected

# From HubSpot's Python client (tests/spec/utils/test_signature.py, test_get_signature__v3).
VECTOR: dict[str, Any] = {
    "secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
    "method": "POST",
    "uri": "https://www.example.com/webhook_uri",
    "body": b"{'example_field':'example_value'}",
    "timestamp": "15000000",
}
VECTOR_SIGNATURE = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
FIVE_MINUTES = 300


def test_the_signature_matches_hubspots_published_vector() -> None:
    assert hubspot_v3_signature(**VECTOR) == VECTOR_SIGNATURE


def test_a_request_signed_as_in_the_vector_and_just_sent_is_accepted() -> None:
    verify_hubspot_v3(**VECTOR, signature=VECTOR_SIGNATURE, now_ms=15_000_000 + 1000, max_age_seconds=FIVE_MINUTES)


def test_the_uri_is_signed_with_the_characters_hubspot_decodes() -> None:
    encoded = VECTOR | {"uri": "https://www.example.com/webhook_uri%3Fsource=hubspot%40eu"}
    decoded = VECTOR | {"uri": "https://www.example.com/webhook_uri?source=hubspot@eu"}

    assert hubspot_v3_signature(**encoded) == hubspot_v3_signature(**decoded)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda request: request | {"body": request["body"] + b" "},
        lambda request: request | {"uri": "https://www.example.com/other_uri"},
        lambda request: request | {"method": "PUT"},
        lambda request: request | {"secret": "another-apps-secret"},
        lambda request: request | {"signature": None},
        lambda request: request | {"signature": "not base64!"},
        lambda request: request | {"timestamp": None},
        lambda request: request | {"timestamp": "15.000.000"},
        lambda request: request | {"now_ms": 15_000_000 + 301_000},
    ],
    ids=["body", "uri", "method", "secret", "unsigned", "garbled", "no timestamp", "bad timestamp", "stale"],
)
def test_anything_changed_or_stale_is_rejected(tamper: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    request = VECTOR | {
        "signature": VECTOR_SIGNATURE,
        "now_ms": 15_000_000 + 1000,
        "max_age_seconds": FIVE_MINUTES,
    }

    with pytest.raises(SignatureRejected):
        verify_hubspot_v3(**tamper(request))
