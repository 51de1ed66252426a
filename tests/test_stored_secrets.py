"""Secrets whoelse stores are sealed with WHOELSE_ENCRYPTION_KEYS, and a rotated key leaves nothing unreadable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.cli import main
from bot.key_rotation import reseal_stored_secrets
from bot.secret_box import SecretBox, SecretUnreadable, generate_key
from bot.settings import ConfigurationError, Settings, settings_problems
from models.db import create_engine_for, create_session_factory


class _Scratch(DeclarativeBase):
    pass


class StoredToken(_Scratch):
    """A stand-in for a table that keeps a sealed secret (the rotation only needs a primary key and the column)."""

    __tablename__ = "stored_tokens_for_rotation"
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str | None] = mapped_column(String(512))


def test_a_sealed_secret_reads_back_and_does_not_contain_the_secret() -> None:
    box = SecretBox([generate_key()])
    sealed = box.seal("xoxb-secret-token")
    assert "xoxb" not in sealed
    assert box.open(sealed) == "xoxb-secret-token"


def test_sealing_twice_gives_different_text_so_equal_tokens_do_not_show() -> None:
    box = SecretBox([generate_key()])
    assert box.seal("same") != box.seal("same")


def test_a_secret_sealed_with_a_key_that_is_gone_is_refused_not_garbled() -> None:
    sealed = SecretBox([generate_key()]).seal("xoxb-secret-token")
    with pytest.raises(SecretUnreadable, match="WHOELSE_ENCRYPTION_KEYS"):
        SecretBox([generate_key()]).open(sealed)


def test_an_altered_sealed_secret_is_refused() -> None:
    box = SecretBox([generate_key()])
    sealed = box.seal("xoxb-secret-token")
    altered = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    with pytest.raises(SecretUnreadable):
        box.open(altered)


def test_after_a_new_key_is_put_first_old_secrets_still_open_and_new_ones_use_it() -> None:
    old, new = generate_key(), generate_key()
    sealed_before = SecretBox([old]).seal("before")
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_before) == "before"
    assert not rotated.is_sealed_with_newest_key(sealed_before)
    assert SecretBox([new]).open(rotated.seal("after")) == "after"


def test_a_key_that_is_not_a_fernet_key_is_named_with_the_fix() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, whoelse_encryption_keys=f"{generate_key()},not-a-key")
    problem = settings_problems(error.value)
    assert "WHOELSE_ENCRYPTION_KEYS: key 2 is not a Fernet key" in problem
    assert "whoelse keys generate" in problem
    assert "not-a-key" not in problem


def test_storing_a_secret_without_keys_says_which_variable_to_set() -> None:
    with pytest.raises(ConfigurationError, match=r"WHOELSE_ENCRYPTION_KEYS is not set.*whoelse keys generate"):
        Settings(_env_file=None).secret_box()


def test_keys_generate_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate"]) == 0
    key = capsys.readouterr().out.strip()
    assert SecretBox([key]).open(SecretBox([key]).seal("x")) == "x"


@pytest.fixture
async def scratch(database_url: str) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    engine = create_engine_for(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_Scratch.metadata.create_all)
    yield engine, create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.run_sync(_Scratch.metadata.drop_all)
    await engine.dispose()


async def test_rotation_reseals_every_stored_secret_so_the_old_key_can_go(
    scratch: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    _engine, sessions = scratch
    old, new = generate_key(), generate_key()
    async with sessions() as session, session.begin():
        session.add_all(
            [
                StoredToken(workspace_id="T1", sealed=SecretBox([old]).seal("token-1")),
                StoredToken(workspace_id="T2", sealed=SecretBox([old]).seal("token-2")),
                StoredToken(workspace_id="T3", sealed=SecretBox([new]).seal("token-3")),
                StoredToken(workspace_id="T4", sealed=None),
            ]
        )

    report = await reseal_stored_secrets(sessions, SecretBox([new, old]), [StoredToken.sealed])

    assert (report.resealed, report.already_current) == (2, 1)
    async with sessions() as session:
        rows = dict((await session.execute(select(StoredToken.workspace_id, StoredToken.sealed))).all())
    only_new = SecretBox([new])
    assert {workspace: only_new.open(sealed) for workspace, sealed in rows.items() if sealed} == {
        "T1": "token-1",
        "T2": "token-2",
        "T3": "token-3",
    }
    assert rows["T4"] is None


async def test_rotation_with_a_value_no_key_opens_changes_nothing_in_that_table(
    scratch: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    _engine, sessions = scratch
    old, new, lost = generate_key(), generate_key(), generate_key()
    readable = SecretBox([old]).seal("token-1")
    async with sessions() as session, session.begin():
        session.add_all(
            [
                StoredToken(workspace_id="T1", sealed=readable),
                StoredToken(workspace_id="T2", sealed=SecretBox([lost]).seal("token-2")),
            ]
        )

    with pytest.raises(SecretUnreadable):
        await reseal_stored_secrets(sessions, SecretBox([new, old]), [StoredToken.sealed])

    async with sessions() as session:
        assert await session.scalar(select(StoredToken.sealed).where(StoredToken.workspace_id == "T1")) == readable
