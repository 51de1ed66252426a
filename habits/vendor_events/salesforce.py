"""Salesforce Outbound Messages (SOAP `notifications`) about Opportunities and Cases, read as deal and ticket events.

An outbound message carries each record's current values only, not what changed. Whoelse tells a new record from a
changed one by CreatedDate against LastModifiedDate, and relies on the rule that sends the message (README
"Salesforce") firing only at the moments it nudges about, so each notification means one moment.

The XML is read with defusedxml: no DTD, no entity expansion, nothing fetched from elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from habits.events import BusinessEvent, people_emails
from habits.vendor_events.common import Ignored, UnreadablePayload, is_urgent, text

SOURCE = "salesforce"
SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_NOTIFICATIONS = 100
# A record saved once has CreatedDate == LastModifiedDate; a workflow field update in the same save may add a moment.
SAME_SAVE = timedelta(seconds=5)
# Record ids are 15 case-sensitive characters, or 18 with a suffix that spells out the case of the first 15.
RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
CASE_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# The three-character key prefix of each object's ids, for a notification whose sObject has no xsi:type.
KEY_PREFIXES = {"006": "Opportunity", "500": "Case"}
# Custom fields an admin may add (formula fields) so the message names what the record only holds ids for.
OWNER_EMAIL_FIELDS = ("Owner_Email__c", "OwnerEmail__c")
ACCOUNT_NAME_FIELDS = ("Account_Name__c", "AccountName__c")


@dataclass(frozen=True)
class Notification:
    """One `Notification` of a message: its id (the same on every redelivery) and the record's fields."""

    notification_id: str
    object_type: str
    fields: dict[str, str]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    # Where links to records point: the org's My Domain host, from EnterpriseUrl or PartnerUrl.
    instance_host: str | None
    notifications: list[Notification]


def fifteen_character_id(record_id: str) -> str | None:
    """The case-sensitive 15-character form of a Salesforce id (an 18-character one's case comes from its suffix, so
    an id pasted in the wrong case still reads right); None for anything that is not an id."""
    record_id = record_id.strip()
    if not RECORD_ID.match(record_id):
        return None
    if len(record_id) == 15:
        return record_id
    base, suffix = record_id[:15], record_id[15:].upper()
    restored = []
    for chunk, check in enumerate(suffix):
        bits = CASE_SUFFIX_ALPHABET.find(check)
        if bits < 0:
            return None
        for position, character in enumerate(base[chunk * 5 : chunk * 5 + 5]):
            upper = bool(bits & (1 << position))
            if upper and not character.isalpha():
                return None  # The suffix speaks of the case of a digit: the id was mistyped.
            restored.append(character.upper() if upper else character.lower())
    fifteen = "".join(restored)
    # An id kept in one case (pasted into a case-insensitive place) takes its case from the suffix; one in mixed
    # case must agree with it.
    single_case = base == base.lower() or base == base.upper()
    return fifteen if single_case or fifteen == base else None


def eighteen_character_id(fifteen: str) -> str:
    """The 18-character form Salesforce shows in its API: the id, then the case of each five characters."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << position for position, c in enumerate(fifteen[chunk * 5 : chunk * 5 + 5]) if c.isupper())
        suffix += CASE_SUFFIX_ALPHABET[bits]
    return fifteen + suffix


def same_organization(configured: str, sent: str) -> bool:
    """Whether the message's OrganizationId is the configured org, given in either its 15- or 18-character form."""
    ours, theirs = fifteen_character_id(configured), fifteen_character_id(sent)
    return ours is not None and ours == theirs


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element, name: str) -> Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def _child_text(element: Element, name: str, limit: int) -> str | None:
    child = _child(element, name)
    return text(child.text, limit) if child is not None else None


def _host(*urls: str | None) -> str | None:
    for url in urls:
        parts = urlsplit(url or "")
        if parts.scheme == "https" and parts.hostname and re.fullmatch(r"[A-Za-z0-9.-]+", parts.hostname):
            return parts.hostname.lower()
    return None


def _notification(element: Element) -> Notification:
    notification_id = _child_text(element, "Id", 255)
    record = _child(element, "sObject")
    if not notification_id or record is None:
        raise UnreadablePayload("every Notification carries its Id and an sObject")
    fields = {_local(child.tag): (child.text or "").strip() for child in record if len(child) == 0}
    object_type = (record.get(XSI_TYPE) or "").rpartition(":")[2]
    if not object_type:
        object_type = KEY_PREFIXES.get(fields.get("Id", "")[:3], "")
    return Notification(notification_id=notification_id, object_type=object_type, fields=fields)


def read_outbound_message(body: bytes) -> OutboundMessage:
    """The message's organization and notifications; UnreadablePayload (safe to show) for anything else, including
    XML that declares a DTD or entities."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as refused:
        raise UnreadablePayload(f"XML with a DTD or entities is not accepted ({type(refused).__name__})") from None
    except ParseError as error:
        raise UnreadablePayload(f"body is not well-formed XML: {error}") from None
    body_element = _child(root, "Body") if root.tag == f"{{{SOAP_ENVELOPE}}}Envelope" else None
    message = _child(body_element, "notifications") if body_element is not None else None
    if message is None or message.tag != f"{{{OUTBOUND}}}notifications":
        raise UnreadablePayload("expected a SOAP envelope holding Salesforce's outbound `notifications`")
    organization_id = _child_text(message, "OrganizationId", 18)
    if not organization_id:
        raise UnreadablePayload("OrganizationId is missing: every outbound message names its org")
    notifications = [_notification(child) for child in message if _local(child.tag) == "Notification"]
    if len(notifications) > MAX_NOTIFICATIONS:
        raise UnreadablePayload(f"an outbound message holds at most {MAX_NOTIFICATIONS} notifications")
    return OutboundMessage(
        organization_id=organization_id,
        instance_host=_host(_child_text(message, "EnterpriseUrl", 2000), _child_text(message, "PartnerUrl", 2000)),
        notifications=notifications,
    )


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
