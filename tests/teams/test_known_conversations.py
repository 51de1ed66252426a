"""What whoelse remembers having stored about each Teams conversation: enough to skip rewriting an unchanged one,
never so long that a change made elsewhere is missed."""

from __future__ import annotations

from handlers.teams.known_conversations import KnownConversations, StoredReference

CHANNEL = StoredReference(
    service_url="https://smba.trafficmanager.net/amer/", conversation_type="channel", team_id="T", user_id=None
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_reference_just_stored_is_unchanged_and_any_difference_is_not() -> None:
    known = KnownConversations()
    known.remember("tenant", "19:c", CHANNEL)

    assert known.unchanged("tenant", "19:c", CHANNEL)
    moved = StoredReference("https://smba.trafficmanager.net/emea/", "channel", "T", None)
    assert not known.unchanged("tenant", "19:c", moved)
    assert not known.unchanged("other-tenant", "19:c", CHANNEL)


def test_a_reference_is_written_again_once_it_is_older_than_the_limit() -> None:
    clock = Clock()
    known = KnownConversations(max_age_seconds=600, clock=clock)
    known.remember("tenant", "19:c", CHANNEL)

    clock.now = 599
    assert known.unchanged("tenant", "19:c", CHANNEL)
    clock.now = 601
    assert not known.unchanged("tenant", "19:c", CHANNEL)


def test_removal_anywhere_in_the_tenant_forgets_its_conversations_but_not_that_it_is_on_teams() -> None:
    known = KnownConversations()
    known.remember("tenant", "19:c", CHANNEL)
    known.remember("other-tenant", "19:c", CHANNEL)

    known.forget("tenant")

    assert not known.unchanged("tenant", "19:c", CHANNEL)
    assert known.unchanged("other-tenant", "19:c", CHANNEL)
    assert known.has_tenant("tenant")


def test_only_the_most_recently_stored_conversations_are_kept() -> None:
    known = KnownConversations(limit=2)
    for conversation in ("19:a", "19:b", "19:c"):
        known.remember("tenant", conversation, CHANNEL)

    assert [known.unchanged("tenant", c, CHANNEL) for c in ("19:a", "19:b", "19:c")] == [False, True, True]
