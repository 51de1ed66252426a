"""The SOAP envelope of a Salesforce Outbound Message (`notifications`), read with defusedxml: no DTD, no entity
expansion, nothing fetched from elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from habits.vendor_events.common import UnreadablePayload, text

SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_NOTIFICATIONS = 100
# The three-character key prefix of each object's ids, for a notification whose sObject has no xsi:type.
KEY_PREFIXES = {"006": "Opportunity", "500": "Case"}


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
