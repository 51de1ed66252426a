"""What the connect form takes, and what whoelse's configuration needs to give out webhook addresses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.logs import logged_path
from bot.settings import ConfigurationError, Settings, settings_problems
from habits.connections import Asked, InvalidAnswers, SourceGuide, missing_secrets, read_answers

ORGANIZATION = Asked(
    key="organization_id",
    label="Organization ID",
    secret=False,
    problem=lambda value: None if len(value) in (15, 18) else "An Organization ID is 15 or 18 characters.",
)
GUIDE = SourceGuide(
    source="crm",
    name="Example CRM",
    steps=lambda url, secret: [f"Paste {url}."],
    asks=(Asked(key="client_secret", label="Client secret"), ORGANIZATION),
)


def test_secrets_and_details_are_kept_apart_and_trimmed() -> None:
    answers = read_answers(GUIDE, {"client_secret": "  s3cret ", "organization_id": "00D5g000004XyZa"})

    assert answers.secrets == {"client_secret": "s3cret"}
    assert answers.details == {"organization_id": "00D5g000004XyZa"}


def test_every_field_that_is_not_right_is_named_next_to_itself() -> None:
    with pytest.raises(InvalidAnswers) as invalid:
        read_answers(GUIDE, {"client_secret": "   ", "organization_id": "00D5g"})

    assert invalid.value.errors == {
        "client_secret": "Paste the client secret from Example CRM.",
        "organization_id": "An Organization ID is 15 or 18 characters.",
    }


def test_a_secret_left_for_later_is_what_the_connection_waits_for() -> None:
    later = SourceGuide(
        source="desk",
        name="Desk",
        steps=lambda url, secret: [],
        asks=(Asked("signing_secret", "Signing secret", optional=True),),
    )

    assert read_answers(later, {}).secrets == {}
    assert missing_secrets(later, {}) == ["Signing secret"]
    assert missing_secrets(later, {"signing_secret": "x"}) == []


@pytest.mark.parametrize(
    "address", ["whoelse.example.com", "ftp://whoelse.example.com", "https://", "https://a.b/?x=1"]
)
def test_a_public_address_that_is_not_http_is_one_line_naming_the_variable(address: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, public_base_url=address)

    problem = settings_problems(error.value)
    assert problem.startswith("PUBLIC_BASE_URL=") and "https://whoelse.example.com" in problem
    assert "\n" not in problem


def test_the_public_address_is_kept_without_its_trailing_slash_and_blank_is_unset() -> None:
    assert Settings(_env_file=None, public_base_url="https://whoelse.example.com/ ").public_url(
        "/webhooks/jira/k"
    ) == ("https://whoelse.example.com/webhooks/jira/k")
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL is not set"):
        Settings(_env_file=None, public_base_url=" ").public_url("/")


def test_the_access_log_leaves_a_connections_key_out_of_its_address() -> None:
    assert logged_path("/webhooks/jira/AbC-123_xyz") == "/webhooks/jira/…"
    assert logged_path("/webhooks/jira") == "/webhooks/jira"
