"""A fake of Microsoft's OpenID metadata and key set, with RSA keys the tests make, so the real token checks run.

    with FakeMicrosoftLogin() as login:
        settings = Settings(teams_openid_metadata_url=login.metadata_url, ...)
        token = login.token(aud=APP_ID, iss="https://api.botframework.com", serviceurl=SERVICE_URL)

The fake publishes one key (`login.kid`, endorsed for msteams like Bot Framework keys) until told otherwise, and
can sign with keys it does not publish, so every way a token can be wrong is one call away.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["FakeMicrosoftLogin", "new_rsa_key"]

METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeMicrosoftLogin(LoopbackFake):
    """Thread-safe: the server thread and the test thread share the published keys under one lock."""

    def __init__(self, *, endorsements: Iterable[str] | None = ("msteams",)) -> None:
        self._lock = threading.Lock()
        self._private: dict[str, rsa.RSAPrivateKey] = {}
        self._published: dict[str, dict[str, Any]] = {}
        self._key_fetches = 0
        self._down = False
        self._server = LoopbackServer("fake-microsoft-login", self._build_app)
        self.kid = self.publish_new_key(endorsements=endorsements)

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{METADATA_PATH}"

    # ------------------------------------------------------------------ keys and tokens

    def publish_new_key(self, *, kid: str | None = None, endorsements: Iterable[str] | None = ("msteams",)) -> str:
        """Makes a key and publishes it (a rotation, when the server is running); returns its id."""
        private = new_rsa_key()
        kid = kid or f"key-{time.monotonic_ns()}"
        public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        public.update(kid=kid, use="sig")
        if endorsements is not None:
            public["endorsements"] = list(endorsements)
        with self._lock:
            self._private[kid] = private
            self._published[kid] = public
        return kid

    def publish_raw(self, entry: dict[str, Any]) -> None:
        """Publishes a key set entry as given (a malformed key, a key type whoelse does not use)."""
        with self._lock:
            self._published[str(entry.get("kid"))] = dict(entry)

    def token(
        self,
        *,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        expires_in: float = 3600,
        not_before: float | None = None,
        **claims: Any,
    ) -> str:
        """A token signed (RS256) with a published key (`kid`, by default the first), or with `key` if given.

        `headers={"kid": None}` leaves the key id out. Claims are as given, plus `exp` (`expires_in` seconds from
        now) and `nbf` (`not_before`, as seconds from now, when given).
        """
        kid = self.kid if kid is None else kid
        with self._lock:
            signing_key = key if key is not None else self._private[kid]
        now = time.time()
        payload = {"exp": int(now + expires_in), **claims}
        if not_before is not None:
            payload["nbf"] = int(now + not_before)
        token_headers: dict[str, Any] = {"kid": kid, **(headers or {})}
        if token_headers["kid"] is None:
            del token_headers["kid"]
        return jwt.encode(payload, signing_key, algorithm="RS256", headers=token_headers)

    @property
    def key_fetches(self) -> int:
        """How many times the key set was read."""
        with self._lock:
            return self._key_fetches

    def set_down(self, down: bool = True) -> None:
        """Answer 503 to everything, as an outage would."""
        with self._lock:
            self._down = down

    # ------------------------------------------------------------------ HTTP

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get(KEYS_PATH, self._keys)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        with self._lock:
            if self._down:
                return web.Response(status=503)
        base = f"http://127.0.0.1:{self._server.port}"
        return web.json_response(
            {
                "issuer": "https://api.botframework.com",
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": base + KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        with self._lock:
            if self._down:
                return web.Response(status=503)
            self._key_fetches += 1
            keys = [dict(key) for key in self._published.values()]
        return web.json_response({"keys": keys})
