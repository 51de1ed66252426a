"""The bot's own token from a certificate instead of a client secret: each token request carries a client assertion
signed with the certificate's key, as Entra ID's client credentials flow takes it (checked by the fake login)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from bot.gateway import PermanentError
from bot.settings import ConfigurationError, Settings
from bot.teams.certificate import load_certificate
from bot.teams.connector import BotConnector
from bot.teams_serving import bot_credentials
from tests.fakes.bot_connector import BOT_TOKEN, FakeBotConnector
from tests.fakes.microsoft_login import FakeMicrosoftLogin, certificate_pem
from tests.support.teams import APP_ID


@pytest.fixture
def login() -> Iterator[FakeMicrosoftLogin]:
    with FakeMicrosoftLogin() as fake:
        # The token the fake Bot Connector takes.
        fake.access_token = BOT_TOKEN
        yield fake


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector(app_id=APP_ID) as fake:
        yield fake


def pem_file(tmp_path: Path, content: bytes, name: str = "bot.pem") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def settings_with(path: str, login: FakeMicrosoftLogin) -> Settings:
    return Settings(
        _env_file=None, teams_app_id=APP_ID, teams_app_certificate_path=path, teams_token_url=login.token_url
    )


async def test_a_bot_with_a_registered_certificate_gets_its_token_and_posts(
    tmp_path: Path, login: FakeMicrosoftLogin, connector: FakeBotConnector
) -> None:
    certificate, pem = certificate_pem()
    login.register_certificate(APP_ID, certificate)
    credentials = bot_credentials(settings_with(pem_file(tmp_path, pem), login))
    bot = BotConnector(credentials)
    try:
        await bot.call("POST", connector.service_url, "v3/conversations/c1/activities", {"type": "message"})
    finally:
        await bot.close()

    assert len(connector.activities()) == 1
    [(header, claims)] = login.assertions
    assert header["alg"] == "PS256" and header["typ"] == "JWT" and "x5t#S256" in header
    assert claims["aud"] == login.token_url and claims["iss"] == claims["sub"] == APP_ID
    assert 0 < claims["exp"] - claims["nbf"] <= 600


async def test_a_certificate_not_uploaded_to_the_app_fails_naming_the_settings_to_check(
    tmp_path: Path, login: FakeMicrosoftLogin, connector: FakeBotConnector
) -> None:
    uploaded, _ = certificate_pem()
    login.register_certificate(APP_ID, uploaded)
    _, other = certificate_pem()
    bot = BotConnector(bot_credentials(settings_with(pem_file(tmp_path, other), login)))
    try:
        with pytest.raises(PermanentError, match="TEAMS_APP_ID and TEAMS_APP_CERTIFICATE_PATH"):
            await bot.call("POST", connector.service_url, "v3/conversations/c1/activities", {"type": "message"})
    finally:
        await bot.close()
    assert connector.activities() == []


def test_each_token_request_signs_a_new_assertion(tmp_path: Path) -> None:
    _, pem = certificate_pem()
    certificate = load_certificate(pem_file(tmp_path, pem))
    now = datetime.now(UTC)

    first, second = (
        jwt.decode(
            certificate.client_assertion(app_id=APP_ID, token_url="https://login.test/token", now=now),
            options={"verify_signature": False},
        )
        for _ in range(2)
    )

    assert first["jti"] != second["jti"]


def test_a_file_without_its_private_key_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    _, pem = certificate_pem()
    only_certificate = pem.split(b"-----BEGIN PRIVATE KEY-----")[0]

    with pytest.raises(ConfigurationError, match=r"TEAMS_APP_CERTIFICATE_PATH=.*private key"):
        load_certificate(pem_file(tmp_path, only_certificate))
    with pytest.raises(ConfigurationError, match=r"TEAMS_APP_CERTIFICATE_PATH=.*cannot be read"):
        load_certificate(str(tmp_path / "missing.pem"))


def test_a_thumbprint_of_another_certificate_stops_the_start_and_says_which_one_the_file_holds(
    tmp_path: Path,
) -> None:
    _, pem = certificate_pem()
    path = pem_file(tmp_path, pem)
    held = load_certificate(path).sha1_thumbprint

    with pytest.raises(ConfigurationError, match=rf"TEAMS_APP_CERTIFICATE_THUMBPRINT.*{held}"):
        load_certificate(path, thumbprint="AA:" * 19 + "AA")
    # As the portal shows it, or with colons, in either case: the same certificate.
    assert load_certificate(path, thumbprint=":".join(held[i : i + 2].lower() for i in range(0, 40, 2)))
