"""HubSpot's webhook notifications (deal and ticket creation, and changes to a deal's stage or a ticket's priority
or stage) read as deal and ticket events, in two steps.

A notification names its deal or ticket by id only, and a property change carries only the new value. So
`hubspot_event` reads a notification into an event that is stored at once, still waiting for its details
(`pending`); `completed_event` later turns it into the moment it is, from what HubSpot's CRM API says about the
record (`HubSpotRecord`, or None when that could not be read) and the property's value before the change (the
last one whoelse saw, or else the one HubSpot's history of the property gives).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from habits.events import BusinessEvent, EventKind, people_emails
from habits.vendor_events.common import Ignored, UnreadablePayload, is_urgent, raised_to_urgent, text

SOURCE = "hubspot"
# The properties whose changes whoelse subscribes to, per object type, and what each is to the nudge rules.
DEAL_STAGE = "dealstage"
TICKET_PRIORITY = "hs_ticket_priority"
TICKET_STAGE = "hs_pipeline_stage"
WATCHED_PROPERTIES: dict[EventKind, tuple[str, ...]] = {
    "deal": (DEAL_STAGE,),
    "ticket": (TICKET_PRIORITY, TICKET_STAGE),
}
# HubSpot's ids of the default deal pipeline's closing stages: what a stage is known as when its pipeline could not
# be read.
CLOSING_STAGES = {"closedwon": "closed_won", "closedlost": "closed_lost"}
MAX_EXTERNAL_ID = 255
# A priority change that is not a raise to an urgent one (not "priority_changed": the rules read that as a raise).
PRIORITY_UPDATED = "priority_updated"


@dataclass(frozen=True)
class Stage:
    """A pipeline stage as HubSpot's pipelines API describes it."""

    label: str
    closed: bool = False
    # A deal stage's win probability (1.0 won, 0.0 lost when closed); None for ticket stages.
    probability: float | None = None


@dataclass(frozen=True)
class HubSpotRecord:
    """What HubSpot's CRM API says about the deal or ticket a notification names."""

    name: str | None = None
    amount: str | None = None
    currency: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    priority: str | None = None
    stage: str | None = None
    url: str | None = None
    # The changed property's value just before the change, from HubSpot's history of it (None: not asked, or none).
    previous: str | None = None


def _delivery_key(notification: dict[str, Any], kind: str, object_id: str) -> str:
    """The key that recognises a retried delivery: the same change, whichever attempt brings it.

    HubSpot does not promise `eventId` is unique (two real changes may share one), and counts retries in
    `attemptNumber`. A change is the same one when it is in the same portal, of the same subscription type, to the
    same record and property, to the same value, at the same moment (`occurredAt`, in milliseconds): that survives
    every retry, and two real changes differ in at least one of them.
    """
    parts = [
        text(notification.get("portalId"), 32),
        text(notification.get("subscriptionType"), 64),
        object_id,
        text(notification.get("propertyName"), 128) or "",
        text(notification.get("propertyValue"), 1000) or "",
        text(notification.get("occurredAt"), 32),
    ]
    if not parts[0] or not parts[5]:
        raise UnreadablePayload("portalId and occurredAt are required in every HubSpot notification")
    key = ":".join(part or "" for part in parts)
    if len(key) > MAX_EXTERNAL_ID:
        # A long property value: the digest keeps the key within its column and just as distinct.
        key = f"{parts[0]}:{kind}:{object_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def hubspot_event(notification: Any) -> BusinessEvent | Ignored:
    """One notification of HubSpot's batch (the body is a JSON array of them), as an event waiting for details."""
    if not isinstance(notification, dict):
        raise UnreadablePayload("each notification in the batch must be a JSON object")
    subscription = text(notification.get("subscriptionType"), 64) or ""
    object_type, _, change = subscription.partition(".")
    if object_type not in WATCHED_PROPERTIES or change not in ("creation", "propertyChange"):
        return Ignored(
            f"{subscription or 'a notification without subscriptionType'} is not a deal or ticket event"
        )
    kind: EventKind = "deal" if object_type == "deal" else "ticket"
    object_id = text(notification.get("objectId"), 64)
    if not object_id:
        raise UnreadablePayload(f"objectId is required: every HubSpot {kind} notification names its {kind}")
    occurred_at = notification.get("occurredAt")
    if not isinstance(occurred_at, int) or isinstance(occurred_at, bool):
        raise UnreadablePayload("occurredAt must be the change's time in milliseconds")
    pending: dict[str, Any] = {
        "object_id": object_id,
        "occurred_at": occurred_at,
        "portal_id": text(notification.get("portalId"), 32),
    }
    stage = priority = None
    if change == "creation":
        event = "created"
    else:
        prop = text(notification.get("propertyName"), 128)
        if prop not in WATCHED_PROPERTIES[kind]:
            return Ignored(f"{kind} property {prop} changed, which is not one whoelse watches")
        value = text(notification.get("propertyValue"), 128)
        if not value:
            return Ignored(f"{kind} property {prop} cleared")
        pending |= {"property": prop, "value": value}
        # Provisional: which moment it is depends on the value before, known only once it is completed.
        event = "stage_changed" if prop != TICKET_PRIORITY else PRIORITY_UPDATED
        stage, priority = (value, None) if prop != TICKET_PRIORITY else (None, value[:32])
    return BusinessEvent(
        source=SOURCE,
        external_id=_delivery_key(notification, kind, object_id),
        kind=kind,
        event=event,
        subject_id=f"hubspot:{object_id}",
        title=f"{kind.capitalize()} {object_id}",
        stage=stage,
        priority=priority,
        pending=pending,
    )


def shown_amount(amount: str | None, currency: str | None) -> str | None:
    """A deal amount as people read it: "EUR 12,000", "12,500.50"."""
    if not amount:
        return None
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return amount[:64]
    figure = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{currency} {figure}" if currency else figure


def _shown_priority(priority: str | None) -> str | None:
    # HubSpot's internal values are capitals ("HIGH"); people read "High", as in HubSpot itself.
    return priority.capitalize() if priority else None


def _deal_moment(stage_id: str, stage: Stage | None) -> str:
    if stage is None:
        return CLOSING_STAGES.get(stage_id.lower(), "stage_changed")
    if stage.closed and stage.probability is not None:
        return (
            "closed_won"
            if stage.probability >= 1
            else "closed_lost"
            if stage.probability <= 0
            else "stage_changed"
        )
    return "stage_changed"


def _ticket_stage_moment(previous: str | None, current: str, stages: Mapping[str, Stage]) -> str:
    now, before = stages.get(current), stages.get(previous or "")
    if (
        now is not None
        and "escalat" in now.label.lower()
        and (before is None or "escalat" not in before.label.lower())
    ):
        return "escalated"
    if before is not None and before.closed and now is not None and not now.closed:
        return "reopened"
    # Not a moment the rules nudge about (unless a workspace turns ticket stage changes on).
    return "stage_changed"


def completed_event(
    event: BusinessEvent,
    *,
    record: HubSpotRecord | None,
    previous: str | None,
    stages: Mapping[str, Stage],
) -> BusinessEvent:
    """The moment a stored notification is, now that its record (None: unreadable) and the property's value before
    this change (None: never seen) are known. Pure: the caller records the new value."""
    pending = event.pending or {}
    prop, value = pending.get("property"), pending.get("value")
    record = record or HubSpotRecord()
    moment = event.event
    stage_id = value if prop in (DEAL_STAGE, TICKET_STAGE) else record.stage if event.kind == "deal" else None
    priority = value if prop == TICKET_PRIORITY else record.priority
    if prop == DEAL_STAGE and value:
        moment = _deal_moment(value, stages.get(value))
    elif prop == TICKET_STAGE and value:
        moment = _ticket_stage_moment(previous, value, stages)
    elif prop == TICKET_PRIORITY:
        # "Raised": up to an urgent priority from a lower one, or from one whoelse never saw.
        moment = "priority_raised" if raised_to_urgent(previous, value) else PRIORITY_UPDATED
    elif event.kind == "ticket" and is_urgent(record.priority):
        # A ticket opened already urgent is escalated from the start, as with Jira.
        moment = "priority_raised"
    stage = stages.get(stage_id or "")
    # The owner's address is for finding them in the chat (`people`), never shown: with no name, no owner is shown
    # unless the address matches someone, who is then mentioned.
    owner = record.owner_name
    return event.model_copy(
        update={
            "event": moment,
            "title": (record.name or event.title)[:2000],
            "stage": ((stage.label if stage else stage_id) or None) if event.kind == "deal" else None,
            "priority": (_shown_priority(priority) or "")[:32] or None,
            "amount": shown_amount(record.amount, record.currency) if event.kind == "deal" else None,
            "owner": owner[:255] if owner else None,
            "owner_email": record.owner_email,
            "people": {**event.people, **people_emails(owner=record.owner_email)},
            "url": record.url,
            "pending": None,
        }
    )


def watched_values(event: BusinessEvent, record: HubSpotRecord | None) -> dict[str, str]:
    """The watched properties' values this event tells whoelse: the changed one, or, for a new record, those it
    was created with (so its first change has a value before it)."""
    pending = event.pending or {}
    if pending.get("property"):
        return {str(pending["property"]): str(pending["value"])}
    if record is None:
        return {}
    found = (
        {DEAL_STAGE: record.stage}
        if event.kind == "deal"
        else {TICKET_PRIORITY: record.priority, TICKET_STAGE: record.stage}
    )
    return {prop: value for prop, value in found.items() if value}
