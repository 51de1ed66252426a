"""A fake Bot Connector service (and Entra ID token endpoint) that whoelse's Teams gateway talks plain HTTP to.

Activities' `serviceUrl` points here (`connector.service_url`), with a region path like the real one's, so a test
also proves replies keep the service URL exactly. Everything the bot sends is recorded; faults can be queued.

Like Teams, it can throttle (off unless asked): Microsoft documents 7 sends per second per bot per conversation
and 50 requests per second per app per tenant, answering 429 with Retry-After beyond them. This fake cannot tell
tenants apart, so its bot-wide limit covers every request it serves.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.loopback import LoopbackFake, LoopbackServer

BOT_TOKEN = "fake-bot-framework-token"
REGION_PATH = "/amer"


class SentActivity(NamedTuple):
    method: str
    # The conversation as addressed (a channel thread reads "<channel>;messageid=<root>").
    conversation_id: str
    activity_id: str | None
    activity: dict[str, Any]


@dataclass
class _Fault:
    status: int
    retry_after: int | None = None


class _Window:
    """At most `limit` requests in any one-second window; says how long until the next one would be let through."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self._times and self._times[0] <= now - 1.0:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return self._times[0] + 1.0 - now
        self._times.append(now)
        return 0.0


class FakeBotConnector(LoopbackFake):
    def __init__(
        self,
        *,
        app_id: str = "00000000-0000-0000-0000-000000000b07",
        app_password: str = "fake-app-password",
        conversation_limit_per_second: float | None = None,
        bot_limit_per_second: float | None = None,
        tokens_required: bool = True,
    ) -> None:
        self.app_id = app_id
        # False: like the Microsoft 365 Agents Playground's connector, which takes replies carrying no token.
        self.tokens_required = tokens_required
        self.app_password = app_password
        self.conversation_limit_per_second = conversation_limit_per_second
        # Requests answered 429 because a rate limit was reached (queued faults are not counted).
        self.throttled = 0
        self._bot_window = _Window(bot_limit_per_second) if bot_limit_per_second else None
        self._conversation_windows: dict[str, _Window] = {}
        self.sent: list[SentActivity] = []
        self.created_conversations: list[dict[str, Any]] = []
        self.members: dict[str, dict[str, Any]] = {}
        self.token_requests = 0
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._server = LoopbackServer("fake-bot-connector", self._build_app)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def service_url(self) -> str:
        return self.url + REGION_PATH + "/"

    @property
    def token_url(self) -> str:
        return self.url + "/botframework.com/oauth2/v2.0/token"

    def fail_next(self, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(times))

    def add_member(self, user_id: str, name: str, **extra: Any) -> None:
        with self._lock:
            self.members[user_id] = {"id": user_id, "name": name, **extra}

    def activities(self) -> list[SentActivity]:
        with self._lock:
            return list(self.sent)

    def texts(self) -> list[str]:
        return [str(sent.activity.get("text") or "") for sent in self.activities()]

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/botframework.com/oauth2/v2.0/token", self._token)
        base = REGION_PATH + "/v3/conversations"
        app.router.add_post(base, self._create_conversation)
        app.router.add_post(base + "/{conversation}/activities", self._send)
        app.router.add_post(base + "/{conversation}/activities/{activity}", self._send)
        app.router.add_put(base + "/{conversation}/activities/{activity}", self._send)
        app.router.add_get(base + "/{conversation}/members", self._list_members)
        app.router.add_get(base + "/{conversation}/members/{member}", self._member)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            self.token_requests += 1
        if form.get("client_id") != self.app_id or form.get("client_secret") != self.app_password:
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": BOT_TOKEN})

    def _refusal(self, request: web.Request, *, conversation: str | None = None) -> web.Response | None:
        if self.tokens_required and request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            if fault is None:
                fault = self._throttled(conversation)
        if fault is None:
            return None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return web.json_response({"error": {"code": "Throttled"}}, status=fault.status, headers=headers)

    def _throttled(self, conversation: str | None) -> _Fault | None:
        """A 429 if a rate limit is reached (called under the lock); the request counts against the limits if not."""
        now = time.monotonic()
        wait = self._bot_window.wait(now) if self._bot_window else 0.0
        if not wait and conversation is not None and self.conversation_limit_per_second:
            # A reply in a channel thread counts against its channel.
            base = conversation.split(";messageid=", 1)[0]
            window = self._conversation_windows.setdefault(base, _Window(self.conversation_limit_per_second))
            wait = window.wait(now)
        if not wait:
            return None
        self.throttled += 1
        return _Fault(429, retry_after=max(1, math.ceil(wait)))

    async def _send(self, request: web.Request) -> web.Response:
        conversation = unquote(request.match_info["conversation"])
        refusal = self._refusal(request, conversation=conversation)
        if refusal is not None:
            return refusal
        activity = json.loads(await request.text())
        target = request.match_info.get("activity")
        with self._lock:
            new_id = target if request.method == "PUT" and target else f"activity-{next(self._ids)}"
            self.sent.append(SentActivity(request.method, conversation, target, activity))
        return web.json_response({"id": new_id})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        body = json.loads(await request.text())
        with self._lock:
            self.created_conversations.append(body)
            new_id = f"a:personal-{next(self._ids)}"
        return web.json_response({"id": new_id})

    async def _list_members(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        with self._lock:
            return web.json_response(list(self.members.values()))

    async def _member(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        with self._lock:
            member = self.members.get(unquote(request.match_info["member"]))
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(member)
