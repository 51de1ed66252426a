"""How vendors' payloads are read as ticket events: which changes are escalations, and what people are shown."""

from __future__ import annotations

import pytest

from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.common import raised_to_urgent
from habits.vendor_events.hubspot import HubSpotRecord, Stage, completed_event, hubspot_event
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


def test_hubspot_notifications_are_a_stage_change_a_new_deal_and_an_ignored_amount_change() -> None:
    moved, created, amount = [hubspot_event(item) for item in sample_list("hubspot_deal_notifications.json")]

    assert not isinstance(moved, Ignored) and not isinstance(created, Ignored)
    assert (moved.kind, moved.event, moved.stage, moved.subject_id) == (
        "deal",
        "stage_changed",
        "contractsent",
        "hubspot:1246965",
    )
    assert moved.title == "Deal 1246965"
    assert moved.pending == {
        "object_id": "1246965",
        "occurred_at": 1764692407945,
        "portal_id": "33",
        "property": "dealstage",
        "value": "contractsent",
    }
    assert created.event == "created"
    assert isinstance(amount, Ignored)


def test_a_hubspot_retry_is_the_same_delivery_and_two_changes_sharing_an_event_id_are_not() -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")

    first = hubspot_event(moved)
    retry = hubspot_event(moved | {"attemptNumber": 2})
    other_change = hubspot_event(moved | {"propertyValue": "closedwon", "occurredAt": moved["occurredAt"] + 5})

    assert not isinstance(first, Ignored) and not isinstance(retry, Ignored)
    assert not isinstance(other_change, Ignored)
    assert first.external_id == retry.external_id
    assert other_change.external_id != first.external_id


def test_a_hubspot_notification_without_its_record_or_time_is_unreadable() -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")

    for broken in ({k: v for k, v in moved.items() if k != "objectId"}, moved | {"occurredAt": "soon"}, ["x"]):
        with pytest.raises(UnreadablePayload):
            hubspot_event(broken)


TICKET_STAGES = {
    "1": Stage("New"),
    "2": Stage("Waiting on us"),
    "4": Stage("Closed", closed=True),
    "9": Stage("Escalated to engineering"),
}
DEAL_STAGES = {
    "contractsent": Stage("Contract sent", probability=0.9),
    "won-enterprise": Stage("Signed", closed=True, probability=1.0),
    "lost-enterprise": Stage("Walked away", closed=True, probability=0.0),
}


def _ticket_change(prop: str, value: str) -> dict[str, object]:
    return {
        "objectId": 5123,
        "propertyName": prop,
        "propertyValue": value,
        "portalId": 33,
        "occurredAt": 1764692407945,
        "subscriptionType": "ticket.propertyChange",
    }


def _completed(notification: dict[str, object], previous: str | None, record: HubSpotRecord | None = None) -> str:
    event = hubspot_event(notification)
    assert not isinstance(event, Ignored)
    stages = TICKET_STAGES if event.kind == "ticket" else DEAL_STAGES
    return completed_event(event, record=record, previous=previous, stages=stages).event


@pytest.mark.parametrize(
    ("previous", "current", "moment"),
    [
        ("MEDIUM", "HIGH", "priority_raised"),
        ("LOW", "URGENT", "priority_raised"),
        (None, "HIGH", "priority_raised"),
        ("URGENT", "HIGH", "priority_updated"),
        ("LOW", "MEDIUM", "priority_updated"),
    ],
)
def test_a_hubspot_priority_change_is_a_raise_only_when_it_goes_up_to_an_urgent_one(
    previous: str | None, current: str, moment: str
) -> None:
    assert _completed(_ticket_change("hs_ticket_priority", current), previous) == moment


@pytest.mark.parametrize(
    ("previous", "current", "moment"),
    [("4", "2", "reopened"), ("1", "2", "stage_changed"), ("2", "9", "escalated"), (None, "2", "stage_changed")],
)
def test_a_hubspot_ticket_back_from_a_closed_stage_is_reopened(
    previous: str | None, current: str, moment: str
) -> None:
    assert _completed(_ticket_change("hs_pipeline_stage", current), previous) == moment


@pytest.mark.parametrize(
    ("stage", "moment"),
    [("won-enterprise", "closed_won"), ("lost-enterprise", "closed_lost"), ("contractsent", "stage_changed")],
)
def test_a_deal_moved_to_a_closed_stage_of_any_pipeline_is_won_or_lost(stage: str, moment: str) -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")

    assert _completed(moved | {"propertyValue": stage}, None) == moment


def test_a_completed_deal_shows_its_name_amount_stage_label_and_owner() -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")
    event = hubspot_event(moved)
    assert not isinstance(event, Ignored)
    record = HubSpotRecord(
        name="Acme renewal", amount="12000.5", currency="EUR", owner_name="Jane Doe", owner_email="jane@acme.test"
    )

    done = completed_event(event, record=record, previous=None, stages=DEAL_STAGES)

    assert (done.title, done.amount, done.stage, done.owner, done.owner_email, done.pending) == (
        "Acme renewal",
        "EUR 12,000.50",
        "Contract sent",
        "Jane Doe",
        "jane@acme.test",
        None,
    )
    # The owner is looked up in the chat by that address, to be mentioned.
    assert done.people == {"owner": "jane@acme.test"}


def test_an_owner_known_only_by_email_is_not_shown_by_address_but_still_looked_up() -> None:
    [moved, *_] = sample_list("hubspot_deal_notifications.json")
    event = hubspot_event(moved)
    assert not isinstance(event, Ignored)

    done = completed_event(
        event, record=HubSpotRecord(name="Acme renewal", owner_email="Jane@Acme.test"), previous=None, stages={}
    )
    unread = completed_event(event, record=None, previous=None, stages={})

    assert (done.owner, done.people) == (None, {"owner": "jane@acme.test"})
    assert (unread.owner, unread.people) == (None, {})
