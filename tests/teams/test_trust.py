"""Only Microsoft, for this bot, gets through `POST /api/messages`: every other token is refused with 401."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import jwt
import pytest
from microsoft_agents.activity import Activity

from bot.app import create_app
from bot.context import AppContext
from bot.settings import Settings
from handlers.teams import activities
from handlers.teams.invokes import InvokeResponse
from tests.conftest import RunningApp, serving
from tests.fakes.microsoft_login import FakeMicrosoftLogin, new_rsa_key
from tests.support.teams import (
    OTHER_TENANT_ID,
    SERVICE_URL,
    TENANT_ID,
    activity,
    channel_claims,
    teams_request,
)

Forge = Callable[[FakeMicrosoftLogin], str | None]


async def test_a_valid_token_with_its_activity_is_acknowledged(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    body, headers = teams_request(activity(), microsoft_login.token(**channel_claims()))
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 200
    assert response.content == b""


REFUSED: dict[str, Forge] = {
    "missing": lambda login: None,
    "garbage": lambda login: "not-a-jwt",
    "alg none": lambda login: jwt.encode(channel_claims(exp=2_000_000_000), "", algorithm="none"),
    "alg none naming a published key": lambda login: jwt.encode(
        channel_claims(exp=2_000_000_000), "", algorithm="none", headers={"kid": login.kid}
    ),
    "HS256 with a guessable secret": lambda login: jwt.encode(
        channel_claims(exp=2_000_000_000),
        "secret-0123456789-0123456789-012",
        algorithm="HS256",
        headers={"kid": login.kid},
    ),
    "expired": lambda login: login.token(expires_in=-3600, **channel_claims()),
    "not yet valid": lambda login: login.token(not_before=3600, **channel_claims()),
    "wrongly signed": lambda login: login.token(key=new_rsa_key(), **channel_claims()),
    "unknown kid": lambda login: login.token(kid="never-published", key=new_rsa_key(), **channel_claims()),
    "kid-less": lambda login: login.token(headers={"kid": None}, **channel_claims()),
    "wrong issuer": lambda login: login.token(**channel_claims(iss="https://evil.example.com")),
    "entra issuer on a multi-tenant bot": lambda login: login.token(
        **channel_claims(iss=f"https://sts.windows.net/{TENANT_ID}/", tid=TENANT_ID)
    ),
    "wrong audience": lambda login: login.token(**channel_claims(aud="another-bot")),
    "no audience": lambda login: login.token(**{k: v for k, v in channel_claims().items() if k != "aud"}),
    "wrong serviceurl": lambda login: login.token(**channel_claims(serviceurl="https://attacker.example.com/")),
    "no serviceurl": lambda login: login.token(**{k: v for k, v in channel_claims().items() if k != "serviceurl"}),
}


@pytest.mark.parametrize("forge", REFUSED.values(), ids=REFUSED.keys())
async def test_a_token_that_is_not_proof_is_refused_with_401(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin, forge: Forge
) -> None:
    body, headers = teams_request(activity(), forge(microsoft_login))
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]


async def test_a_bot_framework_key_signs_only_for_the_channels_it_endorses(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    token = microsoft_login.token(**channel_claims())
    body, headers = teams_request(activity(channelId="webchat"), token)
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 401
    assert "endorse" in response.json()["error"]


@pytest.fixture
async def single_tenant_app(teams_settings: Settings) -> AsyncIterator[RunningApp]:
    settings = teams_settings.model_copy(update={"teams_tenant_id": TENANT_ID})
    async with serving(create_app(settings, background_workers=False)) as app:
        yield app


@pytest.mark.parametrize(
    "issuer",
    [f"https://sts.windows.net/{TENANT_ID}/", f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"],
    ids=["entra v1", "entra v2"],
)
async def test_a_single_tenant_bot_accepts_its_own_tenants_entra_tokens(
    single_tenant_app: RunningApp, microsoft_login: FakeMicrosoftLogin, issuer: str
) -> None:
    token = microsoft_login.token(**channel_claims(iss=issuer, tid=TENANT_ID))
    body, headers = teams_request(activity(), token)
    assert (await single_tenant_app.post("/api/messages", body, headers)).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        channel_claims(iss=f"https://sts.windows.net/{OTHER_TENANT_ID}/", tid=OTHER_TENANT_ID),
        channel_claims(iss=f"https://login.microsoftonline.com/{OTHER_TENANT_ID}/v2.0", tid=OTHER_TENANT_ID),
        # Issued for our tenant in name, but by another tenant.
        channel_claims(iss=f"https://sts.windows.net/{TENANT_ID}/", tid=OTHER_TENANT_ID),
    ],
    ids=["other tenant v1", "other tenant v2", "tenant claim disagrees"],
)
async def test_a_single_tenant_bot_refuses_other_tenants(
    single_tenant_app: RunningApp, microsoft_login: FakeMicrosoftLogin, claims: dict[str, Any]
) -> None:
    body, headers = teams_request(activity(), microsoft_login.token(**claims))
    assert (await single_tenant_app.post("/api/messages", body, headers)).status_code == 401


async def test_the_channel_token_is_still_accepted_by_a_single_tenant_bot(
    single_tenant_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    body, headers = teams_request(activity(), microsoft_login.token(**channel_claims()))
    assert (await single_tenant_app.post("/api/messages", body, headers)).status_code == 200


async def test_when_the_keys_cannot_be_fetched_requests_are_refused_for_now_not_failed(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    microsoft_login.set_down()
    body, headers = teams_request(activity(), microsoft_login.token(**channel_claims()))
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 503
    assert "retry" in response.json()["error"]


async def test_a_service_url_differing_only_by_its_trailing_slash_is_the_same(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin
) -> None:
    token = microsoft_login.token(**channel_claims(serviceurl=SERVICE_URL.rstrip("/")))
    body, headers = teams_request(activity(), token)
    assert (await teams_app.post("/api/messages", body, headers)).status_code == 200


async def test_an_invokes_answer_is_the_http_response(
    teams_app: RunningApp, microsoft_login: FakeMicrosoftLogin, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def answer_invoke(
        activity: Activity, context: AppContext, commands: object, invokes: object, known: object, replies: object
    ) -> InvokeResponse | None:
        return InvokeResponse(status=200, body={"task": {"type": "message", "value": activity.name}})

    # The real dispatch acknowledges everything; this one answers, as card actions and dialogs will.
    monkeypatch.setattr(activities, "dispatch", answer_invoke)
    invoke = activity(type="invoke", name="task/fetch", value={"data": {}})
    body, headers = teams_request(invoke, microsoft_login.token(**channel_claims()))
    response = await teams_app.post("/api/messages", body, headers)
    assert response.status_code == 200
    assert response.json() == {"task": {"type": "message", "value": "task/fetch"}}
