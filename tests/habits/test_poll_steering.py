"""Elephant polls people can steer: naming and voting side by side, closing early, the history, who may steer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.anonymity import judged_token, participant_token
from habits.elephants.closing import close_early
from habits.elephants.forms import form_for
from habits.elephants.history import history_message, past_polls
from habits.elephants.messages import APPROVAL_FORM, SUBMIT_FORM
from habits.elephants.overlap import announce_new_elephants, approve_elephants, unjudged
from habits.elephants.polls import advance, cast_vote, name_elephant, start_poll_now
from habits.elephants.schedule import open_scheduled_poll, parse_weekly, set_mode, set_weekly
from habits.steering import Steerer, may_close_early, may_steer
from models.db import session_scope
from models.elephants import (
    CLOSED,
    OVERLAP,
    TWO_PHASE,
    ElephantPoll,
    ElephantSubmission,
    get_poll,
    open_poll_in_channel,
)
from models.outbox import OutboxMessage
from models.workspaces import STEERING_ADMINS, STEERING_ANYONE, get_or_create_workspace
from tests.habits.test_elephants import _every_cell

WORKSPACE = "T0001"
CHANNEL = "CELEPHANTS"
HOST = "UHOST"
OPENED = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]


async def open_overlapping(
    sessions: Sessions, *, now: datetime = OPENED, open_for: timedelta = timedelta(days=2)
) -> int:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE, default_timezone="Europe/Berlin")
        outcome, poll = await start_poll_now(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            now=now,
            started_by=HOST,
            open_for=open_for,
        )
    assert outcome == "started"
    assert poll.mode == OVERLAP, "polls overlap unless the channel asks for two phases"
    return poll.id


async def name(sessions: Sessions, poll_id: int, user: str, text: str, now: datetime) -> str:
    return await name_elephant(
        sessions, workspace_id=WORKSPACE, channel_id=CHANNEL, poll_id=poll_id, user_id=user, text=text, now=now
    )


async def ballot_for(sessions: Sessions, poll_id: int, user: str) -> dict[str, str]:
    """What this person's ballot shows: {text: id}."""
    async with session_scope(sessions) as session:
        poll = await get_poll(session, workspace_id=WORKSPACE, poll_id=poll_id)
        assert poll is not None
        return {text: submission_id for submission_id, text in await unjudged(session, poll, user)}


async def send_ballot(sessions: Sessions, poll_id: int, user: str, ticked: list[str], now: datetime) -> str:
    shown = await ballot_for(sessions, poll_id, user)
    return await approve_elephants(
        sessions,
        workspace_id=WORKSPACE,
        channel_id=CHANNEL,
        poll_id=poll_id,
        user_id=user,
        shown=list(shown.values()),
        chosen=[shown[text] for text in ticked],
        now=now,
    )


async def votes(sessions: Sessions, poll_id: int) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(ElephantSubmission.text, ElephantSubmission.votes).where(ElephantSubmission.poll_id == poll_id)
        )
        return {text: count for text, count in rows.all()}


async def test_people_name_and_vote_side_by_side_and_early_voters_can_vote_on_later_elephants(
    sessions: Sessions,
) -> None:
    poll_id = await open_overlapping(sessions)
    at = OPENED + timedelta(hours=1)
    assert await name(sessions, poll_id, "UANNA", "Deals promised before engineering hears", at) == "recorded"
    [deals] = (await ballot_for(sessions, poll_id, "UBORIS")).values()
    assert await send_ballot(sessions, poll_id, "UBORIS", ["Deals promised before engineering hears"], at) == (
        "recorded"
    )
    assert await ballot_for(sessions, poll_id, "UBORIS") == {}, "nothing left for Boris to judge"
    assert await send_listed(sessions, poll_id, "UBORIS", [deals], [deals]) == "already_voted"

    later = at + timedelta(hours=5)
    assert await name(sessions, poll_id, "UBORIS", "Support learns of launches last", later) == "recorded"
    assert await name(sessions, poll_id, "UBORIS", "A second one", later) == "already_named"
    assert list(await ballot_for(sessions, poll_id, "UBORIS")) == ["Support learns of launches last"]
    assert await send_ballot(sessions, poll_id, "UBORIS", ["Support learns of launches last"], later) == "recorded"
    both = ["Deals promised before engineering hears", "Support learns of launches last"]
    assert set(await ballot_for(sessions, poll_id, "UCHLOE")) == set(both)
    assert await send_ballot(sessions, poll_id, "UCHLOE", both, later) == "recorded"
    assert await send_ballot(sessions, poll_id, "UANNA", [], later) == "recorded"

    assert await votes(sessions, poll_id) == {both[0]: 2, both[1]: 2}
    async with session_scope(sessions) as session:
        assert await advance(session, workspace_id=WORKSPACE, poll_id=poll_id, now=OPENED + timedelta(days=2)) == (
            "closed"
        )
        poll = await get_poll(session, workspace_id=WORKSPACE, poll_id=poll_id)
        assert poll is not None
        assert (poll.participants, poll.voters) == (3, 3)


async def send_listed(sessions: Sessions, poll_id: int, user: str, shown: list[str], chosen: list[str]) -> str:
    """Sends a ballot listing `shown` (as its form's context would), with `chosen` ticked."""
    return await approve_elephants(
        sessions,
        workspace_id=WORKSPACE,
        channel_id=CHANNEL,
        poll_id=poll_id,
        user_id=user,
        shown=shown,
        chosen=chosen,
        now=OPENED + timedelta(hours=2),
    )


async def test_a_ballot_counts_for_what_it_showed_and_elephants_named_meanwhile_wait_for_the_next(
    sessions: Sessions,
) -> None:
    poll_id = await open_overlapping(sessions)
    at = OPENED + timedelta(hours=1)
    await name(sessions, poll_id, "UANNA", "Nobody owns onboarding", at)
    opened_ballot = await ballot_for(sessions, poll_id, "UBORIS")
    await name(sessions, poll_id, "UCHLOE", "Pricing changes by email", at)

    onboarding = opened_ballot["Nobody owns onboarding"]
    assert await send_listed(sessions, poll_id, "UBORIS", [onboarding], [onboarding]) == "recorded"
    assert list(await ballot_for(sessions, poll_id, "UBORIS")) == ["Pricing changes by email"]
    assert await send_listed(sessions, poll_id, "UBORIS", [onboarding], [onboarding]) == "already_voted"
    pricing = (await ballot_for(sessions, poll_id, "UBORIS"))["Pricing changes by email"]
    mixed = await send_listed(sessions, poll_id, "UBORIS", [onboarding, pricing], [onboarding, pricing])
    assert mixed == "ballot_changed", "a ballot listing something already judged counts nothing"
    assert await send_listed(sessions, poll_id, "UBORIS", [pricing], [onboarding]) == "unknown_choice"
    assert await send_listed(sessions, poll_id, "UBORIS", ["not-an-elephant"], []) == "unknown_choice"
    assert await votes(sessions, poll_id) == {"Nobody owns onboarding": 1, "Pricing changes by email": 0}


async def test_an_overlapping_poll_takes_no_single_pick_vote_so_nobody_votes_twice_for_one_elephant(
    sessions: Sessions,
) -> None:
    poll_id = await open_overlapping(sessions)
    at = OPENED + timedelta(hours=1)
    await name(sessions, poll_id, "UANNA", "Nobody owns onboarding", at)
    [elephant_id] = (await ballot_for(sessions, poll_id, "UBORIS")).values()
    single_pick = await cast_vote(
        sessions,
        workspace_id=WORKSPACE,
        channel_id=CHANNEL,
        poll_id=poll_id,
        user_id="UBORIS",
        submission_id=elephant_id,
        now=at,
    )
    assert single_pick == "voting_not_open"
    assert await send_ballot(sessions, poll_id, "UBORIS", ["Nobody owns onboarding"], at) == "recorded"
    assert await votes(sessions, poll_id) == {"Nobody owns onboarding": 1}


async def test_an_overlapping_poll_opens_the_form_the_button_asks_for(sessions: Sessions) -> None:
    poll_id = await open_overlapping(sessions)
    at = OPENED + timedelta(minutes=5)
    await name(sessions, poll_id, "UANNA", "Roadmap changes nobody announces", at)
    async with session_scope(sessions) as session:
        to_name = await form_for(
            session, workspace_id=WORKSPACE, channel_id=CHANNEL, poll_id=poll_id, now=at, user_id="UBORIS"
        )
        to_vote = await form_for(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            poll_id=poll_id,
            now=at,
            user_id="UBORIS",
            wanted="vote",
        )
        named_already = await form_for(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            poll_id=poll_id,
            now=at,
            user_id="UANNA",
            wanted="name",
        )
    assert to_name is not None and to_name.callback_id == SUBMIT_FORM
    assert to_vote is not None and to_vote.callback_id == APPROVAL_FORM
    assert "Roadmap changes nobody announces" in to_vote.intro
    assert named_already is not None and "already named" in named_already.intro


async def test_after_an_overlapping_poll_nothing_stored_ties_a_person_to_what_they_named_or_ticked(
    sessions: Sessions,
) -> None:
    poll_id = await open_overlapping(sessions)
    people = ["UANNA", "UBORIS", "UCHLOE", "UDANI"]
    at = OPENED + timedelta(hours=1)
    for person, text in zip(people[:3], ["Late handoffs", "Silent escalations", "Two roadmaps"], strict=True):
        await name(sessions, poll_id, person, text, at)
        await send_ballot(sessions, poll_id, person, [text], at)
    await name(sessions, poll_id, "UDANI", "Named after everyone voted", at + timedelta(hours=3))
    for person in people:
        await send_ballot(sessions, poll_id, person, ["Named after everyone voted"], at + timedelta(hours=4))

    async with sessions() as session:
        poll = await session.get(ElephantPoll, poll_id)
        assert poll is not None and poll.secret is not None
        secret = poll.secret
        ids = [submission_id for (submission_id,) in (await session.execute(select(ElephantSubmission.id))).all()]
    person_tokens = {p: participant_token(secret, workspace_id=WORKSPACE, user_id=p) for p in [*people, HOST]}
    judged = {
        p: [judged_token(secret, workspace_id=WORKSPACE, user_id=p, submission_id=i) for i in ids] for p in people
    }
    async with session_scope(sessions) as session:
        await advance(session, workspace_id=WORKSPACE, poll_id=poll_id, now=OPENED + timedelta(days=2))

    async with sessions() as session:
        cells = await session.run_sync(lambda sync: list(_every_cell(sync.connection())))
    assert any("Named after everyone voted" in cell for _where, cell in cells), "the scan reads the submissions"
    for where, cell in cells:
        for person in [*people, HOST]:
            assert person not in cell, f"{person} is still stored in {where}"
            assert person_tokens[person] not in cell, f"{person}'s poll token is still stored in {where}"
            for token in judged.get(person, []):
                assert token not in cell, f"a token of what {person} judged is still stored in {where}"
        assert secret not in cell, f"the poll secret is still stored in {where}"
    assert await votes(sessions, poll_id) == {
        "Late handoffs": 1,
        "Silent escalations": 1,
        "Two roadmaps": 1,
        "Named after everyone voted": 4,
    }


async def announcements(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.idempotency_key)
            .where(OutboxMessage.idempotency_key.contains(":new-elephants:"))
            .order_by(OutboxMessage.id)
        )
        return [key.rsplit(":", 1)[1] for key in rows]


async def announce(sessions: Sessions, poll_id: int, now: datetime) -> bool:
    async with session_scope(sessions) as session:
        return await announce_new_elephants(session, workspace_id=WORKSPACE, poll_id=poll_id, now=now)


async def test_new_elephants_are_announced_at_most_once_per_local_day_across_the_spring_clock_change(
    sessions: Sessions,
) -> None:
    # Berlin moves its clocks from 02:00 to 03:00 on Sunday 2026-03-29 (01:00 UTC).
    opened = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # Saturday 10:00 in Berlin
    poll_id = await open_overlapping(sessions, now=opened, open_for=timedelta(days=3))
    assert not await announce(sessions, poll_id, opened + timedelta(minutes=1)), "nothing named, nothing to say"

    await name(sessions, poll_id, "UANNA", "First", datetime(2026, 3, 28, 11, 0, tzinfo=UTC))
    assert await announce(sessions, poll_id, datetime(2026, 3, 28, 11, 0, 10, tzinfo=UTC))  # Sat 12:00 Berlin
    await name(sessions, poll_id, "UBORIS", "Second", datetime(2026, 3, 28, 19, 0, tzinfo=UTC))
    assert not await announce(sessions, poll_id, datetime(2026, 3, 28, 19, 0, 10, tzinfo=UTC)), "same day"

    # Sunday 00:30 in Berlin, still Saturday in UTC and under 24 hours since the first word: a new local day.
    assert await announce(sessions, poll_id, datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    await name(sessions, poll_id, "UCHLOE", "Third", datetime(2026, 3, 29, 21, 0, tzinfo=UTC))
    # Sunday 23:30 in Berlin (summer time now): still Sunday there.
    assert not await announce(sessions, poll_id, datetime(2026, 3, 29, 21, 30, tzinfo=UTC))
    # Monday 00:10 in Berlin is Sunday 22:10 in UTC: Monday's word may come.
    assert await announce(sessions, poll_id, datetime(2026, 3, 29, 22, 10, tzinfo=UTC))
    assert await announcements(sessions) == ["2026-03-28", "2026-03-29", "2026-03-30"]
    async with sessions() as session:
        poll = await session.get(ElephantPoll, poll_id)
        assert poll is not None and poll.announced_named == 3


async def test_two_phase_polls_are_never_announced_as_new_elephants_arrive(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        _, poll = await start_poll_now(
            session, workspace_id=WORKSPACE, channel_id=CHANNEL, now=OPENED, started_by=HOST, mode=TWO_PHASE
        )
    await name(sessions, poll.id, "UANNA", "Handoffs", OPENED + timedelta(hours=1))
    assert not await announce(sessions, poll.id, OPENED + timedelta(hours=2))


async def close(sessions: Sessions, who: Steerer, now: datetime) -> str:
    async with session_scope(sessions) as session:
        return await close_early(session, workspace_id=WORKSPACE, channel_id=CHANNEL, steerer=who, now=now)


async def test_only_the_starter_and_admins_close_a_poll_early_and_too_few_still_hides_the_results(
    sessions: Sessions,
) -> None:
    poll_id = await open_overlapping(sessions)
    at = OPENED + timedelta(hours=2)
    await name(sessions, poll_id, "UANNA", "Only two of us", at)
    await send_ballot(sessions, poll_id, "UBORIS", ["Only two of us"], at)
    assert await close(sessions, Steerer(user_id="UANNA", is_admin=False), at) == "not_allowed"
    assert await close(sessions, Steerer(user_id=HOST, is_admin=False), at) == "closed"
    assert await close(sessions, Steerer(user_id=HOST, is_admin=False), at) == "no_open_poll"

    async with sessions() as session:
        poll = await session.get(ElephantPoll, poll_id)
        assert poll is not None
        assert (poll.phase, poll.closed_at, poll.started_by) == (CLOSED, at, None)
        [results] = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.endswith(":results")))
        ).all()
    assert "Fewer than 3 people took part" in results.neutral_message().text

    second = await open_overlapping(sessions, now=at + timedelta(minutes=1))
    assert second != poll_id
    assert await close(sessions, Steerer(user_id="UADMIN", is_admin=True), at + timedelta(minutes=2)) == "closed"


async def test_a_weekly_polls_schedule_setter_may_close_it_early(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        schedule = await set_weekly(
            session,
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            plan=parse_weekly("monday 15:00 Europe/Berlin overlap", default_timezone="UTC"),
            now=OPENED - timedelta(days=1),
            set_by="USETTER",
        )
        assert await set_mode(session, workspace_id=WORKSPACE, channel_id=CHANNEL, mode=TWO_PHASE)
        schedule_id = schedule.id
    async with session_scope(sessions) as session:
        outcome = await open_scheduled_poll(
            session, workspace_id=WORKSPACE, schedule_id=schedule_id, now=OPENED, grace=timedelta(hours=3)
        )
        assert outcome == "opened"
        poll = await open_poll_in_channel(session, workspace_id=WORKSPACE, channel_id=CHANNEL)
        assert poll is not None
        assert (poll.mode, poll.started_by) == (TWO_PHASE, None), "the schedule's way, set by nobody in particular"
    assert await close(sessions, Steerer(user_id="UANNA", is_admin=False), OPENED) == "not_allowed"
    assert await close(sessions, Steerer(user_id="USETTER", is_admin=False), OPENED) == "closed"


def test_who_may_steer_under_each_workspace_setting() -> None:
    anyone, admin = Steerer(user_id="UANNA", is_admin=False), Steerer(user_id="UADMIN", is_admin=True)
    assert may_steer(STEERING_ANYONE, anyone, creator="UBORIS")
    assert may_steer(STEERING_ADMINS, admin, creator="UBORIS")
    assert may_steer(STEERING_ADMINS, anyone, creator="UANNA")
    assert not may_steer(STEERING_ADMINS, anyone, creator="UBORIS")
    assert not may_steer(STEERING_ADMINS, anyone, creator=None), "nothing set up yet: only admins start it"
    assert not may_steer("typo", anyone, creator="UBORIS"), "an unknown value is the stricter one"
    assert may_close_early(anyone, started_by="UANNA") and may_close_early(admin, started_by=None)
    assert not may_close_early(anyone, started_by=None)


async def test_the_history_lists_the_last_five_polls_with_their_top_elephants_and_turnout(
    sessions: Sessions,
) -> None:
    start = OPENED
    for week in range(6):
        poll_id = await open_overlapping(sessions, now=start)
        at = start + timedelta(hours=1)
        people = ["UANNA", "UBORIS", "UCHLOE"] if week != 5 else ["UANNA"]
        for person in people:
            await name(sessions, poll_id, person, f"Week {week} by {person[1:].title()}", at)
        for person in people[:2]:
            await send_ballot(sessions, poll_id, person, [f"Week {week} by Chloe"] if week != 5 else [], at)
        async with session_scope(sessions) as session:
            await advance(session, workspace_id=WORKSPACE, poll_id=poll_id, now=start + timedelta(days=2))
        start += timedelta(days=7)

    async with sessions() as session:
        history = await past_polls(session, workspace_id=WORKSPACE, channel_id=CHANNEL)
    assert len(history) == 5
    latest, previous = history[0], history[1]
    assert (latest.named, latest.voted, latest.took_part, latest.top) == (1, 1, 1, [])
    assert (previous.top[0].text, previous.top[0].votes) == ("Week 4 by Chloe", 2)
    assert (previous.named, previous.voted, previous.took_part) == (3, 2, 3)

    rendered = history_message(history, now=start, timezone="Europe/Berlin")
    text = "\n".join(getattr(part, "text", "") for part in rendered.parts)
    assert "Too few took part" in text
    assert "1. Week 4 by Chloe — 2 votes" in text
    assert "3 elephants named, 2 people voted, 3 took part" in text
    assert "Week 0" not in text, "only the last five"
    assert "decided:" not in text
