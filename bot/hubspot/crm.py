"""Reads deals, tickets, owners and pipeline stages from HubSpot's CRM API (v3), one private app token at a time.

No retry in here: a refusal to retry (429, 5xx, a timeout) is raised as `HubSpotUnavailable` with how long to wait,
and whoever asked decides when to ask again, so no caller sits in a sleep.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from bot.bounded import keep_newest
from bot.single_flight import SingleFlight
from habits.events import EventKind
from habits.vendor_events.hubspot import HubSpotRecord, Stage

logger = logging.getLogger(__name__)

# A request to HubSpot that takes longer is given up on and tried again later: the events behind it wait meanwhile.
REQUEST_TIMEOUT_SECONDS = 5.0
# How long pipeline stages are reused before they are read again (a stage renamed in HubSpot shows within this).
STAGES_FRESH_SECONDS = 600.0
# A stage not among those read is looked for again, but not more often than this.
STAGES_RECHECK_SECONDS = 30.0
# How far a history entry's time may be from the notification's own for the same change.
HISTORY_CLOCK_SLACK_MS = 1000
OBJECT_PATHS: dict[EventKind, str] = {"deal": "deals", "ticket": "tickets"}
# Where a portal's records open when HubSpot does not say (its US data centre).
DEFAULT_UI_DOMAIN = "app.hubspot.com"
# A portal whose host could not be read is linked to DEFAULT_UI_DOMAIN, and asked about again after this long (or
# after HubSpot's Retry-After): a portal in the EU must not be linked to the wrong region for good.
UI_DOMAIN_RECHECK_SECONDS = 300.0
# Portals whose host is remembered; past this many, the one remembered longest ago is forgotten (and asked again).
UI_DOMAINS_KEPT = 10_000
# A host HubSpot's UI is served from; anything else in the answer is not put into a link people open.
HUBSPOT_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+hubspot\.com")
# HubSpot's object type ids, in the record links people open.
OBJECT_TYPE_IDS: dict[EventKind, str] = {"deal": "0-3", "ticket": "0-5"}
PROPERTIES: dict[EventKind, tuple[str, ...]] = {
    "deal": ("dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "hubspot_owner_id"),
    "ticket": ("subject", "hs_ticket_priority", "hs_pipeline", "hs_pipeline_stage", "hubspot_owner_id"),
}


class HubSpotUnavailable(Exception):
    """HubSpot did not answer now (rate limit, server error, timeout): ask again after `retry_after` seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HubSpotRefused(Exception):
    """HubSpot answered, and will answer the same again (a wrong token, a missing scope, a deleted record)."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Stages:
    by_id: dict[str, Stage]
    read_at: float


@dataclass(frozen=True)
class _UiDomain:
    host: str
    # None: HubSpot said, and it is kept; otherwise when (monotonic) to ask again.
    ask_again_at: float | None


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


@dataclass
class HubSpotCrm:
    """One HTTP client for every workspace's calls; each call carries the token of the workspace it is for."""

    http: aiohttp.ClientSession
    api_url: str = "https://api.hubapi.com"
    monotonic: Callable[[], float] = field(default=time.monotonic)
    _stages: dict[tuple[str, EventKind], _Stages] = field(default_factory=dict)
    _reading_stages: dict[tuple[str, EventKind], asyncio.Lock] = field(default_factory=dict)
    # By (workspace, portal): each workspace's HubSpot is asked which host its records open on once.
    _ui_domains: dict[tuple[str, str], _UiDomain] = field(default_factory=dict)
    _reading_ui_domains: SingleFlight[tuple[str, str], str] = field(
        default_factory=lambda: SingleFlight("hubspot-ui-domain")
    )

    async def _get(self, token: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with self.http.get(
                f"{self.api_url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
            ) as response:
                if response.status == 429 or response.status >= 500:
                    raise HubSpotUnavailable(
                        f"HubSpot answered {response.status} to GET {path}", retry_after=_retry_after(response)
                    )
                if response.status in (401, 403):
                    raise HubSpotRefused(
                        f"HubSpot refused the private app token ({response.status} to GET {path}): check "
                        "HUBSPOT_PRIVATE_APP_TOKEN, or the token given to /whoelse connect hubspot, and its scopes "
                        '(README "HubSpot")',
                        status=response.status,
                    )
                if response.status >= 400:
                    raise HubSpotRefused(
                        f"HubSpot answered {response.status} to GET {path}", status=response.status
                    )
                document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # ValueError: a body that is not JSON, as a proxy's error page would be.
            raise HubSpotUnavailable(f"HubSpot did not answer GET {path}: {error!r}") from error
        if not isinstance(document, dict):
            raise HubSpotUnavailable(f"HubSpot answered GET {path} with something other than a JSON object")
        return document

    async def record(
        self,
        token: str,
        *,
        workspace_id: str,
        kind: EventKind,
        object_id: str,
        portal_id: str | None,
        value_before: tuple[str, int, str] | None = None,
    ) -> HubSpotRecord:
        """The deal or ticket: name, amount, stage, priority, owner (name and email) and the link people open, on the
        host of the portal's own region (`ui_domain`); with `value_before` (property, the change's milliseconds, its
        new value), also the value that property had before that change, from its history (for a record whoelse has
        not seen change before)."""
        params = {"properties": ",".join(PROPERTIES[kind])}
        if value_before is not None:
            params["propertiesWithHistory"] = value_before[0]
        found = await self._get(token, f"/crm/v3/objects/{OBJECT_PATHS[kind]}/{object_id}", params)
        properties = found.get("properties") if isinstance(found.get("properties"), dict) else {}
        assert isinstance(properties, dict)

        def prop(name: str) -> str | None:
            value = properties.get(name)
            return str(value).strip() or None if value is not None else None

        owner_name = owner_email = None
        owner_id = prop("hubspot_owner_id")
        if owner_id and owner_id.isdigit():
            try:
                owner = await self._get(token, f"/crm/v3/owners/{owner_id}")
            except HubSpotRefused:
                owner = {}  # An owner since deactivated: the record is still worth showing, without them.
            owner_name = (
                " ".join(str(owner[part]).strip() for part in ("firstName", "lastName") if owner.get(part)) or None
            )
            owner_email = str(owner["email"]).strip() if owner.get("email") else None
        link = None
        if portal_id:
            # Asked only once the record was read: a HubSpot that is down is waited for, not taken for a US portal.
            host = await self.ui_domain(token, workspace_id=workspace_id, portal_id=portal_id)
            link = f"https://{host}/contacts/{portal_id}/record/{OBJECT_TYPE_IDS[kind]}/{object_id}"
        return HubSpotRecord(
            name=prop("dealname" if kind == "deal" else "subject"),
            amount=prop("amount"),
            currency=prop("deal_currency_code"),
            owner_name=owner_name,
            owner_email=owner_email,
            priority=prop("hs_ticket_priority"),
            stage=prop("dealstage" if kind == "deal" else "hs_pipeline_stage"),
            url=link,
            previous=_value_before(found, *value_before) if value_before is not None else None,
        )

    async def ui_domain(self, token: str, *, workspace_id: str, portal_id: str) -> str:
        """The host the portal's records open on (app-eu1.hubspot.com for a portal hosted in the EU), from HubSpot's
        account details: asked once per workspace and portal, and remembered. When HubSpot does not say, records
        link to DEFAULT_UI_DOMAIN meanwhile (logged), and it is asked again after a while."""
        key = (workspace_id, portal_id)
        known = self._ui_domains.get(key)
        if known is not None and (known.ask_again_at is None or self.monotonic() < known.ask_again_at):
            return known.host
        return await self._reading_ui_domains.run(key, lambda: self._read_ui_domain(token, key))

    async def _read_ui_domain(self, token: str, key: tuple[str, str]) -> str:
        workspace_id, portal_id = key
        host: str | None = None
        problem = ""
        ask_again_after = UI_DOMAIN_RECHECK_SECONDS
        try:
            details = await self._get(token, "/account-info/v3/details")
        except HubSpotUnavailable as unavailable:
            problem = str(unavailable)
            if unavailable.retry_after is not None:
                ask_again_after = min(unavailable.retry_after, UI_DOMAIN_RECHECK_SECONDS)
        except HubSpotRefused as refused:
            problem = str(refused)
        else:
            answered = str(details.get("uiDomain") or "").strip().lower()
            if str(details.get("portalId")) != portal_id:
                problem = f"the token reads HubSpot portal {details.get('portalId')}, not {portal_id}"
            elif not HUBSPOT_HOST.fullmatch(answered):
                problem = f"HubSpot named {answered[:100]!r} as the portal's uiDomain, which is not a HubSpot host"
            else:
                host = answered
        if host is None:
            logger.warning(
                "%s; links to HubSpot portal %s's records point at %s for now, asked again in %.0f s",
                problem,
                portal_id,
                DEFAULT_UI_DOMAIN,
                ask_again_after,
                extra={"workspace": workspace_id},
            )
        remembered = _UiDomain(host or DEFAULT_UI_DOMAIN, None if host else self.monotonic() + ask_again_after)
        keep_newest(self._ui_domains, key, remembered, limit=UI_DOMAINS_KEPT)
        return remembered.host

    async def stages(
        self, token: str, *, workspace_id: str, kind: EventKind, wanted: set[str]
    ) -> dict[str, Stage]:
        """Every pipeline stage of deals or tickets, by id: read once and reused, and read again when it is old or
        lacks a stage in `wanted` (a stage added since)."""
        key = (workspace_id, kind)
        lock = self._reading_stages.setdefault(key, asyncio.Lock())
        async with lock:
            cached, now = self._stages.get(key), self.monotonic()
            if cached is not None:
                fresh = now - cached.read_at < STAGES_FRESH_SECONDS
                complete = wanted <= cached.by_id.keys() or now - cached.read_at < STAGES_RECHECK_SECONDS
                if fresh and complete:
                    return cached.by_id
            document = await self._get(token, f"/crm/v3/pipelines/{OBJECT_PATHS[kind]}")
            by_id: dict[str, Stage] = {}
            for pipeline in document.get("results") or []:
                for stage in (pipeline.get("stages") if isinstance(pipeline, dict) else None) or []:
                    if not isinstance(stage, dict) or not stage.get("id"):
                        continue
                    metadata = stage.get("metadata") if isinstance(stage.get("metadata"), dict) else {}
                    assert isinstance(metadata, dict)
                    by_id[str(stage["id"])] = Stage(
                        label=str(stage.get("label") or stage["id"])[:128],
                        closed=str(metadata.get("isClosed", "")).lower() == "true",
                        probability=_probability(metadata.get("probability")),
                    )
            self._stages[key] = _Stages(by_id, now)
            return by_id


def _value_before(found: dict[str, Any], prop: str, moment_ms: int, new_value: str) -> str | None:
    """The value the property had before the change to `new_value` at `moment_ms`: the newest one in its history
    up to that moment that differs from the new value. The history lists the change itself too, stamped within
    moments of the notification's time, so the new value is passed over rather than trusted to be timed exactly."""
    history = found.get("propertiesWithHistory")
    entries = history.get(prop) if isinstance(history, dict) else None
    dated: list[tuple[datetime, str]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("value") in (None, ""):
            continue
        try:
            at = datetime.fromisoformat(str(entry.get("timestamp")))
        except ValueError:
            continue
        if at.tzinfo is not None and at.timestamp() * 1000 <= moment_ms + HISTORY_CLOCK_SLACK_MS:
            dated.append((at, str(entry["value"])))
    for _at, value in sorted(dated, reverse=True):
        if value != new_value:
            return value
    return None


def _probability(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
