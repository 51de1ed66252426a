"""Signing keys: fetched once, refreshed daily and when Microsoft rotates to a new key, but never hammered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.teams.keys import MIN_REFRESH_INTERVAL_SECONDS, RETRY_WITHOUT_KEYS_SECONDS, KeysUnavailable, OpenIdKeys
from tests.fakes.microsoft_login import FakeMicrosoftLogin


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(microsoft_login: FakeMicrosoftLogin, http: aiohttp.ClientSession, clock: Clock) -> OpenIdKeys:
    return OpenIdKeys(microsoft_login.metadata_url, http, clock=clock)


async def test_a_rotated_key_is_found_by_refreshing_when_a_token_names_it(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> None:
    assert await keys.get(microsoft_login.kid) is not None
    clock.now += MIN_REFRESH_INTERVAL_SECONDS
    rotated = microsoft_login.publish_new_key()
    found = await keys.get(rotated)
    assert found is not None
    assert found.endorsements == frozenset({"msteams"})
    assert microsoft_login.key_fetches == 2


async def test_requests_arriving_during_the_first_fetch_wait_for_it_instead_of_being_refused(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin
) -> None:
    found = await asyncio.gather(*(keys.get(microsoft_login.kid) for _ in range(10)))

    assert all(key is not None for key in found)
    assert microsoft_login.key_fetches == 1


async def test_made_up_key_ids_cause_at_most_one_refresh_per_interval(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> None:
    await keys.get(microsoft_login.kid)
    for n in range(20):
        assert await keys.get(f"made-up-{n}") is None
    assert microsoft_login.key_fetches == 1
    clock.now += MIN_REFRESH_INTERVAL_SECONDS
    await asyncio.gather(*(keys.get(f"made-up-again-{n}") for n in range(20)))
    assert microsoft_login.key_fetches == 2


async def test_keys_are_read_again_after_a_day(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> None:
    await keys.get(microsoft_login.kid)
    clock.now += 24 * 3600
    await keys.get(microsoft_login.kid)
    assert microsoft_login.key_fetches == 2


async def test_an_outage_after_the_first_fetch_keeps_the_known_keys(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> None:
    await keys.get(microsoft_login.kid)
    microsoft_login.set_down()
    clock.now += 24 * 3600
    assert await keys.get(microsoft_login.kid) is not None


async def test_with_no_keys_yet_an_outage_is_keys_unavailable_and_is_retried_shortly(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin, clock: Clock
) -> None:
    microsoft_login.set_down()
    for _ in range(5):
        with pytest.raises(KeysUnavailable):
            await keys.get(microsoft_login.kid)
    microsoft_login.set_down(False)
    # Not asked again at once (an outage is not a fetch per request), but well before the usual interval.
    with pytest.raises(KeysUnavailable):
        await keys.get(microsoft_login.kid)
    clock.now += RETRY_WITHOUT_KEYS_SECONDS
    assert await keys.get(microsoft_login.kid) is not None
    assert microsoft_login.key_fetches == 1


async def test_a_malformed_or_foreign_key_in_the_set_does_not_cost_the_others(
    keys: OpenIdKeys, microsoft_login: FakeMicrosoftLogin
) -> None:
    microsoft_login.publish_raw({"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"})
    microsoft_login.publish_raw({"kty": "weird", "kid": "foreign"})
    microsoft_login.publish_raw({"kty": "RSA", "kid": "for-encryption", "use": "enc", "n": "AQAB", "e": "AQAB"})
    assert await keys.get(microsoft_login.kid) is not None
    assert await keys.get("broken") is None
