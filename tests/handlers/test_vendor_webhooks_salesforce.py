"""`POST /webhooks/salesforce/{token}`: Salesforce Outbound Messages as Salesforce sends them (its documented SOAP
envelope), through the real app to the (fake) Slack channels watching deals and tickets."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from xml.etree.ElementTree import fromstring

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import create_app
from bot.settings import ConfigurationError, Settings
from models.events import ReceivedEvent
from models.nudges import Nudge
from tests.conftest import RunningApp, eventually, serving, unpaced
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_webhooks import (
    DEALS,
    SUPPORT,
    count,
    everything_decided,
    given_workspace,
    nothing_stored,
    outcome,
    posts_once_delivered,
)
from tests.support.databases import table_offline
from tests.support.vendors import FIXTURES

ORG_18 = "00Dxx0000001gEREAY"
ORG_15 = "00Dxx0000001gER"
TOKEN = "sf-4bd1f0c29e7a4f1d8c3b2a19e6d5c7f0"
URL = f"/webhooks/salesforce/{TOKEN}"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"


def salesforce_settings(settings: Settings, *, organization_id: str = ORG_18) -> Settings:
    return settings.model_copy(
        update={"salesforce_organization_id": organization_id, "salesforce_webhook_token": SecretStr(TOKEN)}
    )


@pytest.fixture
async def salesforce_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with serving(create_app(salesforce_settings(settings), delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals", SUPPORT: "tickets"})
        yield app


def opportunity(**fields: str) -> str:
    """Salesforce's outbound message about an Opportunity (the fixture), with the given fields' values changed."""
    body = (FIXTURES / "salesforce_opportunity_stage_changed.xml").read_text()
    return _with(body, fields)


def case(**fields: str) -> str:
    body = (FIXTURES / "salesforce_case_escalated.xml").read_text()
    return _with(body, fields)


def _with(body: str, fields: dict[str, str]) -> str:
    for name, value in fields.items():
        tag = "Id" if name == "notification_id" else f"sf:{name}"
        if name == "notification_id":
            body = re.sub(r"<Id>[^<]*</Id>", f"<Id>{value}</Id>", body, count=1)
        elif name == "OrganizationId":
            body = re.sub(r"<OrganizationId>[^<]*<", f"<OrganizationId>{value}<", body)
        else:
            body, found = re.subn(rf"<{tag}>[^<]*</{tag}>", f"<{tag}>{value}</{tag}>", body)
            assert found == 1, name
    return body


async def send(app: RunningApp, body: str | bytes, *, url: str = URL) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    return await app.post(url, raw, SOAP_HEADERS)


def is_acknowledged(response: httpx.Response) -> bool:
    """Salesforce's notificationsResponse with Ack true: what makes it stop redelivering."""
    if response.status_code != 200 or not response.headers["content-type"].startswith("text/xml"):
        return False
    answer = fromstring(response.content)
    return answer.findtext(f".//{OUTBOUND}notificationsResponse/{OUTBOUND}Ack") == "true"


# ---------------------------------------------------------------------------------------------- moments


async def test_an_opportunity_stage_change_asks_the_deal_channel_with_a_lightning_link(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(salesforce_app, opportunity())

    assert is_acknowledged(response)
    assert await outcome(salesforce_app, "04lxx000000AbCdAAC") == "nudged"
    [nudge] = await posts_once_delivered(salesforce_app, fake_slack, DEALS)
    shown = json.dumps(nudge["blocks"])
    assert "Globex platform renewal" in nudge["text"] and "Negotiation/Review" in nudge["text"]
    assert "https://acme.my.salesforce.com/lightning/r/Opportunity/006xx000001Sv6yAAC/view" in shown
    assert "Account" in shown


@pytest.mark.parametrize(
    ("fields", "moment"),
    [
        ({"LastModifiedDate": "2026-11-03T09:14:22.000Z"}, "created"),
        ({"IsClosed": "true", "IsWon": "true", "StageName": "Closed Won"}, "closed_won"),
        ({"IsClosed": "true", "IsWon": "false", "StageName": "Closed Lost"}, "closed_lost"),
    ],
)
async def test_new_won_and_lost_opportunities_are_told_apart_by_their_current_values(
    salesforce_app: RunningApp, fake_slack: FakeSlack, fields: dict[str, str], moment: str
) -> None:
    response = await send(salesforce_app, opportunity(**fields))

    assert is_acknowledged(response)
    assert await outcome(salesforce_app, "04lxx000000AbCdAAC") == "nudged"
    async with salesforce_app.context.sessions() as session:
        [stored] = (await session.scalars(select(ReceivedEvent))).all()
    assert (stored.source, stored.kind, stored.event) == ("salesforce", "deal", moment)
    assert len(await posts_once_delivered(salesforce_app, fake_slack, DEALS)) == 1


async def test_an_escalated_case_asks_the_ticket_channel(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(salesforce_app, case())

    assert is_acknowledged(response)
    [nudge] = await posts_once_delivered(salesforce_app, fake_slack, SUPPORT)
    assert "Case 00001026: Invoices missing VAT numbers" in nudge["text"] and "escalated" in nudge["text"]
    assert "https://acme.my.salesforce.com/lightning/r/Case/500xx000000bZ4rAAE/view" in json.dumps(nudge["blocks"])


async def test_a_notification_about_nothing_whoelse_nudges_about_is_still_acknowledged(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    routine_edit = case(IsEscalated="false", Priority="Medium", Status="Working")

    response = await send(salesforce_app, routine_edit)

    assert is_acknowledged(response)
    assert await nothing_stored(salesforce_app.context)
    assert await posts_once_delivered(salesforce_app, fake_slack, SUPPORT) == []


# ---------------------------------------------------------------------------------------------- batches and retries


def batch(size: int) -> str:
    """One message carrying `size` notifications, each about its own opportunity, as Salesforce batches them."""
    body = opportunity()
    start, end = body.index("<Notification>"), body.index("</Notification>") + len("</Notification>")
    one = body[start:end]
    notifications = "".join(
        one.replace("04lxx000000AbCdAAC", f"04lxx00000{index:05d}AAC")
        .replace("006xx000001Sv6yAAC", f"006xx00000{index:05d}AAC")
        .replace("Globex platform renewal", f"Globex deal {index}")
        for index in range(size)
    )
    return body[:start] + notifications + body[end:]


async def test_a_message_of_a_hundred_notifications_stores_each_once_and_is_acknowledged(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    response = await send(salesforce_app, batch(100))

    assert is_acknowledged(response)
    # A hundred decisions take a while on a busy machine; the acknowledgement did not wait for them.
    await eventually(lambda: everything_decided(salesforce_app.context), within=60)
    await posts_once_delivered(salesforce_app, fake_slack, DEALS)
    assert await count(salesforce_app.context.sessions, ReceivedEvent) == 100
    # Each is a moment of its own deal; past the channel's hourly cap they are recorded without being posted.
    assert await count(salesforce_app.context.sessions, Nudge) == 100


async def test_more_than_a_hundred_notifications_are_refused(salesforce_app: RunningApp) -> None:
    response = await send(salesforce_app, batch(101))

    assert response.status_code == 400
    assert "at most 100" in response.json()["error"]
    assert await nothing_stored(salesforce_app.context)


async def test_a_redelivered_message_is_acknowledged_again_and_nudges_once(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    first = await send(salesforce_app, batch(3))
    await posts_once_delivered(salesforce_app, fake_slack, DEALS)

    # Salesforce redelivers with the same notification ids; the records may have changed meanwhile.
    again = await send(salesforce_app, batch(3).replace("Negotiation/Review", "Proposal/Price Quote"))

    assert is_acknowledged(first) and is_acknowledged(again)
    assert len(await posts_once_delivered(salesforce_app, fake_slack, DEALS)) == 3
    assert await count(salesforce_app.context.sessions, ReceivedEvent) == 3


async def test_a_message_that_cannot_be_stored_is_not_acknowledged_and_salesforces_retry_nudges(
    salesforce_app: RunningApp, fake_slack: FakeSlack
) -> None:
    async with table_offline(salesforce_app.context.engine, "events"):
        refused = await send(salesforce_app, opportunity())

    assert (refused.status_code, refused.json()["retry"]) == (503, True)
    assert refused.headers["Retry-After"]
    retried = await send(salesforce_app, opportunity())
    assert is_acknowledged(retried)
    assert len(await posts_once_delivered(salesforce_app, fake_slack, DEALS)) == 1


# ---------------------------------------------------------------------------------------------- who may send


async def test_a_message_from_another_org_is_refused_with_the_reason(salesforce_app: RunningApp) -> None:
    response = await send(salesforce_app, opportunity(OrganizationId="00Dxx0000002hFSEAY"))

    assert response.status_code == 401
    assert "00Dxx0000002hFSEAY" in response.json()["error"]
    assert "Envelope" not in response.text
    assert await nothing_stored(salesforce_app.context)


@pytest.mark.parametrize("configured", [ORG_15, ORG_18, ORG_18.lower()])
async def test_the_org_id_may_be_configured_as_copied_from_setup(
    settings: Settings, fake_slack: FakeSlack, configured: str
) -> None:
    async with serving(
        create_app(salesforce_settings(settings, organization_id=configured), delivery_policy=unpaced())
    ) as app:
        await given_workspace(app.context, watching={DEALS: "deals"})

        response = await send(app, opportunity())

        assert is_acknowledged(response)
        assert len(await posts_once_delivered(app, fake_slack, DEALS)) == 1


async def test_the_15_character_id_does_not_match_an_org_differing_only_in_case(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    async with serving(
        create_app(salesforce_settings(settings, organization_id="00DXX0000001GER"), delivery_policy=unpaced())
    ) as app:
        await given_workspace(app.context, watching={DEALS: "deals"})

        response = await send(app, opportunity())

        assert response.status_code == 401
        assert await nothing_stored(app.context)


async def test_a_wrong_address_is_not_found(salesforce_app: RunningApp) -> None:
    response = await send(salesforce_app, opportunity(), url=f"/webhooks/salesforce/{TOKEN[:-1]}x")

    assert response.status_code == 404
    assert await nothing_stored(salesforce_app.context)


async def test_without_configuration_salesforce_messages_are_refused_naming_the_settings(
    running_app: RunningApp,
) -> None:
    response = await send(running_app, opportunity())

    assert response.status_code == 503
    assert "SALESFORCE_ORGANIZATION_ID" in response.json()["error"]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"salesforce_webhook_token": SecretStr("short-token")}, "SALESFORCE_WEBHOOK_TOKEN"),
        ({"salesforce_webhook_token": SecretStr("replace-me-with-a-long-random-token-please")}, "placeholder"),
        ({"salesforce_organization_id": None}, "SALESFORCE_ORGANIZATION_ID is not set"),
        ({"salesforce_webhook_token": None}, "SALESFORCE_WEBHOOK_TOKEN is not set"),
    ],
)
def test_a_guessable_token_or_half_a_configuration_stops_start_up_with_one_line(
    settings: Settings, changes: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app(salesforce_settings(settings).model_copy(update=changes))

    assert named in str(refused.value) and "\n" not in str(refused.value)


def test_an_org_id_that_is_not_one_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="SALESFORCE_ORGANIZATION_ID='00Dxx0000001gERZZZ' is not an org id"):
        Settings(_env_file=None, salesforce_organization_id="00Dxx0000001gERZZZ")


# ---------------------------------------------------------------------------------------------- hostile bodies


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


def with_doctype(doctype: str, entity: str) -> str:
    """The real message with a DTD in front and an entity reference where the opportunity's name goes."""
    body = opportunity(Name=entity)
    return body.replace('<?xml version="1.0" encoding="UTF-8"?>\n', doctype)


async def test_a_billion_laughs_is_refused_without_being_expanded(salesforce_app: RunningApp) -> None:
    response = await send(salesforce_app, with_doctype(BILLION_LAUGHS, "&lol9;"))

    assert response.status_code == 400
    assert "DTD" in response.json()["error"]
    assert "lollol" not in response.text
    assert await nothing_stored(salesforce_app.context)


async def test_an_external_entity_is_refused_and_nothing_is_fetched(salesforce_app: RunningApp) -> None:
    fetched: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fetched.append(await reader.read(1024))
        writer.close()

    server = await asyncio.start_server(record, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    doctype = (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [\n <!ENTITY remote SYSTEM "http://127.0.0.1:{port}/x">\n'
        ' <!ENTITY local SYSTEM "file:///etc/passwd">\n]>\n'
    )
    try:
        remote = await send(salesforce_app, with_doctype(doctype, "&remote;"))
        local = await send(salesforce_app, with_doctype(doctype, "&local;"))
        await asyncio.sleep(0.1)
    finally:
        server.close()
        await server.wait_closed()

    assert (remote.status_code, local.status_code) == (400, 400)
    assert fetched == []
    assert "root:" not in local.text
    assert await nothing_stored(salesforce_app.context)


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<notifications><Notification/>",
        b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>',
        b"\xff\xfe<\x00",
    ],
)
async def test_malformed_xml_is_refused_with_a_reason(salesforce_app: RunningApp, body: bytes) -> None:
    response = await send(salesforce_app, body)

    assert response.status_code == 400
    assert response.json()["error"]
    assert await nothing_stored(salesforce_app.context)


async def test_a_notification_without_the_dates_whoelse_needs_is_refused_naming_them(
    salesforce_app: RunningApp,
) -> None:
    body = re.sub(r"<sf:CreatedDate>[^<]*</sf:CreatedDate>", "", opportunity())

    response = await send(salesforce_app, body)

    assert response.status_code == 400
    assert "CreatedDate" in response.json()["error"]


async def test_an_oversized_message_is_refused_before_it_is_read(settings: Settings) -> None:
    limited = salesforce_settings(settings).model_copy(update={"salesforce_max_body_bytes": 4096})
    async with serving(create_app(limited, delivery_policy=unpaced())) as app:
        await given_workspace(app.context, watching={DEALS: "deals"})

        response = await send(app, batch(10))

        assert response.status_code == 413
        assert await nothing_stored(app.context)
