"""One scheduler among many replicas: the holder of a PostgreSQL advisory lock leads, the others stand by."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from bot.settings import Settings
from scheduler.leader import SCHEDULER_LOCK_KEY, LeaderElection, libpq_conninfo
from scheduler.service import SchedulerService
from tests.conftest import eventually
from tests.scheduler import jobs_for_tests
from tests.scheduler.service_support import app_context, source_of, stored_jobs
from tests.scheduler.test_service import hourly_digest

RETRY_SECONDS = 0.2
# The replica that leads first retries slowly, so that after it loses the lock the standby is the one that takes it.
SLOW_RETRY_SECONDS = 30.0
# Generous: a takeover needs one retry interval; the bound only keeps a broken election from hanging the run.
TAKEOVER_WITHIN = 3.0


@pytest.fixture
def postgres_database(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("one process owns a SQLite file: the scheduler runs in-process, without an election")
    return database_url


@pytest.fixture(autouse=True)
def no_runs_yet() -> Iterator[None]:
    jobs_for_tests.runs.clear()
    yield
    jobs_for_tests.runs.clear()


class Replica:
    """A replica's view of the election: when it was told it leads, and when it was told to stop."""

    def __init__(self, database_url: str, retry_seconds: float) -> None:
        self.terms: list[str] = []
        self.election = LeaderElection(
            database_url, on_elected=self._elected, on_deposed=self._deposed, retry_seconds=retry_seconds
        )

    async def _elected(self) -> None:
        self.terms.append("elected")

    async def _deposed(self) -> None:
        self.terms.append("deposed")


@pytest.fixture
async def two_replicas(postgres_database: str) -> AsyncIterator[tuple[Replica, Replica]]:
    first = Replica(postgres_database, SLOW_RETRY_SECONDS)
    second = Replica(postgres_database, RETRY_SECONDS)
    await first.election.start()
    await second.election.start()
    yield first, second
    await first.election.stop()
    await second.election.stop()


async def lock_holders(database_url: str) -> list[int]:
    """Backend pids holding the scheduler lock in this database, as PostgreSQL sees it."""
    unsigned = SCHEDULER_LOCK_KEY % 2**64
    async with await psycopg.AsyncConnection.connect(libpq_conninfo(database_url), autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = %s AND objid::bigint = %s",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        )
        return [pid for (pid,) in await cursor.fetchall()]


async def drop_lock_connection(database_url: str) -> None:
    """What a crash or a network cut does to the leader: its database session ends."""
    [pid] = await lock_holders(database_url)
    async with await psycopg.AsyncConnection.connect(libpq_conninfo(database_url), autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_the_first_replica_leads_and_the_second_stands_by(
    two_replicas: tuple[Replica, Replica], postgres_database: str
) -> None:
    first, second = two_replicas
    assert first.election.is_leader
    assert first.terms == ["elected"]
    assert not second.election.is_leader
    assert second.terms == []
    assert len(await lock_holders(postgres_database)) == 1


async def test_when_the_leaders_connection_drops_it_steps_down_and_the_other_takes_over(
    two_replicas: tuple[Replica, Replica], postgres_database: str
) -> None:
    first, second = two_replicas
    await drop_lock_connection(postgres_database)

    await eventually(lambda: first.terms == ["elected", "deposed"], within=TAKEOVER_WITHIN)
    await eventually(lambda: second.election.is_leader, within=TAKEOVER_WITHIN)
    assert second.terms == ["elected"]
    # The old leader keeps trying, but the lock is taken: it stands by now.
    assert not first.election.is_leader


async def test_a_leader_that_stops_hands_over(two_replicas: tuple[Replica, Replica]) -> None:
    first, second = two_replicas
    await first.election.stop()
    assert first.terms == ["elected", "deposed"]
    await eventually(lambda: second.election.is_leader, within=TAKEOVER_WITHIN)


async def test_only_the_leader_replica_runs_the_scheduler_and_a_standby_takes_over(
    settings: Settings, postgres_database: str
) -> None:
    sources = [source_of(hourly_digest)]
    async with app_context(settings) as first_context, app_context(settings) as second_context:
        first = SchedulerService(first_context, sources, leader_retry_seconds=SLOW_RETRY_SECONDS)
        second = SchedulerService(second_context, sources, leader_retry_seconds=RETRY_SECONDS)
        await first.start()
        await second.start()
        try:
            assert (first_context.scheduler_role, second_context.scheduler_role) == ("leader", "standby")
            assert first.is_leader and not second.is_leader
            assert list(await stored_jobs(first_context.sessions)) == [hourly_digest().stored_id]

            await drop_lock_connection(postgres_database)
            # The old leader stops its scheduler as soon as it notices; the standby then takes over.
            await eventually(lambda: not first.is_leader, within=TAKEOVER_WITHIN)
            assert first_context.scheduler_role == "standby"
            await eventually(lambda: second.is_leader, within=TAKEOVER_WITHIN)
            assert second_context.scheduler_role == "leader"
            assert second.scheduler is not None
            assert await asyncio.to_thread(second.scheduler.get_job, hourly_digest().stored_id) is not None
        finally:
            await first.stop()
            await second.stop()
    assert jobs_for_tests.runs == []
