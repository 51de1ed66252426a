"""A fake of Microsoft's OpenID metadata and key set, with RSA keys the tests make, so the real token checks run.

    with FakeMicrosoftLogin() as login:
        settings = Settings(teams_openid_metadata_url=login.metadata_url, ...)
        token = login.token(aud=APP_ID, iss="https://api.botframework.com", serviceurl=SERVICE_URL)

The fake publishes one key (`login.kid`, endorsed for msteams like Bot Framework keys) until told otherwise, and
can sign with keys it does not publish, so every way a token can be wrong is one call away.

It is also Entra ID's token endpoint for an app that proves itself with a certificate (`login.token_url`): a
certificate registered with `register_certificate` lets a client assertion signed with its key (PS256 or RS256,
named by `x5t#S256`, meant for this token URL, issued by and about the app, unexpired, never replayed) be exchanged
for `access_token`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["FakeMicrosoftLogin", "certificate_pem", "new_rsa_key"]

METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
TOKEN_PATH = "/botframework.com/oauth2/v2.0/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# A 2048-bit key costs tens of milliseconds to make, and a test run starts a fake login per Teams test: the keys the
# fakes publish come from one stock, made as first needed. A fake's n-th key is the stock's n-th, so the keys one fake
# publishes all differ; keys made with new_rsa_key (a forger's, a certificate's) are always new.
_STOCK: list[rsa.RSAPrivateKey] = []
_STOCK_LOCK = threading.Lock()


def _stock_key(index: int) -> rsa.RSAPrivateKey:
    with _STOCK_LOCK:
        while len(_STOCK) <= index:
            _STOCK.append(new_rsa_key())
        return _STOCK[index]


def certificate_pem(key: rsa.RSAPrivateKey | None = None) -> tuple[x509.Certificate, bytes]:
    """A self-signed certificate, and a PEM file's content holding it and its unencrypted private key."""
    key = key or new_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whoelse bot")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate, certificate.public_bytes(serialization.Encoding.PEM) + key_pem


def _sha256_thumbprint(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeMicrosoftLogin(LoopbackFake):
    """Thread-safe: the server thread and the test thread share the published keys under one lock."""

    def __init__(self, *, endorsements: Iterable[str] | None = ("msteams",)) -> None:
        self._lock = threading.Lock()
        self._private: dict[str, rsa.RSAPrivateKey] = {}
        self._published: dict[str, dict[str, Any]] = {}
        self._key_fetches = 0
        self._down = False
        # Certificates registered for apps, by (app id, SHA-256 thumbprint); assertion ids already used.
        self._certificates: dict[tuple[str, str], x509.Certificate] = {}
        self._used_assertions: set[str] = set()
        self.access_token = "fake-access-token"
        # Every client assertion received, decoded without checks (header, claims), for tests to read.
        self.assertions: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._server = LoopbackServer("fake-microsoft-login", self._build_app)
        self._keys_made = 0
        self.kid = self.publish_new_key(endorsements=endorsements)

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{METADATA_PATH}"

    # ------------------------------------------------------------------ keys and tokens

    def publish_new_key(self, *, kid: str | None = None, endorsements: Iterable[str] | None = ("msteams",)) -> str:
        """Makes a key and publishes it (a rotation, when the server is running); returns its id."""
        with self._lock:
            private = _stock_key(self._keys_made)
            self._keys_made += 1
        kid = kid or f"key-{time.monotonic_ns()}"
        public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        public.update(kid=kid, use="sig")
        if endorsements is not None:
            public["endorsements"] = list(endorsements)
        with self._lock:
            self._private[kid] = private
            self._published[kid] = public
        return kid

    def withdraw_key(self, kid: str) -> None:
        """Stops publishing a key (Microsoft withdrawing one); tokens it signed no longer verify once re-read."""
        with self._lock:
            del self._published[kid]

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
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{TOKEN_PATH}"

    def register_certificate(self, app_id: str, certificate: x509.Certificate) -> None:
        """As uploading the certificate to the app registration does."""
        with self._lock:
            self._certificates[(app_id, _sha256_thumbprint(certificate))] = certificate

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
        app.router.add_post(TOKEN_PATH, self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        app_id = str(form.get("client_id") or "")
        assertion = str(form.get("client_assertion") or "")
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != JWT_BEARER:
            return _refused("unsupported_grant_type", "a client assertion is expected")
        try:
            header = jwt.get_unverified_header(assertion)
            self.assertions.append((header, jwt.decode(assertion, options={"verify_signature": False})))
        except jwt.PyJWTError:
            return _refused("invalid_client", "the client assertion is not a JWT")
        with self._lock:
            certificate = self._certificates.get((app_id, str(header.get("x5t#S256") or "")))
        if certificate is None:
            return _refused("invalid_client", "AADSTS700027: no certificate with that thumbprint for this app")
        try:
            claims = jwt.decode(
                assertion,
                certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["PS256", "RS256"],
                audience=self.token_url,
                issuer=app_id,
                options={"require": ["exp", "nbf", "jti", "sub"]},
            )
        except jwt.PyJWTError as error:
            return _refused("invalid_client", f"AADSTS700027: {error}")
        with self._lock:
            replayed = claims["jti"] in self._used_assertions
            self._used_assertions.add(claims["jti"])
        if claims["sub"] != app_id or replayed:
            return _refused("invalid_client", "the assertion's subject or id is wrong")
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": self.access_token})

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


def _refused(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=401)
