"""Jira Cloud admin webhooks (`jira:issue_created`, `jira:issue_updated`) read as ticket events.

Escalation is read from what changed (the changelog), never from where the issue now stands, so an edit to an
issue that was escalated long ago does not look like a new escalation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from habits.events import BusinessEvent, people_emails
from habits.vendor_events.common import Ignored, UnreadablePayload, field, is_urgent, raised_to_urgent, text

SOURCE = "jira"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated")
DONE_STATUSES = {"done", "resolved", "closed", "cancelled", "canceled", "won't do", "declined"}


def _escalated(status: str | None) -> bool:
    return "escalat" in (status or "").lower()


def _done(status: str | None) -> bool:
    return (status or "").strip().lower() in DONE_STATUSES


def _changes(document: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """Field name → (from, to) for the fields this update changed, by their display strings."""
    items = field(document, "changelog", "items")
    changes: dict[str, tuple[str | None, str | None]] = {}
    for item in items if isinstance(items, list) else []:
        name = text(field(item, "field"), 64)
        if name:
            changes[name.lower()] = (text(field(item, "fromString"), 128), text(field(item, "toString"), 128))
    return changes


def _moment(document: dict[str, Any], webhook_event: str) -> tuple[str, str | None] | Ignored:
    """Which escalation this delivery is (event name and the priority to show), or why it is none."""
    fields = field(document, "issue", "fields")
    priority = text(field(fields, "priority", "name"), 32)
    if webhook_event == "jira:issue_created":
        # A new issue is an escalation only when it arrives already escalated or urgent.
        if _escalated(text(field(fields, "status", "name"), 128)):
            return "escalated", priority
        if is_urgent(priority):
            return "priority_raised", priority
        return Ignored(f"issue created at priority {priority or 'none'}, not urgent")
    changes = _changes(document)
    # One update can change several fields; the strongest signal names it.
    if "status" in changes:
        before, after = changes["status"]
        if _escalated(after) and not _escalated(before):
            return "escalated", priority
        if (after or "").strip().lower() == "reopened" or (_done(before) and after and not _done(after)):
            return "reopened", priority
    if "priority" in changes:
        before, after = changes["priority"]
        if raised_to_urgent(before, after):
            return "priority_raised", (after or "")[:32]
    changed = ", ".join(sorted(changes)) or "nothing in the changelog"
    return Ignored(f"issue updated ({changed}) without an escalation, urgent priority or reopening")


def _browse_url(issue: Any, key: str) -> str | None:
    """The link people open (https://<site>/browse/KEY), from the origin of the REST URL the payload carries."""
    parts = urlsplit(text(field(issue, "self"), 2000) or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/browse/{key}"


def jira_event(document: dict[str, Any], *, delivery_id: str) -> BusinessEvent | Ignored:
    """The ticket event a Jira issue webhook describes; `delivery_id` is X-Atlassian-Webhook-Identifier."""
    webhook_event = text(document.get("webhookEvent"), 64)
    if webhook_event not in ISSUE_EVENTS:
        return Ignored(f"{webhook_event or 'a delivery without webhookEvent'} is not an issue created or updated")
    issue = document.get("issue")
    key = text(field(issue, "key"), 255)
    if not key:
        raise UnreadablePayload("issue.key is missing: every Jira issue webhook carries the issue's key")
    moment = _moment(document, webhook_event)
    if isinstance(moment, Ignored):
        return moment
    event, priority = moment
    return BusinessEvent(
        source=SOURCE,
        external_id=delivery_id,
        kind="ticket",
        event=event,
        subject_id=key,
        title=text(field(issue, "fields", "summary"), 2000) or key,
        url=_browse_url(issue, key),
        priority=priority,
        owner=text(field(issue, "fields", "assignee", "displayName"), 255),
        # Jira Cloud includes it only where the assignee's profile visibility allows.
        people=people_emails(assignee=field(issue, "fields", "assignee", "emailAddress")),
    )
