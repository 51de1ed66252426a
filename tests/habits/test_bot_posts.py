"""Reading deal and ticket moments out of CRM and helpdesk notifications, as those bots word them."""

from __future__ import annotations

import pytest

from habits.bot_posts import BotPost, Link, guess_kind, parse_bot_post
from habits.events import EventKind
from habits.rules import juncture_of
from models.workspaces import DEFAULT_JUNCTURES

CHANNEL = "CDEALS"
TS = "1764000000.000100"


def post(*lines: str, links: tuple[Link, ...] = (), thread_ts: str | None = None) -> BotPost:
    return BotPost(channel_id=CHANNEL, ts=TS, lines=lines, links=links, thread_ts=thread_ts)


@pytest.mark.parametrize(
    ("lines", "kind", "event", "stage", "priority"),
    [
        # HubSpot
        (["Deal 'Acme renewal' moved to stage Contract sent"], "deal", "stage_changed", "Contract sent", None),
        (["Deal stage changed to Negotiation"], "deal", "stage_changed", "Negotiation", None),
        (["Deal stage changed to Contract sent: Acme renewal"], "deal", "stage_changed", "Contract sent", None),
        (
            ["Deal stage changed from Qualified to Decision maker bought-in by Jane Doe"],
            "deal",
            "stage_changed",
            "Decision maker bought-in",
            None,
        ),
        (["Deal stage changed to Closed Won"], "deal", "closed_won", None, None),
        (["New deal created: Acme renewal"], "deal", "created", None, None),
        # Salesforce
        (
            ["Opportunity Acme - 500 seats moved to stage *Proposal/Price Quote*."],
            "deal",
            "stage_changed",
            "Proposal/Price Quote",
            None,
        ),
        (
            ["Acme - 500 seats", "Stage changed", "Stage: Negotiation/Review"],
            "deal",
            "stage_changed",
            "Negotiation/Review",
            None,
        ),
        (["Opportunity Closed Won :tada:"], "deal", "closed_won", None, None),
        (["Acme - 500 seats was closed lost"], "deal", "closed_lost", None, None),
        # Pipedrive
        (
            ["Deal moved to the stage: Proposal made (2 minutes ago)"],
            "deal",
            "stage_changed",
            "Proposal made",
            None,
        ),
        # Zendesk
        (['Ticket #4521 "Printer on fire" was escalated to Tier 2'], "ticket", "escalated", None, None),
        (["Ticket #4521 has been reopened by the requester"], "ticket", "reopened", None, None),
        (["Ticket #4521: Priority changed from Normal to Urgent"], "ticket", "priority_raised", None, "Urgent"),
        (["Ticket #4521 created", "Priority: High"], "ticket", "created", None, "High"),
        # Jira
        (
            ["Jane Doe changed the priority of SUP-88 from Medium to Highest"],
            "ticket",
            "priority_raised",
            None,
            "Highest",
        ),
        (["SUP-88 Login fails for SSO users", "Status: Reopened"], "ticket", "reopened", None, None),
        (["Escalation: SUP-88 Login fails for SSO users"], "ticket", "escalated", None, None),
    ],
)
def test_recognises_the_wording_of_crm_and_helpdesk_notifications(
    lines: list[str], kind: EventKind, event: str, stage: str | None, priority: str | None
) -> None:
    parsed = parse_bot_post(post(*lines), kind=kind)
    assert parsed is not None
    assert (parsed.event, parsed.stage, parsed.priority) == (event, stage, priority)


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (["Deal 'Acme renewal' moved to stage Contract sent"], "deal"),
        (["Opportunity Closed Won"], "deal"),
        (["Acme was closed lost"], "deal"),
        (["New deal created: Acme renewal"], "deal"),
        (["Ticket #4521 was escalated"], "ticket"),
        (["Ticket #4521 has been reopened"], "ticket"),
        (["Priority changed from Normal to Urgent"], "ticket"),
    ],
)
def test_what_it_recognises_is_a_juncture_the_rules_nudge_about(lines: list[str], kind: EventKind) -> None:
    parsed = parse_bot_post(post(*lines), kind=kind)
    assert parsed is not None
    assert juncture_of(parsed, DEFAULT_JUNCTURES) is not None


@pytest.mark.parametrize(
    "lines",
    [
        ["Jane Doe logged a call with Acme"],
        ["Reminder: 3 tasks due today"],
        ["Ticket #4521: new comment from the requester"],
        ["Weekly pipeline summary: 12 open deals"],
        ["Task created for Acme renewal: send the proposal"],
        [],
    ],
)
def test_notifications_about_nothing_it_knows_are_ignored(lines: list[str]) -> None:
    assert parse_bot_post(post(*lines), kind="deal") is None


def test_the_linked_name_is_the_title_and_its_link_the_subject() -> None:
    parsed = parse_bot_post(
        post(
            "Opportunity Acme - 500 seats moved to stage Negotiation",
            links=(
                Link(url="https://acme.my.salesforce.com/006A1", label="Acme - 500 seats"),
                Link(url="https://acme.my.salesforce.com/005J9", label="Jane Doe"),
            ),
        ),
        kind="deal",
    )
    assert parsed is not None
    assert parsed.title == "Acme - 500 seats"
    assert parsed.subject_id == "https://acme.my.salesforce.com/006A1"
    assert parsed.url == "https://acme.my.salesforce.com/006A1"


def test_generic_link_labels_do_not_name_the_deal() -> None:
    parsed = parse_bot_post(
        post(
            "Deal 'Acme renewal' moved to stage Contract sent",
            links=(Link(url="https://app.hubspot.com/contacts/1/deal/77", label="View deal"),),
        ),
        kind="deal",
    )
    assert parsed is not None
    assert parsed.title == "Acme renewal"
    assert parsed.subject_id == "https://app.hubspot.com/contacts/1/deal/77"


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        ('Ticket #4521 "Printer on fire" was escalated', "Printer on fire"),
        ("Ticket #4521 “Printer on fire” was escalated", "Printer on fire"),
        ("Ticket *Printer on fire* was escalated", "Printer on fire"),
        ("Acme's ticket about the printer was escalated", "Acme's ticket about the printer was escalated"),
        (":rotating_light: SUP-88 was escalated", "SUP-88 was escalated"),
    ],
)
def test_without_a_link_the_title_is_the_quoted_name_or_else_the_first_line(first_line: str, title: str) -> None:
    parsed = parse_bot_post(post(first_line, "Assignee: Jane Doe"), kind="ticket")
    assert parsed is not None
    assert parsed.title == title
    # Without a link, the name is all there is to tell this ticket from another.
    assert parsed.subject_id == title
    assert parsed.url is None


def test_attachment_fields_fill_in_account_owner_and_priority() -> None:
    parsed = parse_bot_post(
        post(
            "Ticket escalated", "Printer on fire", "Organization: Acme", "Assignee: Jane Doe", "Priority: Urgent"
        ),
        kind="ticket",
    )
    assert parsed is not None
    assert (parsed.account, parsed.owner, parsed.priority) == ("Acme", "Jane Doe", "Urgent")


def test_the_event_is_identified_by_its_post_and_answered_in_its_thread() -> None:
    parsed = parse_bot_post(post("Deal stage changed to Negotiation"), kind="deal")
    assert parsed is not None
    assert parsed.source == "slack_message"
    assert parsed.external_id == f"{CHANNEL}:{TS}"
    assert parsed.channel == CHANNEL
    assert parsed.thread_ts == TS
    assert parsed.kind == "deal"


def test_a_post_inside_a_thread_is_answered_in_that_thread() -> None:
    parsed = parse_bot_post(post("Deal stage changed to Negotiation", thread_ts="1763999999.000001"), kind="deal")
    assert parsed is not None
    assert parsed.thread_ts == "1763999999.000001"
    assert parsed.external_id == f"{CHANNEL}:{TS}"


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (["Ticket #4521 was escalated"], "ticket"),
        (["SUP-88: Priority changed from Medium to High"], "ticket"),
        (["Deal 'Acme renewal' moved to stage Contract sent"], "deal"),
        (["Opportunity Closed Won"], "deal"),
    ],
)
def test_in_a_channel_watching_both_helpdesk_wording_means_a_ticket(lines: list[str], kind: EventKind) -> None:
    assert guess_kind(post(*lines)) == kind


def test_a_bare_link_in_the_text_is_the_subject_and_stays_out_of_the_title() -> None:
    parsed = parse_bot_post(
        post("Deal stage changed to Negotiation: Deal 17 https://crm.example.com/d/17."), kind="deal"
    )
    assert parsed is not None
    assert (parsed.stage, parsed.url, parsed.subject_id) == (
        "Negotiation",
        "https://crm.example.com/d/17",
        "https://crm.example.com/d/17",
    )
    assert parsed.title == "Deal stage changed to Negotiation: Deal 17"
