"""The signing keys a Microsoft OpenID metadata document publishes, cached by key id.

Keys are read from the document's `jwks_uri` at first use, again once a day, and again when a token names a key
id not seen yet (Microsoft rotates keys by publishing the new one first). That last refresh is rate-limited, so a
stream of tokens with made-up key ids cannot make whoelse hammer Microsoft's endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 24 * 3600
MIN_REFRESH_INTERVAL_SECONDS = 300.0
# Until the keys have been read once, nothing can be accepted: try again sooner.
RETRY_WITHOUT_KEYS_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 10.0


class KeysUnavailable(Exception):
    """The keys could not be fetched and none are cached: no token can be checked."""


@dataclass(frozen=True)
class PublishedKey:
    key: jwt.PyJWK
    # Bot Framework keys list the channels they may sign for ("msteams", ...); Entra keys list none (None).
    endorsements: frozenset[str] | None


class OpenIdKeys:
    def __init__(
        self,
        metadata_url: str,
        session: aiohttp.ClientSession,
        *,
        max_age: float = MAX_AGE_SECONDS,
        min_refresh_interval: float = MIN_REFRESH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = metadata_url
        self._session = session
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._keys: dict[str, PublishedKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PublishedKey | None:
        """The key with this id, or None when the document does not publish it (even after a refresh)."""
        # A request that arrives while a fetch is under way waits for it (the first burst after a start would
        # otherwise find no keys yet and be refused).
        if self._needs_refresh(kid) or self._lock.locked():
            async with self._lock:
                # Whoever held the lock may just have fetched what this request needs.
                if self._needs_refresh(kid):
                    await self._refresh()
        if self._fetched_at is None:
            raise KeysUnavailable(f"the signing keys from {self.metadata_url} could not be read yet")
        return self._keys.get(kid)

    def _needs_refresh(self, kid: str) -> bool:
        now = self._clock()
        if self._fetched_at is None:
            return self._attempted_at is None or now - self._attempted_at >= RETRY_WITHOUT_KEYS_SECONDS
        if now - self._fetched_at >= self._max_age:
            # Stale or never fetched; failed attempts still wait their turn, so an outage is not a fetch per request.
            return self._attempted_at is None or now - self._attempted_at >= self._min_refresh_interval
        if kid in self._keys:
            return False
        return self._attempted_at is None or now - self._attempted_at >= self._min_refresh_interval

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = await self._fetch()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            if self._fetched_at is None:
                raise KeysUnavailable(
                    f"could not read the signing keys from {self.metadata_url}: {error}"
                ) from error
            # Keys published until now are still good for the tokens they signed.
            logger.exception(
                "could not refresh the Teams signing keys from %s; keeping the cached ones", self.metadata_url
            )
            return
        self._keys = keys
        self._fetched_at = self._attempted_at

    async def _fetch(self) -> dict[str, PublishedKey]:
        metadata = await self._get_json(self.metadata_url)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise ValueError("the OpenID metadata document has no jwks_uri")
        document = await self._get_json(jwks_uri)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError("the key set has no keys")
        keys: dict[str, PublishedKey] = {}
        for entry in entries:
            published = _published_key(entry)
            if published is not None:
                keys[str(entry["kid"])] = published
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        async with self._session.get(url, timeout=timeout) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document


def _published_key(entry: object) -> PublishedKey | None:
    """A usable signing key, or None for an entry whoelse cannot use (no id, not a key, not for signatures)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("use", "sig") != "sig":
        return None
    try:
        key = jwt.PyJWK(entry)
    except jwt.PyJWTError as error:
        # One malformed key (bad numbers, an unknown key type) must not cost the others.
        logger.warning("skipping published key %s: %s", entry["kid"], error)
        return None
    endorsements = entry.get("endorsements")
    return PublishedKey(
        key=key,
        endorsements=frozenset(str(e) for e in endorsements) if isinstance(endorsements, list) else None,
    )
