"""Zendesk webhooks read as ticket events: trigger webhooks with whoelse's body template (README), and ticket
event subscriptions (`zen:event-type:ticket.…`) in the shape Zendesk documents."""

from __future__ import annotations

import re
from typing import Any

from habits.events import BusinessEvent, people_emails
from habits.vendor_events.common import Ignored, UnreadablePayload, field, is_urgent, raised_to_urgent, text

SOURCE = "zendesk"
EVENT_TYPE_PREFIX = "zen:event-type:"
# Zendesk's statuses after which a ticket is finished; moving out of one is a reopening.
FINISHED = {"solved", "closed"}
# The moments a trigger webhook may name, in whoelse's body template (README "Webhooks from Jira, Zendesk, Salesforce…").
TRIGGER_EVENTS = ("priority_raised", "reopened", "escalated")
LINK = re.compile(r"^https?://[^\s<>|]+$")


def _lower(value: Any) -> str:
    return (text(value, 128) or "").lower()


def _link(value: Any) -> str | None:
    """{{ticket.link}} renders without a scheme (acme.zendesk.com/agent/tickets/1): people get an https link."""
    link = text(value, 2000)
    if link and "://" not in link:
        link = f"https://{link}"
    return link if link and LINK.match(link) else None


def _shown(priority: str | None) -> str | None:
    # Event subscriptions send priorities in capitals ("URGENT"); people read "Urgent", as in Zendesk itself.
    return priority.capitalize() if priority else None


def _subscription_event(document: dict[str, Any], event_type: str) -> BusinessEvent | Ignored:
    delivery_id = text(document.get("id"), 255)
    ticket_id = text(field(document, "detail", "id"), 255)
    if not delivery_id or not ticket_id:
        raise UnreadablePayload("id and detail.id are required: every Zendesk ticket event carries both")
    previous, current = field(document, "event", "previous"), field(document, "event", "current")
    priority = text(field(document, "detail", "priority"), 32)
    if event_type == "ticket.priority_changed":
        if not raised_to_urgent(text(previous, 32), text(current, 32)):
            return Ignored(f"priority changed from {previous} to {current}, not raised to an urgent one")
        moment, priority = "priority_raised", text(current, 32)
    elif event_type == "ticket.status_changed":
        if "escalat" in _lower(current) and "escalat" not in _lower(previous):
            moment = "escalated"
        elif _lower(previous) in FINISHED and _lower(current) and _lower(current) not in FINISHED:
            moment = "reopened"
        else:
            return Ignored(f"status changed from {previous} to {current}, neither a reopening nor an escalation")
    else:
        return Ignored(f"{EVENT_TYPE_PREFIX}{event_type} is not a priority or status change")
    return BusinessEvent(
        source=SOURCE,
        external_id=delivery_id,
        kind="ticket",
        event=moment,
        subject_id=ticket_id,
        title=text(field(document, "detail", "subject"), 2000) or f"Ticket #{ticket_id}",
        priority=_shown(priority),
    )


def _trigger_event(document: dict[str, Any]) -> BusinessEvent | Ignored:
    delivery_id, ticket_id = text(document.get("id"), 255), text(document.get("ticket_id"), 255)
    moment = _lower(document.get("event"))
    if not delivery_id or not ticket_id:
        raise UnreadablePayload("id and ticket_id are required: use the body template from whoelse's README")
    if moment not in TRIGGER_EVENTS:
        raise UnreadablePayload(f"event must be one of {', '.join(TRIGGER_EVENTS)} (the trigger's body template)")
    priority = text(document.get("priority"), 32)
    if moment == "priority_raised" and not is_urgent(priority):
        return Ignored(f"priority {priority or 'none'} is not urgent")
    return BusinessEvent(
        source=SOURCE,
        external_id=delivery_id,
        kind="ticket",
        event=moment,
        subject_id=ticket_id,
        title=text(document.get("title"), 2000) or f"Ticket #{ticket_id}",
        url=_link(document.get("url")),
        priority=_shown(priority),
        owner=text(document.get("assignee"), 255),
        # An unassigned ticket renders the placeholder empty: left out, like anything that is not an address.
        people=people_emails(assignee=document.get("assignee_email"), requester=document.get("requester_email")),
    )


def zendesk_event(document: dict[str, Any]) -> BusinessEvent | Ignored:
    """The ticket event a Zendesk webhook describes, whichever of its two kinds sent it."""
    kind = text(document.get("type"), 128) or ""
    if kind.startswith(EVENT_TYPE_PREFIX):
        return _subscription_event(document, kind.removeprefix(EVENT_TYPE_PREFIX))
    return _trigger_event(document)
