"""A token the Bot Framework sends again with each activity is checked in full once: after that, only what could
have changed is checked again (its time claims, its key still published), so a token that has expired, whose key
was withdrawn, or that differs by a single character is still refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.settings import Settings
from bot.teams import auth
from bot.teams.auth import CLOCK_SKEW_SECONDS, TeamsAuthenticator, TokenRejected
from bot.teams.clouds import trust_policy
from bot.teams.keys import OpenIdKeys
from tests.fakes.microsoft_login import FakeMicrosoftLogin
from tests.support.teams import APP_ID, channel_claims


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def wall_clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def keys_clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def authenticator(
    microsoft_login: FakeMicrosoftLogin, http: aiohttp.ClientSession, wall_clock: Clock, keys_clock: Clock
) -> TeamsAuthenticator:
    policy = trust_policy(
        Settings(_env_file=None, teams_app_id=APP_ID, teams_openid_metadata_url=microsoft_login.metadata_url)
    )
    keys = {url: OpenIdKeys(url, http, clock=keys_clock) for url in policy.metadata_urls}
    return TeamsAuthenticator(policy, keys, clock=wall_clock)


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature and claims are checked by PyJWT."""
    checked: list[str] = []
    verify = auth._verified_claims

    def counted(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        checked.append(token)
        return verify(token, *args, **kwargs)

    monkeypatch.setattr(auth, "_verified_claims", counted)
    return checked


async def test_a_token_sent_again_is_not_verified_again_while_it_is_good(
    authenticator: TeamsAuthenticator, microsoft_login: FakeMicrosoftLogin, signature_checks: list[str]
) -> None:
    token = microsoft_login.token(**channel_claims())

    verified = [await authenticator.authenticate(f"Bearer {token}") for _ in range(3)]

    assert signature_checks == [token]
    assert all(each.claims["aud"] == APP_ID for each in verified)


async def test_a_token_accepted_before_is_refused_once_it_has_expired(
    authenticator: TeamsAuthenticator, microsoft_login: FakeMicrosoftLogin, wall_clock: Clock
) -> None:
    # Good for two or three more seconds, with the leeway for clock skew (PyJWT reads the real clock, so this one
    # waits for real).
    token = microsoft_login.token(expires_in=-(CLOCK_SKEW_SECONDS - 3), **channel_claims())
    await authenticator.authenticate(f"Bearer {token}")

    await asyncio.sleep(3.2)
    wall_clock.now = time.time()

    with pytest.raises(TokenRejected, match="expired"):
        await authenticator.authenticate(f"Bearer {token}")


async def test_a_token_whose_key_was_withdrawn_is_refused_once_the_keys_are_read_again(
    authenticator: TeamsAuthenticator, microsoft_login: FakeMicrosoftLogin, keys_clock: Clock
) -> None:
    token = microsoft_login.token(**channel_claims())
    await authenticator.authenticate(f"Bearer {token}")
    microsoft_login.withdraw_key(microsoft_login.kid)

    keys_clock.now += 24 * 3600

    with pytest.raises(TokenRejected, match="does not publish"):
        await authenticator.authenticate(f"Bearer {token}")


async def test_a_token_differing_by_one_character_from_an_accepted_one_is_checked_in_full(
    authenticator: TeamsAuthenticator, microsoft_login: FakeMicrosoftLogin
) -> None:
    token = microsoft_login.token(**channel_claims())
    await authenticator.authenticate(f"Bearer {token}")
    header, claims, signature = token.split(".")
    middle = len(signature) // 2
    altered = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]

    with pytest.raises(TokenRejected, match="signature"):
        await authenticator.authenticate(f"Bearer {header}.{claims}.{altered}")


async def test_no_more_tokens_are_kept_than_the_limit(
    authenticator: TeamsAuthenticator,
    microsoft_login: FakeMicrosoftLogin,
    signature_checks: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth, "VERIFIED_TOKENS_KEPT", 2)
    first, second, third = (microsoft_login.token(**channel_claims(n=n)) for n in range(3))
    for token in (first, second, third, third, first):
        await authenticator.authenticate(f"Bearer {token}")

    # The first made room for the third, so it was checked again in full.
    assert signature_checks == [first, second, third, first]
