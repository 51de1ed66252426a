"""Is this request really from Microsoft's Bot Framework (or the bot's own Entra tenant), and for this bot?

whoelse checks every bearer token itself rather than through an SDK's validator, so that each of these refuses the
request: no token; not a JWT; any algorithm but RS256 (so never `none`); no key id; an issuer that is not trusted;
a key its issuer's metadata does not publish; a bad signature; expired or not yet valid (with a small leeway for
clock skew); another audience than TEAMS_APP_ID; an Entra token from another tenant; and, once the activity is read,
a `serviceurl` claim other than the activity's `serviceUrl` (whoelse sends its own credentials to that URL when it
replies) or a Bot Framework key that does not endorse the activity's channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from bot.settings import Settings
from bot.teams.clouds import TrustPolicy, trust_policy
from bot.teams.keys import OpenIdKeys, PublishedKey

ALGORITHMS = ["RS256"]
# Microsoft's own validators allow five minutes between their clock and ours.
CLOCK_SKEW_SECONDS = 300
# Tokens already verified, kept until they expire. The Bot Framework sends the same token with every activity for
# about an hour, so without this each message paid for parsing it (in pure Python) and checking its RSA signature
# again; a few hundred tokens at most are live at a time, even for a bot in many tenants.
VERIFIED_TOKENS_KEPT = 1024


class TokenRejected(Exception):
    """The request is not proven to come from Microsoft for this bot; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    key: PublishedKey

    def check_activity(self, *, service_url: str, channel_id: str) -> None:
        """The token was issued for this activity: its service URL, and (Bot Framework keys) its channel."""
        claimed = self.claims.get("serviceurl")
        if not isinstance(claimed, str) or not claimed:
            raise TokenRejected("the token names no serviceurl")
        if claimed.rstrip("/") != service_url.rstrip("/"):
            raise TokenRejected("the token's serviceurl is not the activity's serviceUrl")
        endorsements = self.key.endorsements
        if endorsements is not None and channel_id not in endorsements:
            raise TokenRejected(f"the signing key does not endorse channel {channel_id!r}")


@dataclass(frozen=True)
class _Verified:
    """A token whose every check passed, and what it takes to pass them again without its signature: its key
    still published (the very key, not one fetched since) and its time claims still good."""

    token: VerifiedToken
    kid: str
    issuer: str
    not_before: float
    expires: float


class TeamsAuthenticator:
    def __init__(
        self, policy: TrustPolicy, keys: Mapping[str, OpenIdKeys], *, clock: Callable[[], float] = time.time
    ) -> None:
        missing = policy.metadata_urls - keys.keys()
        if missing:
            raise ValueError(f"no key source for {sorted(missing)}")
        self.policy = policy
        self._keys = keys
        self._clock = clock
        # By the token's exact text: a token differing by a single character is another token, checked in full.
        self._verified: dict[str, _Verified] = {}

    async def authenticate(self, authorization: str | None) -> VerifiedToken:
        """The token's verified claims; raises TokenRejected, or KeysUnavailable when no key can be read."""
        token = _bearer(authorization)
        known = self._verified.get(token)
        if known is not None:
            if await self._still_good(known):
                return known.token
            del self._verified[token]
        verified = await self._verify(token)
        self._remember(token, verified)
        return verified.token

    async def _still_good(self, known: _Verified) -> bool:
        """What the signature proved still holds; the time claims are checked as PyJWT checks them, with the same
        leeway. A key dropped from (or refetched into) its issuer's metadata sends the token through every check."""
        now = self._clock()
        if not known.not_before - CLOCK_SKEW_SECONDS <= now < known.expires + CLOCK_SKEW_SECONDS:
            return False
        return await self._keys[self.policy.issuers[known.issuer]].get(known.kid) is known.token.key

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            now = self._clock()
            for kept, entry in list(self._verified.items()):
                if entry.expires + CLOCK_SKEW_SECONDS <= now:
                    del self._verified[kept]
            # Still full of live tokens: the oldest makes room.
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                del self._verified[next(iter(self._verified))]
        self._verified[token] = verified

    async def _verify(self, token: str) -> _Verified:
        try:
            # Header and claims read in one pass; nothing in them is trusted until the signature is checked below.
            unverified_token = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise TokenRejected("the bearer token is not a JWT") from error
        header: dict[str, Any] = unverified_token["header"]
        unverified: dict[str, Any] = unverified_token["payload"]
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRejected(f"tokens signed with {algorithm!r} are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("the token names no signing key (kid)")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.policy.issuers:
            raise TokenRejected("the token's issuer is not trusted")
        # The issuer is only trusted to pick where the key must come from; the signature check below proves it.
        key = await self._keys[self.policy.issuers[issuer]].get(kid)
        if key is None:
            raise TokenRejected("the token is signed with a key its issuer does not publish")
        claims = _verified_claims(token, key, audience=self.policy.app_id, issuer=issuer)
        if self.policy.is_entra(issuer) and claims.get("tid") != self.policy.tenant_id:
            raise TokenRejected("the token is from another tenant")
        return _Verified(
            token=VerifiedToken(claims=claims, key=key),
            kid=kid,
            issuer=issuer,
            not_before=max(_moment(claims.get("nbf")), _moment(claims.get("iat"))),
            expires=_moment(claims["exp"]),
        )


def _moment(claim: Any) -> float:
    """A time claim as PyJWT compared it when it accepted the token (as an integer), or no constraint when the
    token has none."""
    return float("-inf") if claim is None else float(int(claim))


def _bearer(authorization: str | None) -> str:
    if authorization is None:
        raise TokenRejected("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("the Authorization header is not a bearer token")
    return token.strip()


def _verified_claims(token: str, key: PublishedKey, *, audience: str, issuer: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenRejected("the token has expired") from error
    except jwt.ImmatureSignatureError as error:
        raise TokenRejected("the token is not valid yet") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRejected("the token is for another app") from error
    except jwt.InvalidSignatureError as error:
        raise TokenRejected("the token's signature does not verify") from error
    except jwt.PyJWTError as error:
        raise TokenRejected(f"the token is not valid: {error}") from error
    return claims


def build_authenticator(settings: Settings, session: aiohttp.ClientSession) -> TeamsAuthenticator | None:
    """The authenticator for these settings, or None when unauthenticated requests are allowed (development)."""
    if settings.teams_allow_unauthenticated:
        return None
    policy = trust_policy(settings)
    return TeamsAuthenticator(policy, {url: OpenIdKeys(url, session) for url in policy.metadata_urls})
