"""How Salesforce Outbound Messages are read: which record values are which moment, what people are shown, and how
an org id is recognised in either of its forms."""

from __future__ import annotations

import pytest

from habits.events import BusinessEvent
from habits.vendor_events import Ignored, UnreadablePayload
from habits.vendor_events.salesforce import (
    Notification,
    eighteen_character_id,
    fifteen_character_id,
    read_outbound_message,
    salesforce_event,
    same_organization,
)
from tests.support.vendors import FIXTURES

HOST = "acme.my.salesforce.com"
CREATED = "2026-12-01T08:02:51.000Z"
LATER = "2026-12-02T16:20:33.000Z"


def case(**fields: str) -> Notification:
    values = {
        "Id": "500xx000000bZ4rAAE",
        "CaseNumber": "00001026",
        "Subject": "Invoices missing VAT numbers",
        "CreatedDate": CREATED,
        "LastModifiedDate": LATER,
        "IsClosed": "false",
        "IsEscalated": "false",
        "Priority": "Medium",
        "Status": "Working",
    }
    return Notification(notification_id="04lxx000000EfGhAAC", object_type="Case", fields=values | fields)


def opportunity(**fields: str) -> Notification:
    values = {
        "Id": "006xx000001Sv6yAAC",
        "Name": "Globex platform renewal",
        "StageName": "Prospecting",
        "CreatedDate": CREATED,
        "LastModifiedDate": LATER,
        "IsClosed": "false",
        "IsWon": "false",
    }
    return Notification(notification_id="04lxx000000AbCdAAC", object_type="Opportunity", fields=values | fields)


def moment(notification: Notification) -> str:
    event = salesforce_event(notification, instance_host=HOST)
    return event.reason if isinstance(event, Ignored) else event.event


def test_the_documented_message_is_read_with_its_org_host_and_each_notification() -> None:
    message = read_outbound_message((FIXTURES / "salesforce_opportunity_stage_changed.xml").read_bytes())

    assert (message.organization_id, message.instance_host) == ("00Dxx0000001gEREAY", HOST)
    [notification] = message.notifications
    assert (notification.notification_id, notification.object_type) == ("04lxx000000AbCdAAC", "Opportunity")
    assert notification.fields["StageName"] == "Negotiation/Review"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"LastModifiedDate": CREATED}, "created"),
        ({"LastModifiedDate": "2026-12-01T08:02:53.000Z"}, "created"),
        ({}, "stage_changed"),
        ({"IsClosed": "true", "IsWon": "true"}, "closed_won"),
        ({"IsClosed": "true", "IsWon": "false"}, "closed_lost"),
        ({"IsClosed": "true", "IsWon": "true", "LastModifiedDate": CREATED}, "closed_won"),
    ],
)
def test_an_opportunity_is_new_changed_won_or_lost_by_its_current_values(
    fields: dict[str, str], expected: str
) -> None:
    assert moment(opportunity(**fields)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"IsEscalated": "true"}, "escalated"),
        ({"Priority": "High"}, "priority_raised"),
        ({"Priority": "Critical", "LastModifiedDate": CREATED}, "priority_raised"),
        ({"IsEscalated": "true", "LastModifiedDate": CREATED}, "escalated"),
        ({"Status": "Reopened", "IsEscalated": "true"}, "reopened"),
    ],
)
def test_a_case_escalated_raised_to_an_urgent_priority_or_reopened_is_a_moment(
    fields: dict[str, str], expected: str
) -> None:
    assert moment(case(**fields)) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"LastModifiedDate": CREATED},
        {"IsClosed": "true", "IsEscalated": "true", "Status": "Closed"},
    ],
)
def test_routine_case_changes_new_routine_cases_and_closed_cases_are_ignored(fields: dict[str, str]) -> None:
    assert isinstance(salesforce_event(case(**fields), instance_host=HOST), Ignored)


def test_people_get_the_records_lightning_page_a_title_and_the_owner_email_to_match() -> None:
    event = salesforce_event(
        case(IsEscalated="true", Owner_Email__c=" Sam.Okafor@Acme.example ", Account_Name__c="Globex"),
        instance_host=HOST,
    )

    assert isinstance(event, BusinessEvent)
    assert event.url == f"https://{HOST}/lightning/r/Case/500xx000000bZ4rAAE/view"
    assert (event.title, event.account, event.priority) == (
        "Case 00001026: Invoices missing VAT numbers",
        "Globex",
        "Medium",
    )
    assert event.people == {"owner": "sam.okafor@acme.example"}
    assert (event.external_id, event.subject_id) == ("04lxx000000EfGhAAC", "500xx000000bZ4rAAE")


def test_an_owner_field_that_is_not_an_email_is_left_out() -> None:
    event = salesforce_event(opportunity(Owner_Email__c="Dana Scully"), instance_host=HOST)

    assert isinstance(event, BusinessEvent) and event.people == {}


def test_without_an_https_instance_url_there_is_no_link() -> None:
    event = salesforce_event(opportunity(), instance_host=None)

    assert isinstance(event, BusinessEvent) and event.url is None


def test_other_objects_are_ignored_and_records_without_an_id_are_unreadable() -> None:
    lead = Notification(notification_id="04l1", object_type="Lead", fields={"Id": "00Qxx000001Sv6yAAC"})
    assert isinstance(salesforce_event(lead, instance_host=HOST), Ignored)
    with pytest.raises(UnreadablePayload):
        salesforce_event(opportunity(Id=""), instance_host=HOST)


@pytest.mark.parametrize(
    ("configured", "sent", "same"),
    [
        ("00Dxx0000001gER", "00Dxx0000001gEREAY", True),
        ("00Dxx0000001gEREAY", "00Dxx0000001gEREAY", True),
        ("00dxx0000001gereay", "00Dxx0000001gEREAY", True),
        ("00DXX0000001GEREAY", "00Dxx0000001gEREAY", True),
        ("00Dxx0000001ger", "00Dxx0000001gEREAY", False),
        ("00Dxx0000002gER", "00Dxx0000001gEREAY", False),
        ("00Dxx0000001gERAAA", "00Dxx0000001gEREAY", False),
        ("not an org id", "00Dxx0000001gEREAY", False),
    ],
)
def test_an_org_id_matches_in_its_15_or_18_character_form_and_in_any_case_the_suffix_restores(
    configured: str, sent: str, same: bool
) -> None:
    assert same_organization(configured, sent) is same


def test_the_18_character_form_is_the_15_character_id_and_its_case_suffix() -> None:
    assert eighteen_character_id("00Dxx0000001gER") == "00Dxx0000001gEREAY"
    assert fifteen_character_id("00Dxx0000001gEREAY") == "00Dxx0000001gER"
    assert fifteen_character_id("00Dxx0000001gERZZZ") is None
