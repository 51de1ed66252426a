"""Elephant-in-the-room polls: one voice per person, honest results, and anonymity that survives a database dump."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

import pytest
from sqlalchemy import Connection, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack.blocks import render_dialog
from habits.elephants.anonymity import participant_token
from habits.elephants.history import past_polls
from habits.elephants.messages import ballot_form
from habits.elephants.polls import advance, ballot, cast_vote, name_elephant, start_poll_now
from habits.elephants.reminders import Colleague, in_working_hours, send_reminders, working_hours_somewhere
from habits.elephants.schedule import open_scheduled_poll, parse_weekly, set_weekly
from habits.form_origin import FormOrigin
from habits.messages import ChoiceInput
from models.db import session_scope
from models.elephants import CLOSED, TWO_PHASE, ElephantPoll, ElephantSubmission, get_poll, polls_due
from models.outbox import SENT, OutboxMessage
from models.people import snooze
from scheduler.elephant_jobs import OPEN_GRACE, job_source

WORKSPACE = "T0001"
CHANNEL = "CELEPHANTS"
# A Monday: 09:00 in New York, 23:00 in Tokyo. The poll names for a day, then votes for a day.
OPENED = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
NAMING = OPENED + timedelta(hours=2)
VOTING = OPENED + timedelta(days=1, hours=2)
CLOSED_AT = OPENED + timedelta(days=2)

Sessions = async_sessionmaker[AsyncSession]


async def open_poll(sessions: Sessions) -> int:
    async with session_scope(sessions) as session:
        outcome, poll = await start_poll_now(
            session, workspace_id=WORKSPACE, channel_id=CHANNEL, now=OPENED, started_by="UHOST", mode=TWO_PHASE
        )
    assert outcome == "started"
    return poll.id


async def name(
    sessions: Sessions, poll_id: int, user: str, elephant: str, *, now: datetime = NAMING, channel: str = CHANNEL
) -> str:
    return await name_elephant(
        sessions, workspace_id=WORKSPACE, channel_id=channel, poll_id=poll_id, user_id=user, text=elephant, now=now
    )


async def vote(
    sessions: Sessions, poll_id: int, user: str, elephant: str, *, now: datetime = VOTING, channel: str = CHANNEL
) -> str:
    async with session_scope(sessions) as session:
        choices = {
            text: submission_id
            for submission_id, text in await ballot(session, workspace_id=WORKSPACE, poll_id=poll_id)
        }
    return await cast_vote(
        sessions,
        workspace_id=WORKSPACE,
        channel_id=channel,
        poll_id=poll_id,
        user_id=user,
        submission_id=choices[elephant],
        now=now,
    )


async def move_on(sessions: Sessions, poll_id: int, now: datetime) -> str:
    async with session_scope(sessions) as session:
        return await advance(session, workspace_id=WORKSPACE, poll_id=poll_id, now=now)


async def poll_row(sessions: Sessions, poll_id: int) -> ElephantPoll:
    async with sessions() as session:
        poll = await get_poll(session, workspace_id=WORKSPACE, poll_id=poll_id)
        assert poll is not None
        return poll


async def queued(sessions: Sessions, key_suffix: str) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.endswith(key_suffix))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def body_of(row: OutboxMessage) -> str:
    message = row.neutral_message()
    return "\n".join([message.text, *(getattr(part, "text", "") for part in message.parts)])


async def test_a_poll_is_answered_only_from_its_own_channel(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)

    assert await name(sessions, poll_id, "UANA", "Sneaked in", channel="CHR") == "not_found"
    assert await name(sessions, poll_id, "UBO", "Late handoffs") == "recorded"
    await move_on(sessions, poll_id, VOTING)
    assert await vote(sessions, poll_id, "UANA", "Late handoffs", channel="CHR") == "not_found"

    assert [text for _id, text in await ballot_of(sessions, poll_id)] == ["Late handoffs"]
    row = await poll_row(sessions, poll_id)
    assert len(row.named_tokens or []) == 1 and row.voted_tokens == []


async def ballot_of(sessions: Sessions, poll_id: int) -> list[tuple[str, str]]:
    async with sessions() as session:
        return await ballot(session, workspace_id=WORKSPACE, poll_id=poll_id)


async def test_each_person_names_one_elephant_and_casts_one_vote(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)

    assert (
        await name(sessions, poll_id, "UANA", "Deals are promised before engineering hears of them") == "recorded"
    )
    assert await name(sessions, poll_id, "UANA", "A second thought") == "already_named"
    assert await name(sessions, poll_id, "UBO", "Support learns about releases from customers") == "recorded"
    early = await vote(sessions, poll_id, "UANA", "Support learns about releases from customers", now=NAMING)
    assert early == "voting_not_open"

    assert await move_on(sessions, poll_id, VOTING) == "voting_opened"
    assert await name(sessions, poll_id, "UCY", "Too late", now=VOTING) == "naming_closed"
    assert await vote(sessions, poll_id, "UCY", "Support learns about releases from customers") == "recorded"
    assert await vote(sessions, poll_id, "UCY", "Deals are promised before engineering hears of them") == (
        "already_voted"
    )

    async with sessions() as session:
        votes = dict((await session.execute(select(ElephantSubmission.text, ElephantSubmission.votes))).all())
    assert votes == {
        "Deals are promised before engineering hears of them": 0,
        "Support learns about releases from customers": 1,
    }


async def test_concurrent_answers_are_all_counted(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    people = [f"UPERSON{n}" for n in range(8)]

    outcomes = await asyncio.gather(*(name(sessions, poll_id, user, f"Elephant of {user}") for user in people))
    assert outcomes == ["recorded"] * len(people)
    await move_on(sessions, poll_id, VOTING)
    outcomes = await asyncio.gather(*(vote(sessions, poll_id, user, "Elephant of UPERSON0") for user in people))
    assert outcomes == ["recorded"] * len(people)

    poll = await poll_row(sessions, poll_id)
    assert (len(poll.named_tokens or []), len(poll.voted_tokens or [])) == (8, 8)
    async with sessions() as session:
        assert (
            await session.scalar(
                select(ElephantSubmission.votes).where(ElephantSubmission.text == "Elephant of UPERSON0")
            )
            == 8
        )


async def test_results_are_ranked_with_vote_counts_and_reach_the_agenda(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    await name(sessions, poll_id, "UANA", "Handoffs from sales to engineering")
    await name(sessions, poll_id, "UBO", "Nobody owns the customer after signing")
    await name(sessions, poll_id, "UCY", "Marketing promises features early")
    await move_on(sessions, poll_id, VOTING)
    for voter, choice in [
        ("UANA", "Nobody owns the customer after signing"),
        ("UBO", "Nobody owns the customer after signing"),
        ("UCY", "Handoffs from sales to engineering"),
        ("UDEE", "Nobody owns the customer after signing"),
    ]:
        assert await vote(sessions, poll_id, voter, choice) == "recorded"

    assert await move_on(sessions, poll_id, CLOSED_AT) == "closed"
    assert await move_on(sessions, poll_id, CLOSED_AT + timedelta(minutes=5)) == "unchanged"

    [results] = await queued(sessions, ":results")
    lines = body_of(results)
    assert "4 people took part" in lines
    first = lines.index("1. Nobody owns the customer after signing — *3 votes*")
    second = lines.index("2. Handoffs from sales to engineering — *1 vote*")
    third = lines.index("3. Marketing promises features early — *0 votes*")
    assert first < second < third


async def test_with_fewer_than_three_people_the_results_stay_hidden(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    await name(sessions, poll_id, "UANA", "Engineering is never in the deal reviews")
    await name(sessions, poll_id, "UBO", "Support escalations go nowhere")
    await move_on(sessions, poll_id, VOTING)
    # Voting again does not make anyone a third person.
    await vote(sessions, poll_id, "UANA", "Support escalations go nowhere")
    await vote(sessions, poll_id, "UBO", "Support escalations go nowhere")
    await move_on(sessions, poll_id, CLOSED_AT)

    [results] = await queued(sessions, ":results")
    assert "Fewer than 3 people took part" in body_of(results)
    assert "escalations" not in body_of(results) and "deal reviews" not in body_of(results)
    assert (await poll_row(sessions, poll_id)).participants == 2
    async with sessions() as session:
        [past] = await past_polls(session, workspace_id=WORKSPACE, channel_id=CHANNEL)
    assert past.top == [] and not past.results_shown, "the channel's history keeps them hidden too"


async def test_a_closed_poll_leaves_nothing_that_ties_anyone_to_an_answer(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    people = ["UANNA0001", "UBORIS002", "UCHLOE003", "UDMITRI04"]
    late_joiner = "UELENA005"
    for person, elephant in zip(
        people, ["Silos", "Late handoffs", "Blame after lost deals", "No shared goals"], strict=True
    ):
        assert await name(sessions, poll_id, person, elephant) == "recorded"
    # Someone is reminded (an outbox DM naming them), then takes part.
    reminded = await send_reminders(
        sessions,
        workspace_id=WORKSPACE,
        poll_id=poll_id,
        members=[*people, late_joiner],
        look_up=lambda user: _colleague(user, "America/New_York"),
        now=OPENED + timedelta(days=1),  # Tuesday 09:00 in New York
    )
    assert reminded == 1
    await move_on(sessions, poll_id, VOTING)
    for person in [*people[:2], late_joiner]:
        assert await vote(sessions, poll_id, person, "Late handoffs") == "recorded"

    secret = (await poll_row(sessions, poll_id)).secret
    assert secret
    everyone = [*people, late_joiner]
    tokens = {person: participant_token(secret, workspace_id=WORKSPACE, user_id=person) for person in everyone}
    await move_on(sessions, poll_id, CLOSED_AT)

    async with sessions() as session:
        cells = await session.run_sync(lambda sync: list(_every_cell(sync.connection())))
    assert any("Late handoffs" in cell for _where, cell in cells), "the scan reads the submissions"
    for where, cell in cells:
        for person in everyone:
            assert person not in cell, f"{person} is still stored in {where}"
            assert tokens[person] not in cell, f"{person}'s poll token is still stored in {where}"
        assert secret not in cell, f"the poll secret is still stored in {where}"


async def test_submissions_carry_no_timestamps_and_no_arrival_order(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    arrival = [f"Elephant number {n}" for n in range(12)]
    for n, elephant in enumerate(arrival):
        await name(sessions, poll_id, f"UUSER{n:02d}", elephant)
    await move_on(sessions, poll_id, VOTING)
    await vote(sessions, poll_id, "UUSER00", arrival[0])
    await move_on(sessions, poll_id, CLOSED_AT)

    async with sessions() as session:
        columns, storage_order, versions = await session.run_sync(lambda sync: _storage(sync.connection()))
    assert not any("time" in kind.lower() or "date" in kind.lower() for kind in columns.values()), columns
    assert set(columns) == {"id", "workspace_id", "poll_id", "text", "votes"}
    ids = [submission_id for submission_id, _text in storage_order]
    assert all(uuid.UUID(submission_id).version == 4 for submission_id in ids)
    assert ids == sorted(ids), "rows are stored in random key order, not in the order they arrived"
    assert [text for _id, text in storage_order] != arrival
    assert len(set(versions)) <= 1, "every row was last written by the same transaction"


async def test_one_reminder_for_each_person_who_has_not_answered_in_their_working_hours(
    sessions: Sessions,
) -> None:
    poll_id = await open_poll(sessions)
    await name(sessions, poll_id, "UANSWERED", "Nobody reads the release notes")
    async with session_scope(sessions) as session:
        await snooze(session, workspace_id=WORKSPACE, user_id="USNOOZED", until=CLOSED_AT + timedelta(days=7))
    zones = {
        "UNEWYORK": "America/New_York",
        "UTOKYO": "Asia/Tokyo",
        "USNOOZED": "America/New_York",
        "UANSWERED": "America/New_York",
    }

    async def remind_at(now: datetime) -> list[str]:
        before = {row.id for row in await _reminder_rows(sessions)}
        await send_reminders(
            sessions,
            workspace_id=WORKSPACE,
            poll_id=poll_id,
            members=[*zones, "UBOT"],
            look_up=lambda user: _colleague(user, zones.get(user, "UTC"), is_bot=user == "UBOT"),
            now=now,
        )
        return sorted(row.dm_user_id or "" for row in await _reminder_rows(sessions) if row.id not in before)

    # Monday 15:00 in New York: working hours, but the poll opened only an hour ago.
    assert await remind_at(OPENED + timedelta(hours=1)) == []
    # Tuesday 11:00 in Tokyo, Monday 21:00 in New York.
    assert await remind_at(OPENED + timedelta(hours=12)) == ["UTOKYO"]
    assert await remind_at(OPENED + timedelta(hours=13)) == []
    # Tuesday 09:30 in New York, 23:30 in Tokyo.
    assert await remind_at(OPENED + timedelta(days=1, minutes=30)) == ["UNEWYORK"]
    # Wednesday 10:00 in Tokyo: in working hours, but Tokyo was reminded once already.
    assert await remind_at(OPENED + timedelta(days=1, hours=11)) == []

    everyone_reminded = [row.dm_user_id for row in await _reminder_rows(sessions)]
    assert sorted(map(str, everyone_reminded)) == ["UNEWYORK", "UTOKYO"]
    poll = await poll_row(sessions, poll_id)
    assert len(poll.reminded_tokens or []) == 2
    assert not {"UNEWYORK", "UTOKYO"} & set(map(str, poll.reminded_tokens or [])), "kept as tokens, not ids"

    await move_on(sessions, poll_id, CLOSED_AT)
    assert await _reminder_rows(sessions) == [], "closing forgets who was reminded"


async def test_a_poll_is_done_with_reminders_once_nobody_is_left_to_remind_and_every_reminder_is_sent(
    sessions: Sessions,
) -> None:
    poll_id = await open_poll(sessions)
    await name(sessions, poll_id, "UANSWERED", "Nobody reads the release notes")
    tuesday_nine = OPENED + timedelta(days=1)  # in New York, where everyone here works
    async with session_scope(sessions) as session:
        await snooze(session, workspace_id=WORKSPACE, user_id="USNOOZED", until=tuesday_nine + timedelta(hours=6))
    channel = ["UANSWERED", "UNEWYORK", "USNOOZED", "UBOT"]

    async def done_after_pass(now: datetime, members: list[str]) -> bool:
        await send_reminders(
            sessions,
            workspace_id=WORKSPACE,
            poll_id=poll_id,
            members=members,
            look_up=lambda user: _colleague(user, "America/New_York", is_bot=user == "UBOT"),
            now=now,
        )
        return (await poll_row(sessions, poll_id)).reminders_done

    assert not await done_after_pass(tuesday_nine, []), "no members at all is no answer to go by"
    assert not await done_after_pass(tuesday_nine, channel), "UNEWYORK reminded just now"
    assert not await done_after_pass(tuesday_nine + timedelta(minutes=10), channel), "the reminder is not sent yet"
    await _all_sent(sessions)
    assert not await done_after_pass(tuesday_nine + timedelta(minutes=20), channel), (
        "USNOOZED is due after the snooze"
    )
    assert not await done_after_pass(tuesday_nine + timedelta(hours=6), channel), "USNOOZED reminded just now"
    await _all_sent(sessions)
    assert await done_after_pass(tuesday_nine + timedelta(hours=6, minutes=10), channel)
    assert await _reminder_rows(sessions) == [], "sent reminders are forgotten before the poll is left alone"


@pytest.mark.parametrize(
    "week",
    [
        datetime(2026, 3, 23, tzinfo=UTC),  # Europe moves its clocks on Sunday the 29th
        datetime(2026, 10, 26, tzinfo=UTC),  # the United States on Sunday 1 November
    ],
)
def test_reminders_skip_only_the_hours_that_are_working_hours_in_no_time_zone(week: datetime) -> None:
    zones = sorted(available_timezones())
    nowhere = []
    for hour in range(7 * 24 + 1):
        moment = week + timedelta(hours=hour)
        somewhere = any(in_working_hours(moment, zone) for zone in zones)
        assert working_hours_somewhere(moment) == somewhere, moment
        if not somewhere:
            nowhere.append(moment)
    # From Friday 17:00 at UTC-12 to Monday 09:00 at UTC+14.
    assert (nowhere[0], nowhere[-1]) == (
        week + timedelta(days=5, hours=5),
        week + timedelta(days=6, hours=18),
    )
    assert len(nowhere) == 38


async def test_a_closed_poll_takes_no_more_answers_and_closing_twice_posts_once(sessions: Sessions) -> None:
    poll_id = await open_poll(sessions)
    for person in ("UA", "UB", "UC"):
        await name(sessions, poll_id, person, f"Elephant from {person}")
    # Nobody advanced the poll while it was down: it goes straight from naming to closed.
    assert await move_on(sessions, poll_id, CLOSED_AT + timedelta(hours=5)) == "closed"
    assert await move_on(sessions, poll_id, CLOSED_AT + timedelta(hours=6)) == "unchanged"
    assert await vote(sessions, poll_id, "UD", "Elephant from UA", now=CLOSED_AT) == "poll_closed"
    assert await name(sessions, poll_id, "UD", "A late elephant", now=CLOSED_AT) == "poll_closed"

    poll = await poll_row(sessions, poll_id)
    assert poll.phase == CLOSED
    assert len(await queued(sessions, ":results")) == 1
    assert len(await queued(sessions, ":voting")) == 0
    assert len(await queued(sessions, ":closed")) == 1


async def _colleague(user: str, timezone: str, *, is_bot: bool = False) -> Colleague:
    return Colleague(user_id=user, timezone=timezone, is_bot=is_bot)


async def _all_sent(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await session.execute(update(OutboxMessage).values(status=SENT))


async def _reminder_rows(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.contains(":remind:"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def _every_cell(connection: Connection) -> Iterator[tuple[str, str]]:
    """Every value in every table of the database, as text (bytes are searched as they are and as hex)."""
    for table in inspect(connection).get_table_names():
        for row in connection.execute(text(f'SELECT * FROM "{table}"')).mappings():
            for column, value in row.items():
                yield f"{table}.{column}", _as_text(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return raw.decode("latin-1") + raw.hex()
    return str(value)


def _storage(connection: Connection) -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
    columns = {
        column["name"]: str(column["type"]) for column in inspect(connection).get_columns("elephant_submissions")
    }
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text("SELECT id, text, xmin::text FROM elephant_submissions ORDER BY ctid")
        ).all()
        return columns, [(row[0], row[1]) for row in rows], [row[2] for row in rows]
    table_sql = connection.execute(
        text("SELECT sql FROM sqlite_master WHERE name = 'elephant_submissions'")
    ).scalar_one()
    assert "WITHOUT ROWID" in table_sql.upper(), "SQLite would otherwise number rows as they arrive"
    rows = connection.execute(text("SELECT id, text FROM elephant_submissions")).all()
    return columns, [(row[0], row[1]) for row in rows], []


async def test_a_weekly_poll_opens_at_the_same_local_time_across_a_clock_change(sessions: Sessions) -> None:
    # Mondays 09:00 in New York; the clocks go forward on Sunday 2026-03-08.
    set_on = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
    async with session_scope(sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            plan=parse_weekly("monday 09:00 America/New_York", default_timezone="UTC"),
            now=set_on,
            set_by="UHOST",
        )
        schedule_id = schedule.id
        [opening_job] = [spec for spec in await job_source(session) if spec.workspace_id == WORKSPACE]
    before, after = datetime(2026, 3, 2, 14, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert opening_job.trigger.get_next_fire_time(None, set_on) == before
    assert opening_job.trigger.get_next_fire_time(before, before + timedelta(minutes=1)) == after

    async def open_at(now: datetime) -> str:
        async with session_scope(sessions) as session:
            return await open_scheduled_poll(
                session, workspace_id=WORKSPACE, schedule_id=schedule_id, now=now, grace=OPEN_GRACE
            )

    assert await open_at(before - timedelta(minutes=1)) == "not_due", "nothing before the first opening"
    assert await open_at(before) == "opened"
    assert await open_at(before + timedelta(minutes=10)) == "already_opened"
    # The week after, the job ran two hours late (a restart): still this week's poll. The poll of the week before
    # has closed by then.
    async with session_scope(sessions) as session:
        [(_workspace, first_poll)] = await polls_due(session, now=after)
        await advance(session, workspace_id=WORKSPACE, poll_id=first_poll, now=after)
    assert await open_at(after + timedelta(hours=2)) == "opened"
    # A week later the bot was down for two days: that week's poll is skipped, not opened days late.
    assert await open_at(after + timedelta(days=9)) == "too_late"
    async with sessions() as session:
        keys = sorted(await session.scalars(select(ElephantPoll.key)))
    assert keys == [f"elephant:{schedule_id}:{before.isoformat()}", f"elephant:{schedule_id}:{after.isoformat()}"]


def test_a_crowded_ballot_still_fits_in_one_form() -> None:
    submissions = [
        (str(uuid.uuid4()), f"Elephant {n}: " + "a long story about handoffs " * 10) for n in range(120)
    ]
    form = ballot_form(
        origin=FormOrigin(channel_id=CHANNEL, user_id="UANA", subject_id=1), submissions=submissions
    )
    [choice] = form.inputs
    assert isinstance(choice, ChoiceInput)
    assert len(form.intro) <= 3000, "Slack refuses a section longer than 3000 characters"
    assert (choice.style, len(choice.choices)) == ("dropdown", 100)
    assert all(len(option.label) <= 75 for option in choice.choices)


def test_an_elephant_that_looks_like_a_command_is_shown_as_written() -> None:
    origin = FormOrigin(channel_id="C1", user_id="U1", subject_id=1)
    form = ballot_form(origin=origin, submissions=[("s1", "We never run /{status} until it is too late")])

    view = render_dialog(form)

    assert "/whoelse" not in json.dumps(view)
    assert "We never run / {status} until it is too late" in view["blocks"][0]["text"]["text"]
