"""A fake of HubSpot's CRM API (v3) as whoelse reads it: deals, tickets, owners and pipelines, and the account's
details (its portal id and the host its UI is served from), behind a private app token, with the rate limits and
outages the real one has now and then::

    with FakeHubSpot(token="pat-test", ui_domain="app-eu1.hubspot.com") as hubspot:   # a portal hosted in the EU
        hubspot.add_deal("1246965", dealname="Acme renewal", amount="12000", dealstage="contractsent")
        hubspot.fail_next(2, status=429, retry_after=1)   # the next two requests are refused

Unknown records answer 404, a wrong token 401, as HubSpot does; with `ui_domain=None` the account's details answer
403, as for a token without the scope.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["DEFAULT_DEAL_STAGES", "DEFAULT_TICKET_STAGES", "FakeHubSpot"]

# (id, label, metadata) of HubSpot's default deal pipeline, and of its default ticket pipeline.
DEFAULT_DEAL_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", {"isClosed": "false", "probability": "0.2"}),
    ("qualifiedtobuy", "Qualified To Buy", {"isClosed": "false", "probability": "0.4"}),
    ("contractsent", "Contract Sent", {"isClosed": "false", "probability": "0.9"}),
    ("closedwon", "Closed Won", {"isClosed": "true", "probability": "1.0"}),
    ("closedlost", "Closed Lost", {"isClosed": "true", "probability": "0.0"}),
]
DEFAULT_TICKET_STAGES = [
    ("1", "New", {"ticketState": "OPEN", "isClosed": "false"}),
    ("2", "Waiting on contact", {"ticketState": "OPEN", "isClosed": "false"}),
    ("3", "Waiting on us", {"ticketState": "OPEN", "isClosed": "false"}),
    ("4", "Closed", {"ticketState": "CLOSED", "isClosed": "true"}),
]


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None


class FakeHubSpot(LoopbackFake):
    """Thread-safe: the server thread and the test thread share the records under one lock."""

    def __init__(
        self,
        *,
        token: str,
        invent_deals: bool = False,
        portal_id: int = 33,
        ui_domain: str | None = "app.hubspot.com",
    ) -> None:
        self.token = token
        self.portal_id = portal_id
        self.ui_domain = ui_domain
        # Benchmarks send deals by the thousand: with this, any deal id is a deal named after it.
        self._invent_deals = invent_deals
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, dict[str, Any]]] = {"deals": {}, "tickets": {}}
        self._owners: dict[str, dict[str, Any]] = {}
        self._pipelines: dict[str, list[tuple[str, str, dict[str, str]]]] = {
            "deals": list(DEFAULT_DEAL_STAGES),
            "tickets": list(DEFAULT_TICKET_STAGES),
        }
        self._history: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        self._faults: deque[_Fault] = deque()
        self._requests: list[str] = []
        self._tokens: list[str] = []
        self._server = LoopbackServer("fake-hubspot", self._build_app)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    # ------------------------------------------------------------------ what HubSpot holds

    def add_deal(self, deal_id: str, **properties: str) -> None:
        with self._lock:
            self._objects["deals"][deal_id] = dict(properties)

    def add_ticket(self, ticket_id: str, **properties: str) -> None:
        with self._lock:
            self._objects["tickets"][ticket_id] = dict(properties)

    def add_history(self, object_type: str, object_id: str, prop: str, *values: tuple[str, str]) -> None:
        """The property's past values, as (value, ISO timestamp), oldest first (HubSpot answers newest first)."""
        with self._lock:
            self._history[(object_type, object_id, prop)] = list(values)

    def add_owner(self, owner_id: str, *, first_name: str, last_name: str, email: str) -> None:
        with self._lock:
            self._owners[owner_id] = {
                "id": owner_id,
                "firstName": first_name,
                "lastName": last_name,
                "email": email,
                "userId": int(owner_id) + 1000,
                "archived": False,
            }

    def add_stage(self, object_type: str, stage_id: str, label: str, **metadata: str) -> None:
        """Adds a stage (`object_type` "deals" or "tickets") to the pipelines HubSpot lists."""
        with self._lock:
            self._pipelines[object_type].append((stage_id, label, dict(metadata)))

    def fail_next(self, times: int, *, status: int, retry_after: int | None = None) -> None:
        """The next `times` requests are answered `status` (429 with Retry-After, a 5xx), whatever they ask."""
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(times))

    def requests(self, prefix: str = "") -> list[str]:
        """The paths requested so far (those starting with `prefix`), refused ones included."""
        with self._lock:
            return [path for path in self._requests if path.startswith(prefix)]

    def tokens_used(self) -> list[str]:
        """The bearer token of each request so far, in order (whether HubSpot accepted it or not)."""
        with self._lock:
            return list(self._tokens)

    # ------------------------------------------------------------------ HTTP

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/crm/v3/objects/{object_type}/{object_id}", self._object)
        app.router.add_get("/crm/v3/owners/{owner_id}", self._owner)
        app.router.add_get("/crm/v3/pipelines/{object_type}", self._pipelines_of)
        app.router.add_get("/account-info/v3/details", self._account_details)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self._requests.append(request.path)
            self._tokens.append(request.headers.get("Authorization", "").removeprefix("Bearer "))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response(
                {"status": "error", "message": "fake fault", "category": "RATE_LIMITS"},
                status=fault.status,
                headers=headers,
            )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
                status=401,
            )
        response: web.StreamResponse = await handler(request)
        return response

    async def _object(self, request: web.Request) -> web.Response:
        object_type, object_id = request.match_info["object_type"], request.match_info["object_id"]
        wanted = [name for name in request.query.get("properties", "").split(",") if name]
        with self._lock:
            found = self._objects.get(object_type, {}).get(object_id)
            if found is None and self._invent_deals and object_type == "deals":
                found = {"dealname": f"Deal {object_id}", "amount": "1000", "dealstage": "contractsent"}
            properties = dict(found) if found is not None else None
        if properties is None:
            return web.json_response(
                {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}, status=404
            )
        # HubSpot answers every property asked for, null when the record has no value for it.
        shown = {name: properties.get(name) for name in wanted} | {"hs_object_id": object_id}
        with_history = [name for name in request.query.get("propertiesWithHistory", "").split(",") if name]
        with self._lock:
            history = {
                name: [
                    {"value": value, "timestamp": at, "sourceType": "CRM_UI", "sourceId": "userId:1"}
                    for value, at in reversed(self._history.get((object_type, object_id, name), []))
                ]
                for name in with_history
            }
        extra = {"propertiesWithHistory": history} if with_history else {}
        return web.json_response(
            {
                **extra,
                "id": object_id,
                "properties": shown,
                "createdAt": "2026-12-01T09:00:00.000Z",
                "updatedAt": "2026-12-02T16:20:07.945Z",
                "archived": False,
            }
        )

    async def _owner(self, request: web.Request) -> web.Response:
        with self._lock:
            owner = self._owners.get(request.match_info["owner_id"])
        if owner is None:
            return web.json_response(
                {"status": "error", "message": "owner not found", "category": "OBJECT_NOT_FOUND"}, status=404
            )
        return web.json_response(owner)

    async def _pipelines_of(self, request: web.Request) -> web.Response:
        object_type = request.match_info["object_type"]
        with self._lock:
            stages = list(self._pipelines.get(object_type, []))
        return web.json_response(
            {
                "results": [
                    {
                        "id": "default",
                        "label": "Sales Pipeline" if object_type == "deals" else "Support Pipeline",
                        "displayOrder": 0,
                        "archived": False,
                        "stages": [
                            {
                                "id": stage_id,
                                "label": label,
                                "displayOrder": order,
                                "metadata": metadata,
                                "archived": False,
                            }
                            for order, (stage_id, label, metadata) in enumerate(stages)
                        ],
                    }
                ]
            }
        )

    async def _account_details(self, request: web.Request) -> web.Response:
        if self.ui_domain is None:
            return web.json_response(
                {
                    "status": "error",
                    "message": "This app hasn't been granted all required scopes to make this call.",
                    "category": "MISSING_SCOPES",
                },
                status=403,
            )
        data_centre = self.ui_domain.split(".")[0].removeprefix("app").removeprefix("-") or "na1"
        return web.json_response(
            {
                "portalId": self.portal_id,
                "accountType": "STANDARD",
                "timeZone": "Europe/Berlin",
                "companyCurrency": "EUR",
                "additionalCurrencies": [],
                "utcOffset": "+01:00",
                "utcOffsetMilliseconds": 3600000,
                "uiDomain": self.ui_domain,
                "dataHostingLocation": data_centre,
            }
        )
