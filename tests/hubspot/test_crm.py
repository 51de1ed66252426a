"""Reading deals, tickets, owners and stages from HubSpot's CRM API, against the fake HubSpot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.hubspot.crm import (
    STAGES_RECHECK_SECONDS,
    UI_DOMAIN_RECHECK_SECONDS,
    HubSpotCrm,
    HubSpotRefused,
    HubSpotUnavailable,
)
from tests.fakes.hubspot_api import FakeHubSpot

TOKEN = "pat-na1-crm-test"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(token=TOKEN) as fake:
        fake.add_owner("77", first_name="Jane", last_name="Doe", email="jane@acme.test")
        fake.add_deal(
            "10", dealname="Acme renewal", amount="12000", dealstage="contractsent", hubspot_owner_id="77"
        )
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def crm(hubspot: FakeHubSpot, clock: Clock) -> AsyncIterator[HubSpotCrm]:
    async with aiohttp.ClientSession() as http:
        yield HubSpotCrm(http, api_url=hubspot.base_url, monotonic=clock)


async def test_a_deal_is_read_with_its_owners_name_and_email_and_a_link_to_it(crm: HubSpotCrm) -> None:
    deal = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert (deal.name, deal.amount, deal.stage, deal.owner_name, deal.owner_email) == (
        "Acme renewal",
        "12000",
        "contractsent",
        "Jane Doe",
        "jane@acme.test",
    )
    assert deal.url == "https://app.hubspot.com/contacts/33/record/0-3/10"


async def test_a_portal_hosted_in_the_eu_is_linked_on_its_own_host_asked_once_for_every_record(
    crm: HubSpotCrm, hubspot: FakeHubSpot
) -> None:
    hubspot.ui_domain = "app-eu1.hubspot.com"
    hubspot.add_ticket("5", subject="Checkout fails")

    deal = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")
    ticket = await crm.record(TOKEN, workspace_id="T1", kind="ticket", object_id="5", portal_id="33")
    again = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert deal.url == again.url == "https://app-eu1.hubspot.com/contacts/33/record/0-3/10"
    assert ticket.url == "https://app-eu1.hubspot.com/contacts/33/record/0-5/5"
    assert hubspot.requests("/account-info") == ["/account-info/v3/details"]


async def test_when_hubspot_will_not_say_where_the_portal_is_its_records_link_to_app_hubspot_com_for_a_while(
    crm: HubSpotCrm, hubspot: FakeHubSpot, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    hubspot.ui_domain = None  # a token without the scope: 403

    refused = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")
    hubspot.ui_domain = "app-eu1.hubspot.com"
    meanwhile = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")
    clock.now += UI_DOMAIN_RECHECK_SECONDS + 1
    later = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert refused.url == meanwhile.url == "https://app.hubspot.com/contacts/33/record/0-3/10"
    assert later.url == "https://app-eu1.hubspot.com/contacts/33/record/0-3/10"
    assert len(hubspot.requests("/account-info")) == 2
    assert any(
        "403" in record.getMessage() and "app.hubspot.com" in record.getMessage() for record in caplog.records
    )


@pytest.mark.parametrize(
    ("portal_id", "ui_domain"),
    [(34, "app-eu1.hubspot.com"), (33, "app-eu1.hubspot.com.example.net"), (33, "")],
    ids=["another portal", "not a HubSpot host", "no host"],
)
async def test_a_host_that_is_not_the_portals_own_hubspot_is_never_linked_to(
    crm: HubSpotCrm, hubspot: FakeHubSpot, portal_id: int, ui_domain: str
) -> None:
    hubspot.portal_id, hubspot.ui_domain = portal_id, ui_domain

    deal = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert deal.url == "https://app.hubspot.com/contacts/33/record/0-3/10"


async def test_each_workspace_asks_its_own_hubspot_where_its_portal_is(
    crm: HubSpotCrm, hubspot: FakeHubSpot
) -> None:
    await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")
    hubspot.ui_domain = "app-eu1.hubspot.com"

    other = await crm.record(TOKEN, workspace_id="T2", kind="deal", object_id="10", portal_id="33")

    assert other.url == "https://app-eu1.hubspot.com/contacts/33/record/0-3/10"
    assert len(hubspot.requests("/account-info")) == 2


async def test_an_owner_who_is_gone_leaves_the_deal_readable(crm: HubSpotCrm, hubspot: FakeHubSpot) -> None:
    hubspot.add_deal("11", dealname="Globex pilot", hubspot_owner_id="404")

    deal = await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="11", portal_id="33")

    assert (deal.name, deal.owner_name, deal.owner_email) == ("Globex pilot", None, None)


async def test_stages_are_read_once_and_again_when_one_appears_that_was_not_there(
    crm: HubSpotCrm, hubspot: FakeHubSpot, clock: Clock
) -> None:
    first = await crm.stages(TOKEN, workspace_id="T1", kind="deal", wanted={"contractsent"})
    again = await crm.stages(TOKEN, workspace_id="T1", kind="deal", wanted={"closedwon"})
    hubspot.add_stage("deals", "renewal-signed", "Renewal signed", isClosed="true", probability="1.0")
    too_soon = await crm.stages(TOKEN, workspace_id="T1", kind="deal", wanted={"renewal-signed"})
    clock.now += STAGES_RECHECK_SECONDS + 1
    later = await crm.stages(TOKEN, workspace_id="T1", kind="deal", wanted={"renewal-signed"})

    assert first["closedwon"].closed and first["closedwon"].probability == 1.0
    assert again is first and "renewal-signed" not in too_soon
    assert later["renewal-signed"].label == "Renewal signed"
    assert len(hubspot.requests("/crm/v3/pipelines/deals")) == 2


async def test_a_rate_limit_or_an_outage_says_to_ask_again_and_when(crm: HubSpotCrm, hubspot: FakeHubSpot) -> None:
    hubspot.fail_next(1, status=429, retry_after=7)
    hubspot.fail_next(1, status=502)

    with pytest.raises(HubSpotUnavailable) as limited:
        await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")
    with pytest.raises(HubSpotUnavailable) as down:
        await crm.record(TOKEN, workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert (limited.value.retry_after, down.value.retry_after) == (7, None)


async def test_a_wrong_token_is_refused_for_good_naming_the_variable(crm: HubSpotCrm) -> None:
    with pytest.raises(HubSpotRefused, match="HUBSPOT_PRIVATE_APP_TOKEN") as refused:
        await crm.record("pat-na1-wrong", workspace_id="T1", kind="deal", object_id="10", portal_id="33")

    assert refused.value.status == 401


async def test_a_hubspot_that_does_not_answer_is_asked_again_later(clock: Clock) -> None:
    async with aiohttp.ClientSession() as http:
        crm = HubSpotCrm(http, api_url="http://127.0.0.1:9", monotonic=clock)

        with pytest.raises(HubSpotUnavailable):
            await crm.record(TOKEN, workspace_id="T1", kind="ticket", object_id="5", portal_id=None)


async def test_the_value_before_a_change_comes_from_the_propertys_history(
    crm: HubSpotCrm, hubspot: FakeHubSpot
) -> None:
    hubspot.add_ticket("5", subject="Checkout fails", hs_ticket_priority="HIGH")
    # HubSpot stamps the change itself in the history a few milliseconds from the notification's occurredAt.
    hubspot.add_history(
        "tickets",
        "5",
        "hs_ticket_priority",
        ("HIGH", "2026-12-01T09:00:00.000Z"),
        ("LOW", "2026-12-02T10:00:00.000Z"),
        ("HIGH", "2026-12-02T16:20:07.950Z"),
    )
    changed_at = int(datetime(2026, 12, 2, 16, 20, 7, 945_000, tzinfo=UTC).timestamp() * 1000)

    ticket = await crm.record(
        TOKEN,
        workspace_id="T1",
        kind="ticket",
        object_id="5",
        portal_id="33",
        value_before=("hs_ticket_priority", changed_at, "HIGH"),
    )
    without_history = await crm.record(TOKEN, workspace_id="T1", kind="ticket", object_id="5", portal_id="33")

    assert (ticket.priority, ticket.previous, without_history.previous) == ("HIGH", "LOW", None)
