"""HubSpot deal notifications (webhooks API: `deal.creation`, `deal.propertyChange`) read as deal events.

A notification names the deal only by id; its name, owner and link come from the CRM API once a workspace has
connected HubSpot, and are passed in here. Until then the deal is shown as "Deal <id>".
"""

from __future__ import annotations

from typing import Any

from habits.events import BusinessEvent
from habits.vendor_events.common import Ignored, UnreadablePayload, text

SOURCE = "hubspot"
# HubSpot's internal ids of the default pipeline's closing stages; other stages are named by their id until the
# CRM fetch can give their labels.
CLOSING_STAGES = {"closedwon": "closed_won", "closedlost": "closed_lost"}


def _delivery_id(notification: dict[str, Any]) -> str:
    """HubSpot does not promise eventId is unique on its own, and counts retries in attemptNumber: the delivery is
    the event within its portal and subscription, at its moment, whichever attempt brings it."""
    parts = [text(notification.get(key), 64) for key in ("portalId", "subscriptionId", "eventId", "occurredAt")]
    if not all(parts):
        raise UnreadablePayload(
            "portalId, subscriptionId, eventId and occurredAt are required in every notification"
        )
    return ":".join(part for part in parts if part)


def hubspot_deal_event(
    notification: dict[str, Any], *, deal_name: str | None = None, owner: str | None = None, url: str | None = None
) -> BusinessEvent | Ignored:
    """One notification of HubSpot's batch (the body is a JSON array of them)."""
    subscription = text(notification.get("subscriptionType"), 64) or ""
    deal_id = text(notification.get("objectId"), 64)
    if not deal_id:
        raise UnreadablePayload("objectId is required: every HubSpot deal notification names its deal")
    if subscription == "deal.creation":
        event, stage = "created", None
    elif subscription == "deal.propertyChange" and notification.get("propertyName") == "dealstage":
        stage = text(notification.get("propertyValue"), 128)
        if not stage:
            return Ignored("deal stage cleared")
        event = CLOSING_STAGES.get(stage.lower(), "stage_changed")
    elif subscription == "deal.propertyChange":
        return Ignored(f"deal property {notification.get('propertyName')} changed, not its stage")
    else:
        return Ignored(
            f"{subscription or 'a notification without subscriptionType'} is not a deal created or moved"
        )
    return BusinessEvent(
        source=SOURCE,
        external_id=_delivery_id(notification),
        kind="deal",
        event=event,
        subject_id=deal_id,
        title=deal_name or f"Deal {deal_id}",
        url=url,
        stage=stage,
        owner=owner,
    )
