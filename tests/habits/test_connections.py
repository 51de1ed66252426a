"""What the connect form takes, and what whoelse's configuration needs to give out webhook addresses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import logged_path
from bot.secret_box import SecretBox, generate_key
from bot.settings import ConfigurationError, Settings, settings_problems
from habits.connections import Asked, InvalidAnswers, SourceGuide, missing_secrets, read_answers
from models import connections
from models.connections import SourceConnection, open_secrets, save_connection, seal_secrets
from models.db import session_scope
from models.workspaces import get_or_create_workspace

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


async def test_two_admins_connecting_the_same_source_at_once_leave_one_connection_with_the_last_secrets(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    box = SecretBox([generate_key()])
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id="T1")

    async with session_scope(sessions) as first:
        # The first admin looked before the second one's connection was saved, and saw none.
        looked = connections.find_connection
        calls: list[str] = []

        async def saw_none_the_first_time(
            session: AsyncSession, *, workspace_id: str, source: str
        ) -> SourceConnection | None:
            calls.append(source)
            return None if len(calls) == 1 else await looked(session, workspace_id=workspace_id, source=source)

        async with session_scope(sessions) as second:
            await save_connection(
                second,
                workspace_id="T1",
                source="jira",
                sealed_secrets=seal_secrets(box, {"secret": "second"}),
                details={},
                connected_by="U2",
                now=datetime.now(UTC),
            )
        monkeypatch.setattr(connections, "find_connection", saw_none_the_first_time)
        await save_connection(
            first,
            workspace_id="T1",
            source="jira",
            sealed_secrets=seal_secrets(box, {"secret": "first"}),
            details={},
            connected_by="U1",
            now=datetime.now(UTC),
        )

    async with sessions() as session:
        [connection] = list(await session.scalars(select(SourceConnection)))
    assert connection.connected_by == "U1"
    assert open_secrets(box, connection.sealed_secrets) == {"secret": "first"}
