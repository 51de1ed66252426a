"""Opportunities and Cases, as an Outbound Message's notification carries them, read as deal and ticket events.

A notification holds each record's current values only, not what changed. Whoelse tells a new record from a changed
one by CreatedDate against LastModifiedDate, and relies on the rule that sends the message (README "Webhooks from
Jira, Zendesk, Salesforce…") firing only at the moments it nudges about, so each notification means one moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from habits.events import BusinessEvent, people_emails
from habits.vendor_events.common import Ignored, UnreadablePayload, is_urgent, text
from habits.vendor_events.salesforce.ids import RECORD_ID
from habits.vendor_events.salesforce.outbound import Notification

SOURCE = "salesforce"
# A record saved once has CreatedDate == LastModifiedDate; a workflow field update in the same save may add a moment.
SAME_SAVE = timedelta(seconds=5)
# Custom fields an admin may add (formula fields) so the message names what the record only holds ids for.
OWNER_EMAIL_FIELDS = ("Owner_Email__c", "OwnerEmail__c")
ACCOUNT_NAME_FIELDS = ("Account_Name__c", "AccountName__c")


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _is_new(fields: dict[str, str]) -> bool:
    created, modified = _when(fields.get("CreatedDate")), _when(fields.get("LastModifiedDate"))
    if created is None or modified is None:
        raise UnreadablePayload(
            "send CreatedDate and LastModifiedDate: whoelse tells new records from changed by them"
        )
    return abs(modified - created) <= SAME_SAVE


def _true(fields: dict[str, str], name: str) -> bool:
    return fields.get(name, "").strip().lower() == "true"


def _first(fields: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((fields[name] for name in names if fields.get(name)), None)


def _opportunity_moment(fields: dict[str, str]) -> str:
    if _true(fields, "IsClosed"):
        return "closed_won" if _true(fields, "IsWon") else "closed_lost"
    return "created" if _is_new(fields) else "stage_changed"


def _case_moment(fields: dict[str, str]) -> str | Ignored:
    priority, status = fields.get("Priority"), fields.get("Status", "")
    if _true(fields, "IsClosed"):
        return Ignored(f"case is closed ({status or 'no status'})")
    if _is_new(fields):
        if _true(fields, "IsEscalated"):
            return "escalated"
        return "priority_raised" if is_urgent(priority) else Ignored(f"new case at priority {priority or 'none'}")
    if "reopen" in status.lower():
        return "reopened"
    if _true(fields, "IsEscalated"):
        return "escalated"
    if is_urgent(priority):
        return "priority_raised"
    return Ignored(f"case changed ({status or 'no status'}, priority {priority or 'none'}), not a moment to nudge")


def lightning_url(host: str | None, object_type: str, record_id: str) -> str | None:
    """The record's page in Lightning Experience, on the org's own host."""
    if host is None or not RECORD_ID.match(record_id):
        return None
    return f"https://{host}/lightning/r/{object_type}/{record_id}/view"


def salesforce_event(notification: Notification, *, instance_host: str | None) -> BusinessEvent | Ignored:
    """The deal or ticket event one notification describes, or why it is none."""
    fields = notification.fields
    record_id = fields.get("Id", "")
    if not RECORD_ID.match(record_id):
        raise UnreadablePayload("every notification's sObject carries the record's Id")
    if notification.object_type == "Opportunity":
        kind, moment = "deal", _opportunity_moment(fields)
        title = text(fields.get("Name"), 2000) or f"Opportunity {record_id}"
    elif notification.object_type == "Case":
        case_moment = _case_moment(fields)
        if isinstance(case_moment, Ignored):
            return case_moment
        kind, moment = "ticket", case_moment
        number = fields.get("CaseNumber")
        subject = text(fields.get("Subject"), 1900)
        title = " ".join(part for part in (f"Case {number}:" if number else None, subject) if part)
        title = title.rstrip(":") or f"Case {record_id}"
    else:
        return Ignored(f"{notification.object_type or 'a record of unknown type'} is not an Opportunity or a Case")
    return BusinessEvent(
        source=SOURCE,
        external_id=notification.notification_id,
        kind="deal" if kind == "deal" else "ticket",
        event=moment,
        subject_id=record_id,
        title=title,
        url=lightning_url(instance_host, notification.object_type, record_id),
        account=text(_first(fields, ACCOUNT_NAME_FIELDS), 255),
        stage=text(fields.get("StageName"), 128) if kind == "deal" else None,
        priority=text(fields.get("Priority"), 32) if kind == "ticket" else None,
        people=people_emails(owner=_first(fields, OWNER_EMAIL_FIELDS)),
    )
