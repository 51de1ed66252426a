"""The Teams baseline: `POST /api/messages` that only checks the Bot Framework token, with the same PyJWT checks as
whoelse (RS256 against the key set named by the OpenID metadata, audience, issuer, expiry), and does nothing else."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import jwt
from fastapi import FastAPI, Request, Response

ISSUER = "https://api.botframework.com"
CLOCK_SKEW_SECONDS = 300


class TokenChecker:
    """Keys are read once from the metadata's jwks_uri and again only for a key id not seen before."""

    def __init__(self, metadata_url: str, app_id: str) -> None:
        self.metadata_url = metadata_url
        self.app_id = app_id
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.metadata_url) as response:
                response.raise_for_status()
                metadata: dict[str, Any] = await response.json()
            async with session.get(metadata["jwks_uri"]) as response:
                response.raise_for_status()
                keys: dict[str, Any] = await response.json()
        self._keys = {str(entry["kid"]): jwt.PyJWK(entry) for entry in keys["keys"]}

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys:
                    await self._refresh()
        return self._keys.get(kid)

    async def claims(self, authorization: str | None) -> dict[str, Any] | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._key(str(kid)) if kid else None
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        return claims


def add_teams_route(app: FastAPI, *, metadata_url: str, app_id: str) -> None:
    checker = TokenChecker(metadata_url, app_id)

    @app.post("/api/messages")
    async def teams_messages(request: Request) -> Response:
        if await checker.claims(request.headers.get("authorization")) is None:
            return Response(status_code=401)
        json.loads(await request.body())
        return Response(status_code=200)
