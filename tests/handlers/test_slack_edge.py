"""`POST /slack/events` before anything is trusted: oversized, unsigned and unreadable requests are refused with
a short answer and one short log line, never a body in the log, a 500 or a traceback."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.app import create_app
from bot.logs import JsonFormatter
from bot.settings import Settings
from tests.conftest import RunningApp, serving
from tests.support import databases
from tests.support.garbage import DEPTH, EVENT, UNREADABLE_JSON
from tests.support.signing import SIGNING_SECRET, slack_event, slack_headers

LIMIT = 64 * 1024
CHUNK = 4096


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The edge answers before any database is involved: SQLite alone is enough here."""
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
async def edge_app(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings.model_copy(update={"slack_max_body_bytes": LIMIT}), background_workers=False)
    async with serving(app) as running:
        yield running


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record at every level, Bolt's INFO and DEBUG included."""
    caplog.set_level(logging.DEBUG)
    return caplog


def logged_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each record as it reaches the log: message, extra fields and any traceback."""
    formatter = JsonFormatter()
    return [formatter.format(record) for record in caplog.records]


def no_error_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


def url_verification(padding: int = 0) -> bytes:
    return json.dumps({"type": "url_verification", "challenge": "abc123", "padding": "x" * padding}).encode()


def of_size(size: int) -> bytes:
    body = url_verification()
    return url_verification(size - len(body))


# ------------------------------------------------------------------------------------------------------ body size


async def test_a_body_up_to_the_limit_is_answered(edge_app: RunningApp) -> None:
    body = of_size(LIMIT)
    assert len(body) == LIMIT

    response = await edge_app.post(
        "/slack/events", body, {"Content-Type": "application/json", **slack_headers(body)}
    )

    assert response.status_code == 200
    assert "abc123" in response.text


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(edge_app: RunningApp) -> None:
    body = of_size(64 * 1024 * 1024)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024 * 1024):
            sent.append(start)
            yield body[start : start + 1024 * 1024]

    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **slack_headers(body)}
    response = await edge_app.http.post("/slack/events", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert str(LIMIT) in response.json()["error"]
    # The transport hands the app the first chunk with the request; nothing after it was asked for.
    assert len(sent) <= 1


async def test_a_body_without_a_declared_length_is_refused_as_soon_as_it_passes_the_limit(
    edge_app: RunningApp,
) -> None:
    body = of_size(4 * LIMIT)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            sent.append(start)
            yield body[start : start + CHUNK]

    headers = {"Content-Type": "application/json", **slack_headers(body)}
    response = await edge_app.http.post("/slack/events", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert len(sent) <= LIMIT // CHUNK + 2


# -------------------------------------------------------------------------------------------------------- the log


async def test_a_wrongly_signed_request_logs_one_short_line_naming_the_signing_secret_and_none_of_the_body(
    edge_app: RunningApp, logs: pytest.LogCaptureFixture
) -> None:
    marker = "confidential-body-text"
    body = json.dumps({"type": "event_callback", "text": marker * 2_000}).encode()
    headers = {"Content-Type": "application/json", **slack_headers(body, secret="not-the-signing-secret")}

    response = await edge_app.post("/slack/events", body, headers)

    assert response.status_code == 401
    assert response.json() == {"error": "signature does not match the body"}
    [line] = [text for text in logged_text(logs) if "refused" in text]
    assert "SLACK_SIGNING_SECRET" in line
    assert len(line) < 400
    assert not [text for text in logged_text(logs) if marker in text]


async def test_a_large_unsigned_request_puts_no_byte_of_its_body_in_the_log(
    settings: Settings, logs: pytest.LogCaptureFixture
) -> None:
    marker = "confidential-body-text"
    body = json.dumps({"type": "event_callback", "text": marker * 41_000}).encode()
    assert len(body) > 900_000
    async with serving(create_app(settings, background_workers=False)) as app:
        for _ in range(3):
            response = await app.post("/slack/events", body, {"Content-Type": "application/json"})
            assert response.status_code == 401

    assert not [text for text in logged_text(logs) if marker in text]
    refusals = [text for text in logged_text(logs) if "refused" in text]
    assert len(refusals) == 3
    assert all(len(line) < 400 for line in refusals)


# ----------------------------------------------------------------------------------------------------- garbage in


def signed_with_timestamp(body: bytes, timestamp: str) -> dict[str, str]:
    """Signed as Slack would, over any timestamp text (slack_headers takes only an int)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
GARBAGE_BODIES: dict[str, tuple[bytes, str]] = {
    **{name: (body, JSON) for name, body in UNREADABLE_JSON.items()},
    "UTF-8 byte order mark": (b"\xef\xbb\xbf" + EVENT, JSON),
    "payload= holding broken JSON": (b"payload=" + quote('{"type": "block_actions",').encode(), FORM),
    "payload= holding 10,000-deep JSON": (b"payload=" + quote("[" * DEPTH + "]" * DEPTH).encode(), FORM),
    "payload= holding a list": (b"payload=" + quote('["block_actions"]').encode(), FORM),
}


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize(("body", "content_type"), GARBAGE_BODIES.values(), ids=GARBAGE_BODIES.keys())
async def test_an_unreadable_body_is_refused_with_a_reason_and_no_traceback(
    edge_app: RunningApp, logs: pytest.LogCaptureFixture, body: bytes, content_type: str, signed: bool
) -> None:
    headers = {"Content-Type": content_type, **(slack_headers(body) if signed else {})}

    response = await edge_app.post("/slack/events", body, headers)

    assert response.status_code == (400 if signed else 401)
    assert response.json()["error"]
    assert no_error_logged(logs)


@pytest.mark.parametrize(
    "headers",
    [
        signed_with_timestamp(EVENT, "1" * 5_000),
        signed_with_timestamp(EVENT, "-" + str(int(time.time()))),
        signed_with_timestamp(EVENT, str(int(time.time()))[:-2] + "\u00b2\u00b3"),  # superscripts: str.isdigit
        {"X-Slack-Request-Timestamp": "1" * 5_000},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\u00e9t\u00e9"},
    ],
    ids=[
        "5,000-digit timestamp",
        "negative timestamp",
        "superscript digits",
        "unsigned long timestamp",
        "Latin-1",
    ],
)
async def test_a_malformed_signature_or_timestamp_is_refused_with_a_reason_and_no_traceback(
    edge_app: RunningApp, logs: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    # As bytes: httpx sends str header values only if they are ASCII.
    encoded = {name.encode(): value.encode("latin-1") for name, value in {"Content-Type": JSON, **headers}.items()}

    response = await edge_app.http.post("/slack/events", content=EVENT, headers=encoded)

    assert response.status_code == 401
    assert response.json()["error"]
    assert no_error_logged(logs)


async def test_a_signed_event_still_reaches_the_bot(edge_app: RunningApp) -> None:
    body, headers = slack_event({"type": "url_verification", "challenge": "xyz789", "token": "x"})

    response = await edge_app.post("/slack/events", body, headers)

    assert response.status_code == 200
    assert "xyz789" in response.text
