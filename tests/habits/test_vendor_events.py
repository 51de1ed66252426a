"""How vendors' payloads are read as ticket events: which changes are escalations, and what people are shown."""

from __future__ import annotations

import pytest

from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.common import raised_to_urgent
from habits.vendor_events.hubspot import hubspot_deal_event
from habits.vendor_events.jira import jira_event
from habits.vendor_events.zendesk import zendesk_event
from tests.support.vendors import sample, sample_list


@pytest.mark.parametrize(
    ("before", "after", "raised"),
    [
        ("Medium", "High", True),
        ("Low", "Highest", True),
        ("Major", "Critical", True),
        ("Critical", "Blocker", True),
        (None, "High", True),
        ("Custom tier 3", "Urgent", True),
        ("Highest", "High", False),
        ("Blocker", "Critical", False),
        ("Low", "Medium", False),
        ("High", "High", False),
    ],
)
def test_a_priority_counts_as_raised_only_when_it_goes_up_to_an_urgent_one(
    before: str | None, after: str, raised: bool
) -> None:
    assert raised_to_urgent(before, after) is raised


def test_a_jira_issue_is_named_by_its_key_and_linked_to_its_browse_page_on_the_same_site() -> None:
    payload = sample("jira_issue_updated.json")
    payload["issue"]["self"] = "https://support.example.org:8443/jira/rest/api/3/issue/10742"

    event = jira_event(payload, delivery_id="d-1")

    assert not isinstance(event, Ignored)
    assert (event.subject_id, event.external_id, event.title) == (
        "SUP-482",
        "d-1",
        "Checkout fails for EU customers",
    )
    assert event.url == "https://support.example.org:8443/browse/SUP-482"
    assert (event.event, event.priority, event.owner) == ("priority_raised", "Highest", "Jordan Lee")


def test_an_escalation_and_a_priority_raise_in_one_update_are_one_escalation() -> None:
    payload = sample("jira_issue_updated.json")
    payload["changelog"]["items"].append({"field": "status", "fromString": "Open", "toString": "Escalated"})

    event = jira_event(payload, delivery_id="d-2")

    assert not isinstance(event, Ignored) and event.event == "escalated"


def test_an_update_to_an_issue_already_escalated_is_not_a_new_escalation() -> None:
    payload = sample("jira_issue_updated.json")
    payload["issue"]["fields"]["status"]["name"] = "Escalated"
    payload["changelog"]["items"] = [{"field": "labels", "fromString": "", "toString": "eu"}]

    assert isinstance(jira_event(payload, delivery_id="d-3"), Ignored)


def test_an_issue_without_a_key_cannot_be_read() -> None:
    payload = sample("jira_issue_updated.json")
    payload["issue"] = "SUP-482"

    with pytest.raises(UnreadablePayload):
        jira_event(payload, delivery_id="d-4")


@pytest.mark.parametrize(
    ("previous", "current", "moment"),
    [
        ("SOLVED", "OPEN", "reopened"),
        ("CLOSED", "PENDING", "reopened"),
        ("OPEN", "Escalated - Tier 2", "escalated"),
        ("OPEN", "SOLVED", None),
        ("NEW", "OPEN", None),
    ],
)
def test_a_zendesk_status_change_is_a_reopening_or_an_escalation_or_nothing(
    previous: str, current: str, moment: str | None
) -> None:
    payload = sample("zendesk_ticket_status_changed.json") | {"event": {"previous": previous, "current": current}}

    event = zendesk_event(payload)

    assert (None if isinstance(event, Ignored) else event.event) == moment


def test_hubspot_deal_notifications_are_a_stage_change_a_new_deal_and_nothing() -> None:
    moved, created, amount = [hubspot_deal_event(item) for item in sample_list("hubspot_deal_notifications.json")]

    assert not isinstance(moved, Ignored) and not isinstance(created, Ignored)
    assert (moved.kind, moved.event, moved.stage, moved.subject_id) == (
        "deal",
        "stage_changed",
        "contractsent",
        "1246965",
    )
    assert moved.title == "Deal 1246965"
    assert created.event == "created"
    assert isinstance(amount, Ignored)


def test_a_hubspot_retry_is_the_same_delivery_and_a_won_deal_is_closed_won() -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")
    won = moved | {"propertyValue": "closedwon"}

    first = hubspot_deal_event(won, deal_name="Acme renewal")
    retry = hubspot_deal_event(won | {"attemptNumber": 2}, deal_name="Acme renewal")

    assert not isinstance(first, Ignored) and not isinstance(retry, Ignored)
    assert (first.event, first.title) == ("closed_won", "Acme renewal")
    assert first.external_id == retry.external_id
