"""The people an event concerns, found by email: what the nudge shows of them, and how often the platform is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.gateway import PermanentError, Person, TransientError
from bot.people_by_email import PeopleByEmail
from habits.events import BusinessEvent, email_address, people_emails
from habits.nudging import MatchedPerson, facts

DANA = MatchedPerson(user_id="UDANA", name="dana")


def deal(**extra: object) -> BusinessEvent:
    fields: dict[str, object] = {
        "source": "webhook",
        "external_id": "evt-1",
        "kind": "deal",
        "event": "stage_changed",
        "subject_id": "deal-1",
        "title": "Acme renewal",
        "stage": "Negotiation",
    }
    return BusinessEvent.model_validate(fields | extra)


def test_a_matched_owner_is_mentioned_in_place_of_the_name_the_sender_gave() -> None:
    shown = dict(facts(deal(owner="Dana Scully"), snoozed=set(), people={"owner": DANA}))

    assert shown["Owner"] == "@{UDANA}"
    assert "Dana Scully" not in shown.values()


def test_a_matched_assignee_stands_for_the_owner_name_and_a_requester_is_added() -> None:
    sam = MatchedPerson(user_id="USAM", name="sam")
    found = facts(deal(owner="Dana Scully"), snoozed=set(), people={"assignee": DANA, "requester": sam})

    assert ("Assignee", "@{UDANA}") in found and ("Requester", "@{USAM}") in found
    assert not [label for label, _value in found if label == "Owner"]


def test_without_a_match_the_senders_name_is_shown_and_nobody_is_mentioned() -> None:
    found = facts(deal(owner="Dana Scully", people={"owner": "dana@acme.example"}), snoozed=set(), people={})

    assert ("Owner", "Dana Scully") in found
    assert "dana@acme.example" not in str(found)
    assert "@{" not in str(found)


def test_a_matched_person_who_snoozed_whoelse_is_named_not_pinged() -> None:
    found = facts(deal(), snoozed={"UDANA"}, people={"owner": DANA})

    assert ("Owner", "dana") in found


@pytest.mark.parametrize(
    ("value", "email"),
    [
        (" Dana.Scully@Acme.example ", "dana.scully@acme.example"),
        ("Dana Scully", None),
        ("", None),
        ("{{ticket.assignee.email}}", None),
        ("<@U123>@acme.example", None),
        (42, None),
    ],
)
def test_only_email_addresses_are_kept_lower_cased(value: object, email: str | None) -> None:
    assert email_address(value) == email
    assert people_emails(owner=value) == ({"owner": email} if email else {})


class Directory:
    """A chat platform's directory that counts how often it is asked."""

    def __init__(self, people: dict[str, Person]) -> None:
        self.people = people
        self.asked: list[str] = []
        self.down = False
        self.refusing = False

    async def person_by_email(self, *, email: str) -> Person | None:
        self.asked.append(email)
        if self.down:
            raise TransientError("slack is down")
        if self.refusing:
            raise PermanentError("missing_scope")
        return self.people.get(email)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def lookup(directory: Directory, clock: Clock) -> PeopleByEmail:
    async def gateway_for(workspace_id: str) -> Directory:
        return directory

    return PeopleByEmail(gateway_for, clock=clock)  # type: ignore[arg-type]


async def test_each_address_is_asked_once_per_workspace_for_an_hour_matched_or_not() -> None:
    directory = Directory({"dana@acme.example": Person(user_id="UDANA", name="dana", timezone="UTC")})
    clock = Clock()
    people = lookup(directory, clock)

    first = await people.match("T1", {"owner": "dana@acme.example", "requester": "nobody@acme.example"})
    again = await people.match("T1", {"owner": "Dana@Acme.example", "requester": "nobody@acme.example"})
    other_workspace = await people.person("T2", "dana@acme.example")
    clock.now += timedelta(minutes=61)
    later = await people.person("T1", "dana@acme.example")

    assert first == again == {"owner": DANA}
    assert other_workspace == later == DANA
    assert directory.asked == [
        "dana@acme.example",
        "nobody@acme.example",
        "dana@acme.example",
        "dana@acme.example",
    ]


async def test_while_the_platform_is_down_nobody_is_matched_and_the_next_event_asks_again() -> None:
    directory = Directory({"dana@acme.example": Person(user_id="UDANA", name="dana", timezone="UTC")})
    people = lookup(directory, Clock())

    directory.down = True
    during = await people.match("T1", {"owner": "dana@acme.example"})
    directory.down = False
    after = await people.match("T1", {"owner": "dana@acme.example"})

    assert (during, after) == ({}, {"owner": DANA})


async def test_a_platform_that_refuses_the_lookup_is_not_asked_again_for_every_event() -> None:
    directory = Directory({"dana@acme.example": Person(user_id="UDANA", name="dana", timezone="UTC")})
    directory.refusing = True
    people = lookup(directory, Clock())

    first = await people.match("T1", {"owner": "dana@acme.example"})
    second = await people.match("T1", {"owner": "dana@acme.example"})

    assert first == second == {}
    assert directory.asked == ["dana@acme.example"]
