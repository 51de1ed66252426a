"""The Bot Connector REST API that Teams conversations are reached through, with the bot's own access token.

Every call goes to the service URL Teams gave for the conversation, exactly as given (region path included). Errors
become the gateway's words: a 429 is `RateLimited` with Teams' Retry-After (neither Microsoft SDK retries it, so the
outbox does), a 5xx or a network failure is transient, and anything else the connector refuses is permanent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.gateway import PermanentError, RateLimited, TransientError
from bot.teams.certificate import CLIENT_ASSERTION_TYPE, BotCertificate

logger = logging.getLogger(__name__)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
# Renew a token this long before Entra ID says it expires, so no call carries one that lapses in flight.
TOKEN_RENEWAL_MARGIN_SECONDS = 300
REQUEST_TIMEOUT_SECONDS = 30


class NotFound(PermanentError):
    """The Bot Connector knows no such conversation, activity or member (404)."""


@dataclass(frozen=True)
class BotCredentials:
    app_id: str
    # A client secret, or else the certificate whose key signs each token request.
    password: str | None
    # Entra ID's token endpoint for the bot's tenant (single tenant) or botframework.com (multi tenant).
    token_url: str
    certificate: BotCertificate | None = None

    def proof(self) -> dict[str, str]:
        """What proves the request comes from the bot: its secret, or an assertion signed with its certificate."""
        if self.certificate is not None:
            assertion = self.certificate.client_assertion(
                app_id=self.app_id, token_url=self.token_url, now=datetime.now(UTC)
            )
            return {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion}
        return {"client_secret": self.password or ""}

    @property
    def settings_to_check(self) -> str:
        secret = "TEAMS_APP_CERTIFICATE_PATH" if self.certificate is not None else "TEAMS_APP_PASSWORD"
        return f"TEAMS_APP_ID and {secret}"


class BotConnector:
    """Calls the Bot Connector; one instance (and one HTTP session) per process."""

    def __init__(self, credentials: BotCredentials | None) -> None:
        # None: development without a tenant (the Agents Playground accepts unauthenticated replies).
        self._credentials = credentials
        self._http: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _bearer(self) -> dict[str, str]:
        if self._credentials is None:
            return {}
        async with self._token_lock:
            if self._token is None or self._token[1] <= time.monotonic():
                self._token = await self._fetch_token(self._credentials)
        return {"Authorization": f"Bearer {self._token[0]}"}

    async def _fetch_token(self, credentials: BotCredentials) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.app_id,
            **credentials.proof(),
            "scope": BOT_FRAMEWORK_SCOPE,
        }
        try:
            async with self._session().post(credentials.token_url, data=form) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise TransientError(f"could not get a Bot Framework token: {type(error).__name__}") from error
        if status >= 500 or status == 429:
            raise TransientError(f"the token endpoint answered {status}")
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            # A wrong app id or secret: say which settings, never the secret.
            refusal = body.get("error") if isinstance(body, dict) else None
            raise PermanentError(
                f"Entra ID refused the bot's credentials ({refusal or status}): check {credentials.settings_to_check}"
            )
        lifetime = float(body.get("expires_in", 3600))
        return str(body["access_token"]), time.monotonic() + max(lifetime - TOKEN_RENEWAL_MARGIN_SECONDS, 30)

    async def call(self, method: str, service_url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        url = service_url.rstrip("/") + "/" + path.lstrip("/")
        headers = await self._bearer()
        try:
            async with self._session().request(method, url, json=payload, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if status == 429:
            raise RateLimited(_seconds(retry_after))
        if status == 401:
            # A token revoked or expired early: get a new one next time, and let the outbox try again.
            self._token = None
            raise TransientError("the Bot Connector refused the bot's token (401)")
        if status >= 500:
            raise TransientError(f"the Bot Connector answered {status}")
        if status == 404:
            raise NotFound(f"the Bot Connector answered 404: {_reason(text)}")
        if status >= 400:
            raise PermanentError(f"the Bot Connector answered {status}: {_reason(text)}")
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError as error:
            raise TransientError("the Bot Connector answered with something that is not JSON") from error


def conversation_path(conversation_id: str, *rest: str) -> str:
    """The REST path of a conversation; ids carry ':' '@' ';' and are escaped whole."""
    return "/".join(
        ["v3", "conversations", quote(conversation_id, safe=""), *(quote(part, safe="") for part in rest)]
    )


def _seconds(retry_after: str | None) -> float:
    try:
        return max(float(retry_after), 0.0) if retry_after else 1.0
    except ValueError:
        return 1.0


def _reason(text: str) -> str:
    return text[:200].replace("\n", " ")
