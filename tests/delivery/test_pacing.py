"""A workspace told to slow down (429) is released at a pace that starts slow and recovers; others are never paced."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.pacing import PacingPolicy, WorkspacePacer

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
TICK = timedelta(milliseconds=10)


def posts_per_second(pacer: WorkspacePacer, workspace: str, start: datetime, seconds: int) -> list[int]:
    """How many posts a workspace with a long queue gets out in each second, trying every 10 ms."""
    counts = [0] * seconds
    now = start
    while now < start + timedelta(seconds=seconds):
        if pacer.take(workspace, now):
            pacer.sent(workspace, now)
            counts[int((now - start).total_seconds())] += 1
        now += TICK
    return counts


def test_a_workspace_that_never_saw_a_429_is_never_held_back() -> None:
    pacer = WorkspacePacer()
    assert all(pacer.take("T1", START) for _ in range(1000))
    assert pacer.paced(START) == []
    assert pacer.held_until("T1", START) is None


def test_after_a_429_nothing_goes_before_retry_after_then_one_post_then_the_next_a_second_later() -> None:
    pacer = WorkspacePacer()
    pacer.rate_limited("T1", retry_after=timedelta(seconds=5), now=START)

    assert pacer.held_until("T1", START) == START + timedelta(seconds=5)
    assert not pacer.take("T1", START + timedelta(seconds=4.9))
    assert pacer.next_release("T1", START) == START + timedelta(seconds=5)

    released = START + timedelta(seconds=5)
    assert pacer.take("T1", released)
    assert not pacer.take("T1", released), "one post at a time at first"
    assert pacer.next_release("T1", released) == released + timedelta(seconds=1)
    assert pacer.take("T1", released + timedelta(seconds=1))


def test_other_workspaces_are_not_paced_by_one_that_is() -> None:
    pacer = WorkspacePacer()
    pacer.rate_limited("T1", retry_after=timedelta(seconds=5), now=START)
    assert all(pacer.take("T2", START) for _ in range(100))
    assert pacer.paced(START) == ["T1"]


def test_the_pace_doubles_for_every_second_of_posts_that_go_through() -> None:
    pacer = WorkspacePacer()
    pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=START)
    counts = posts_per_second(pacer, "T1", START + timedelta(seconds=1), 5)
    assert counts[0] <= 3
    assert all(later >= 1.5 * earlier for earlier, later in itertools.pairwise(counts)), counts


def test_a_429_after_the_wait_halves_the_pace_and_it_then_grows_by_a_tenth_each_second() -> None:
    pacer = WorkspacePacer()
    pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=START)
    ramped = START + timedelta(seconds=1)
    counts = posts_per_second(pacer, "T1", ramped, 4)
    assert counts[-1] >= 8

    limited = ramped + timedelta(seconds=4)
    pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=limited)
    after = posts_per_second(pacer, "T1", limited + timedelta(seconds=1), 4)
    # The pace had doubled through the last second, so half of it is a little under that second's count.
    assert counts[-1] / 3 <= after[0] < counts[-1], (counts, after)
    assert all(earlier <= later <= 1.2 * earlier for earlier, later in itertools.pairwise(after)), after


def test_429s_for_posts_already_on_their_way_when_the_first_came_back_slow_the_pace_only_once() -> None:
    pacer = WorkspacePacer()
    pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=START)
    for _ in range(20):
        pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=START + timedelta(milliseconds=50))
    released = START + timedelta(milliseconds=1050)
    assert pacer.take("T1", released)
    assert pacer.next_release("T1", released) == released + timedelta(seconds=1), "still the starting pace"


def test_a_workspace_not_told_to_slow_down_for_a_minute_is_no_longer_paced() -> None:
    pacer = WorkspacePacer(PacingPolicy(forget_after=timedelta(seconds=60)))
    pacer.rate_limited("T1", retry_after=timedelta(seconds=5), now=START)
    assert pacer.paced(START + timedelta(seconds=59)) == ["T1"]
    later = START + timedelta(seconds=60)
    assert pacer.paced(later) == []
    assert all(pacer.take("T1", later) for _ in range(100))


def test_a_workspace_told_to_slow_down_only_once_is_soon_no_longer_paced() -> None:
    pacer = WorkspacePacer(PacingPolicy(release_per_second=50))
    pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=START)
    posts_per_second(pacer, "T1", START + timedelta(seconds=1), 7)
    assert pacer.paced(START + timedelta(seconds=8)) == []


def test_a_pace_halved_to_a_trickle_comes_back_by_at_least_one_post_a_second_each_second() -> None:
    pacer = WorkspacePacer()
    now = START
    for _ in range(6):
        # Told to slow down again each time its wait is over, before anything went through.
        pacer.rate_limited("T1", retry_after=timedelta(seconds=1), now=now)
        now += timedelta(seconds=1)
    counts = posts_per_second(pacer, "T1", now, 6)
    assert counts[0] <= 2, counts
    assert counts[-1] >= 5, counts
