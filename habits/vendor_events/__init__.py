"""Vendors' own webhook payloads (Jira, Zendesk, …) read into the one `BusinessEvent` the nudge rules take.

Pure functions of the payload: the edge has already checked who sent it. Each returns an event, or `Ignored` with
the reason when the delivery is about nothing the rules care about.
"""

from habits.vendor_events.common import Ignored, UnreadablePayload

__all__ = ["Ignored", "UnreadablePayload"]
