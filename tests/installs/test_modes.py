"""Which Slack mode whoelse starts in: one workspace with SLACK_BOT_TOKEN, or many through Slack's install flow with
SLACK_CLIENT_ID and SLACK_CLIENT_SECRET; both at once, or a missing piece, stops the start with one line naming the
variable and the fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.secret_box import generate_key
from bot.settings import ConfigurationError, Settings

MANY: dict[str, Any] = {
    "slack_client_id": "1111.2222",
    "slack_client_secret": "a-client-secret-0123456789",
    "slack_signing_secret": "a-signing-secret-0123456789",
    "public_base_url": "https://whoelse.example.com/",
    "whoelse_encryption_keys": generate_key(),
}


def refusal(socket_mode: bool = False, **values: Any) -> str:
    with pytest.raises(ConfigurationError) as refused:
        Settings(_env_file=None, **values).require_for_serving(socket_mode=socket_mode)
    return str(refused.value)


def test_the_client_id_and_secret_serve_many_workspaces() -> None:
    settings = Settings(_env_file=None, **MANY)
    settings.require_for_serving(socket_mode=False)

    assert settings.slack_enabled and settings.slack_multi_workspace
    assert settings.slack_install_url == "https://whoelse.example.com/slack/install"
    assert settings.slack_redirect_url == "https://whoelse.example.com/slack/oauth_redirect"


def test_a_bot_token_serves_its_one_workspace() -> None:
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1-2", slack_signing_secret="a-signing-secret-01234")
    settings.require_for_serving(socket_mode=False)

    assert settings.slack_enabled and not settings.slack_multi_workspace


def test_both_modes_at_once_is_one_line_that_says_to_choose() -> None:
    message = refusal(**MANY, slack_bot_token="xoxb-1-2")

    assert "\n" not in message
    assert "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set: choose one mode" in message


def test_a_bot_token_with_half_of_the_client_credentials_is_also_both_modes() -> None:
    message = refusal(slack_bot_token="xoxb-1-2", slack_signing_secret="s-0123456789", slack_client_id="1111.2222")

    assert "choose one mode" in message


@pytest.mark.parametrize(
    ("missing", "fix"),
    [
        ("slack_client_secret", "SLACK_CLIENT_SECRET is not set. Copy the Client Secret"),
        ("slack_client_id", "SLACK_CLIENT_ID is not set. Copy the Client ID"),
        ("slack_signing_secret", "SLACK_SIGNING_SECRET is not set. Copy the Signing Secret"),
        ("public_base_url", "PUBLIC_BASE_URL is not set. Set it to the address Slack reaches"),
        ("whoelse_encryption_keys", "WHOELSE_ENCRYPTION_KEYS is not set. Run `whoelse keys generate`"),
    ],
)
def test_a_missing_piece_of_many_workspace_mode_is_named_with_its_fix(missing: str, fix: str) -> None:
    message = refusal(**{name: value for name, value in MANY.items() if name != missing})

    assert "\n" not in message
    assert fix in message


def test_socket_mode_cannot_serve_many_workspaces() -> None:
    message = refusal(socket_mode=True, **MANY, slack_app_token="xapp-1-2")

    assert "SLACK_SOCKET_MODE" in message and "\n" not in message


def test_a_public_url_that_is_not_one_is_named() -> None:
    with pytest.raises(
        ValueError, match=re.escape("PUBLIC_BASE_URL='whoelse.example.com' is not an http(s) address")
    ):
        Settings(_env_file=None, public_base_url="whoelse.example.com")
