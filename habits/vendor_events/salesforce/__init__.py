"""Salesforce Outbound Messages (SOAP `notifications`) about Opportunities and Cases, read as deal and ticket events:
the envelope (outbound), the ids in it (ids), and what each record's values mean (records)."""

from habits.vendor_events.salesforce.ids import eighteen_character_id, fifteen_character_id, same_organization
from habits.vendor_events.salesforce.outbound import Notification, OutboundMessage, read_outbound_message
from habits.vendor_events.salesforce.records import SOURCE, lightning_url, salesforce_event

__all__ = [
    "SOURCE",
    "Notification",
    "OutboundMessage",
    "eighteen_character_id",
    "fifteen_character_id",
    "lightning_url",
    "read_outbound_message",
    "salesforce_event",
    "same_organization",
]
