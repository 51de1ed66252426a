"""An in-process fake of the Slack Web API that the real slack_sdk clients can talk plain HTTP to.

It runs an aiohttp server on 127.0.0.1 in a daemon thread with its own event loop, so sync tests, async
tests (whose loop must stay free) and standalone bench scripts can all use it the same way::

    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test-token", base_url=slack.base_url)

Channels need no seeding: any channel id is accepted, and one that was never seeded behaves as an empty
public channel named after its id.  Seed users, channels and user groups for the lookup methods.

Several workspaces: each bot token belongs to one team (`add_workspace`), `auth.test` answers for the token's team,
and every call remembers the token that made it (`tokens_used`).  Slack's install flow: `grant_install` makes a code
that `oauth.v2.access` exchanges for a new workspace token (a rotating one, with a refresh token, if asked), and
`oauth.v2.access` with `grant_type=refresh_token` rotates it.  Expired and revoked tokens are refused.  A channel
seeded for a workspace (`add_channel(team_id=...)`, `add_workspace(channels=...)`) exists only there: a post to it
with another workspace's token is refused `channel_not_found`, as Slack refuses it, and counted
(`foreign_token_posts`).

Rate limits, as Slack documents them for chat.postMessage: about one message per second per channel
(`channel_rate_limit_per_second`) and, above that, a workspace-wide cap of several hundred a minute
(`workspace_posts_per_minute`, a token bucket holding `workspace_burst` posts), both answered 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.loopback import LoopbackFake, LoopbackServer

__all__ = ["BOT_ID", "BOT_USER_ID", "FakeSlack", "RecordedCall"]

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
# Methods Slack authorises with the app-level token (xapp-...), not the bot token.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

JSONDict = dict[str, Any]

# Fields slack_sdk may send as JSON-encoded strings inside a form body; storing them decoded means
# inspection and history look the same whichever encoding the client chose.
_JSON_STRING_FIELDS = frozenset({"blocks", "attachments", "metadata", "view"})


class RecordedCall(NamedTuple):
    """One request as it arrived; a tuple, so ``method, params = call`` works."""

    method: str
    params: JSONDict


class _SlackError(Exception):
    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        # Slack's response_metadata.messages: what exactly was wrong, e.g. which block text was too long.
        self.messages = messages or []


@dataclass(frozen=True)
class _Fault:
    status: int
    error: str
    retry_after: int | None = None
    # Carry the call out, then answer with the error anyway: what Slack does now and then with a 5xx.
    after_processing: bool = False


@dataclass
class _Token:
    team_id: str | None
    enterprise_id: str | None = None
    expires_at: float | None = None
    refresh_token: str | None = None


@dataclass(frozen=True)
class _Grant:
    team_id: str | None
    team_name: str
    installer: str
    rotating: bool
    expires_in: int
    enterprise_id: str | None
    org_wide: bool


@dataclass
class _Channel:
    id: str
    name: str
    members: list[str] = field(default_factory=list)
    im_user: str | None = None
    # The workspace the channel is in; None: whichever workspace posts to it.
    team_id: str | None = None


@dataclass
class _Bucket:
    """A workspace's posting allowance: refilled at the workspace-wide rate, never above the burst."""

    tokens: float
    refilled_at: float


class FakeSlack(LoopbackFake):
    """A fake Slack Web API server with seeding, inspection and fault-injection helpers.

    Every public method is thread-safe: the server thread and the test thread share state under one lock.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0001",
        *,
        app_token: str = "xapp-test-token",
        channel_rate_limit_per_second: float | None = None,
        workspace_posts_per_minute: float | None = None,
        workspace_burst: int | None = None,
        client_id: str = "1111.2222",
        client_secret: str = "fake-client-secret",
    ) -> None:
        if channel_rate_limit_per_second is not None and channel_rate_limit_per_second <= 0:
            raise ValueError("channel_rate_limit_per_second must be positive")
        if workspace_posts_per_minute is not None and workspace_posts_per_minute <= 0:
            raise ValueError("workspace_posts_per_minute must be positive")
        if workspace_burst is not None and workspace_burst < 1:
            raise ValueError("workspace_burst must be at least 1")
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.client_id = client_id
        self.client_secret = client_secret
        self._min_post_interval = (
            None if channel_rate_limit_per_second is None else 1.0 / channel_rate_limit_per_second
        )
        self._workspace_rate = None if workspace_posts_per_minute is None else workspace_posts_per_minute / 60
        # Slack grants "generous burst behaviour"; without a burst given, a minute's worth may come at once.
        self._workspace_burst = float(
            workspace_burst
            if workspace_burst is not None
            else math.ceil(workspace_posts_per_minute)
            if workspace_posts_per_minute is not None
            else 0
        )
        self._lock = threading.Lock()

        self._users: dict[str, JSONDict] = {}
        self._channels: dict[str, _Channel] = {}
        self._usergroups: dict[str, JSONDict] = {}
        self._dm_by_user: dict[str, str] = {}
        self._tokens: dict[str, _Token] = {bot_token: _Token(team_id)}
        self._refresh_tokens: dict[str, str] = {}
        self._grants: dict[str, _Grant] = {}
        self._revoked: list[str] = []
        self._issued = itertools.count(1)
        self._current_token: str | None = None

        self._reset_state()
        self.add_user(BOT_USER_ID, name="whoelse", is_bot=True)

        # A deep backlog because benchmarks open many connections at once.
        self._server = LoopbackServer("fake-slack", self._build_app, backlog=1024)

        self._methods: dict[str, Callable[[JSONDict], JSONDict]] = {
            "auth.test": self._auth_test,
            "auth.revoke": self._auth_revoke,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    def _reset_state(self) -> None:
        self._calls: list[RecordedCall] = []
        self._call_tokens: list[str | None] = []
        self._messages: list[JSONDict] = []
        self._messages_by_channel: dict[str, list[JSONDict]] = {}
        self._message_index: dict[tuple[str, str], JSONDict] = {}
        self._updates: list[JSONDict] = []
        self._ephemerals: list[JSONDict] = []
        self._views: dict[str, JSONDict] = {}
        self._home_view_by_user: dict[str, str] = {}
        self._views_opened: list[JSONDict] = []
        self._views_updated: list[JSONDict] = []
        self._views_published: list[JSONDict] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._down = False
        self._last_post_at: dict[str, float] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._rate_limited: Counter[str] = Counter()
        self._foreign_posts: list[JSONDict] = []
        self._last_ts_micros = 0
        self._view_counter = 0

    @property
    def base_url(self) -> str:
        try:
            port = self._server.port
        except RuntimeError:
            raise RuntimeError("FakeSlack has not been started") from None
        return f"http://127.0.0.1:{port}/api/"

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        return app

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        user_id: str,
        *,
        tz: str = "UTC",
        is_admin: bool = False,
        title: str = "",
        name: str | None = None,
        is_bot: bool = False,
        email: str | None = None,
        deleted: bool = False,
    ) -> None:
        zone = ZoneInfo(tz)
        now = datetime.now(UTC).astimezone(zone)
        offset = now.utcoffset()
        handle = name if name is not None else user_id.lower()
        real_name = handle.replace(".", " ").replace("_", " ").title()
        user: JSONDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle,
            "real_name": real_name,
            "deleted": deleted,
            "tz": tz,
            "tz_label": now.tzname() or tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {
                "title": title,
                "display_name": handle,
                "real_name": real_name,
                "team": self.team_id,
                # Only with the users:read.email scope, as on Slack.
                **({"email": email} if email is not None else {}),
            },
        }
        with self._lock:
            self._users[user_id] = user

    def add_channel(
        self, channel_id: str, *, name: str | None = None, members: Iterable[str] = (), team_id: str | None = None
    ) -> None:
        """A channel; with `team_id`, one that only that workspace's tokens can post to."""
        with self._lock:
            self._channels[channel_id] = _Channel(
                id=channel_id,
                name=name if name is not None else channel_id.lower(),
                members=list(members),
                team_id=team_id,
            )

    def add_usergroup(
        self, group_id: str, *, handle: str, name: str | None = None, users: Iterable[str] = ()
    ) -> None:
        with self._lock:
            self._usergroups[group_id] = {
                "id": group_id,
                "team_id": self.team_id,
                "handle": handle,
                "name": name if name is not None else handle,
                "is_usergroup": True,
                "users": list(users),
            }

    def add_workspace(self, team_id: str, *, token: str, channels: Iterable[str] = ()) -> None:
        """Another workspace the app is installed in, with its own bot token and, if given, its own channels."""
        with self._lock:
            self._tokens[token] = _Token(team_id)
            for channel_id in channels:
                self._channels[channel_id] = _Channel(id=channel_id, name=channel_id.lower(), team_id=team_id)

    def grant_install(
        self,
        code: str,
        *,
        team_id: str | None,
        team_name: str = "Fake Team",
        installer: str = "UINSTALLER",
        rotating: bool = False,
        expires_in: int = 43200,
        enterprise_id: str | None = None,
        org_wide: bool = False,
    ) -> None:
        """What Slack does when someone approves the install: `code` comes back in the redirect, and
        oauth.v2.access exchanges it (once) for a new bot token for `team_id` (None with `org_wide`)."""
        with self._lock:
            self._grants[code] = _Grant(
                team_id, team_name, installer, rotating, expires_in, enterprise_id, org_wide
            )

    def tokens_of(self, team_id: str) -> list[str]:
        """Every bot token issued for this team, oldest first."""
        with self._lock:
            return [token for token, held in self._tokens.items() if held.team_id == team_id]

    def team_of(self, token: str | None) -> str | None:
        with self._lock:
            held = self._tokens.get(token or "")
            return held.team_id if held is not None else None

    @property
    def revoked(self) -> list[str]:
        with self._lock:
            return list(self._revoked)

    def dm_channel_id(self, user_id: str) -> str:
        """The id conversations.open returns for a DM with this user, so tests can predict it."""
        return f"D{user_id}"

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return [RecordedCall(c.method, copy.deepcopy(c.params)) for c in self._calls]

    def calls_to(self, method: str) -> list[JSONDict]:
        with self._lock:
            return [copy.deepcopy(c.params) for c in self._calls if c.method == method]

    def tokens_used(self, method: str) -> list[str | None]:
        """The token each call to `method` was made with, in order (None for a call with none)."""
        with self._lock:
            return [
                token for call, token in zip(self._calls, self._call_tokens, strict=True) if call.method == method
            ]

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        with self._lock:
            source = self._messages if channel is None else self._messages_by_channel.get(channel, [])
            return copy.deepcopy(source)

    @property
    def updates(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def ephemerals(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    @property
    def views_opened(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._views_opened)

    @property
    def views_updated(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._views_updated)

    @property
    def views_published(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._views_published)

    def home_view(self, user_id: str) -> JSONDict | None:
        """The Home tab this user sees now: the last view published for them, if any."""
        with self._lock:
            published = [p for p in self._views_published if p["user_id"] == user_id]
            return copy.deepcopy(published[-1]["view"]) if published else None

    def posted_keys(self) -> list[tuple[str, str | None, str | None]]:
        """(channel, idempotency key, workspace of the token used) of every stored message, in order: cheaper than
        `messages()` to poll."""
        with self._lock:
            return [(m["channel"], _idempotency_key(m), m["team"]) for m in self._messages]

    def rate_limited(self, method: str = "chat.postMessage") -> int:
        """How many calls to `method` were answered 429."""
        with self._lock:
            return self._rate_limited[method]

    @property
    def foreign_token_posts(self) -> list[JSONDict]:
        """Posts refused because the token belongs to another workspace than the channel: channel and both teams."""
        with self._lock:
            return copy.deepcopy(self._foreign_posts)

    def duplicates_by_metadata_key(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(key for key in (_idempotency_key(m) for m in self._messages) if key is not None)
        return {key: n for key, n in counts.items() if n > 1}

    def reset(self) -> None:
        """Forget calls, messages, views, faults, delays and rate-limit history; keep seeded data."""
        with self._lock:
            self._reset_state()

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, method: str, times: int = 1, *, status: int = 200, error: str = "internal_error") -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend(_Fault(status, error) for _ in range(times))

    def fail_after_storing_next(
        self, method: str, times: int = 1, *, status: int = 500, error: str = "internal_error"
    ) -> None:
        """Carry out the next call(s) (a post is stored and visible in history) but answer with an error, as Slack
        occasionally does: the caller cannot tell this from a call that failed."""
        with self._lock:
            self._faults.setdefault(method, deque()).extend(
                _Fault(status, error, after_processing=True) for _ in range(times)
            )

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend(
                _Fault(429, "ratelimited", retry_after) for _ in range(times)
            )

    def set_delay(self, method: str, seconds: float) -> None:
        """Delay answers to ``method``. The call is processed first, so a client that times out has
        still had its message stored, which is how a real in-doubt post behaves."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def set_down(self, down: bool = True) -> None:
        with self._lock:
            self._down = down

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except ValueError:
            params = None
        delay = 0.0
        headers: dict[str, str]
        with self._lock:
            self._calls.append(RecordedCall(method, copy.deepcopy(params) if params is not None else {}))
            bearer = _bearer_token(request)
            self._call_tokens.append(bearer if bearer is not None else (params or {}).get("token"))
            if self._down:
                status, body, headers = 503, {"ok": False, "error": "service_unavailable"}, {}
            elif params is None:
                status, body, headers = 200, {"ok": False, "error": "invalid_json"}, {}
            else:
                delay = self._delays.get(method, 0.0)
                if method == "oauth.v2.access":
                    status, body, headers = self._oauth_v2_access(params, _basic_auth(request))
                else:
                    status, body, headers = self._dispatch(method, params, bearer)
                if status == 429:
                    self._rate_limited[method] += 1
        if delay:
            await asyncio.sleep(delay)
        return web.json_response(body, status=status, headers=headers)

    def _dispatch(
        self, method: str, params: JSONDict, header_token: str | None
    ) -> tuple[int, JSONDict, dict[str, str]]:
        token = header_token if header_token is not None else params.get("token")
        if method in _APP_TOKEN_METHODS:
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
        else:
            held = self._tokens.get(str(token))
            if held is None:
                return (
                    200,
                    {"ok": False, "error": "token_revoked" if token in self._revoked else "invalid_auth"},
                    {},
                )
            if held.expires_at is not None and held.expires_at <= time.time():
                return 200, {"ok": False, "error": "token_expired"}, {}
        self._current_token = str(token)
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            if fault.after_processing:
                try:
                    handler(params)
                except _SlackError as exc:
                    return exc.status, {"ok": False, "error": exc.error}, exc.headers
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return fault.status, {"ok": False, "error": fault.error}, headers
        try:
            return 200, {"ok": True, **handler(params)}, {}
        except _SlackError as exc:
            body: JSONDict = {"ok": False, "error": exc.error}
            if exc.messages:
                body["response_metadata"] = {"messages": exc.messages}
            return exc.status, body, exc.headers

    # ------------------------------------------------------------------ helpers (lock held)

    def _next_ts(self) -> str:
        # Wall-clock based so that callers searching history with oldest=<some time ago> find the post,
        # and bumped past the previous one so ts stays unique and strictly increasing.
        micros = max(time.time_ns() // 1000, self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, channel_id: str) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = _Channel(id=channel_id, name=channel_id.lower())
            self._channels[channel_id] = channel
        return channel

    def _next_view_id(self) -> str:
        self._view_counter += 1
        return f"V{self._view_counter:08d}"

    def _admit_post(self, channel: str, team_id: str | None) -> None:
        """Counts a post against its channel's and its workspace's limits, or refuses it (429) leaving both as they
        were."""
        now = time.monotonic()
        if self._min_post_interval is not None:
            last = self._last_post_at.get(channel)
            if last is not None and now - last < self._min_post_interval:
                _rate_limited(self._min_post_interval - (now - last))
        bucket: _Bucket | None = None
        if self._workspace_rate is not None:
            bucket = self._buckets.setdefault(team_id or "", _Bucket(self._workspace_burst, now))
            refilled = bucket.tokens + (now - bucket.refilled_at) * self._workspace_rate
            bucket.tokens, bucket.refilled_at = min(self._workspace_burst, refilled), now
            if bucket.tokens < 1:
                _rate_limited((1 - bucket.tokens) / self._workspace_rate)
        if self._min_post_interval is not None:
            self._last_post_at[channel] = now
        if bucket is not None:
            bucket.tokens -= 1

    def _team_of_current_token(self) -> str | None:
        held = self._tokens.get(self._current_token or "")
        return held.team_id if held is not None else None

    def _public_message(self, message: JSONDict, *, include_metadata: bool) -> JSONDict:
        out: JSONDict = {
            "type": "message",
            "user": message["user"],
            "bot_id": BOT_ID,
            "team": self.team_id,
            "text": message["text"],
            "ts": message["ts"],
        }
        if message["blocks"] is not None:
            out["blocks"] = copy.deepcopy(message["blocks"])
        if message["thread_ts"] is not None:
            out["thread_ts"] = message["thread_ts"]
        if include_metadata and message["metadata"] is not None:
            out["metadata"] = copy.deepcopy(message["metadata"])
        return out

    def _view_body(self, view_id: str, view: JSONDict, external_id: str | None) -> JSONDict:
        return {
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.team_id,
            "app_id": "AFAKE",
            "bot_id": BOT_ID,
            "external_id": external_id or "",
            "hash": f"{time.time_ns()}.{view_id}",
            "state": {"values": {}},
        }

    # ------------------------------------------------------------------ Web API methods (lock held)

    def _auth_test(self, params: JSONDict) -> JSONDict:
        held = self._tokens[self._current_token or ""]
        answer: JSONDict = {
            "url": "https://fake-slack.example.com/",
            "team": "Fake Team",
            "team_id": held.team_id,
            "user": "whoelse",
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": held.team_id is None,
        }
        if held.enterprise_id is not None:
            answer["enterprise_id"] = held.enterprise_id
        return answer

    def _auth_revoke(self, params: JSONDict) -> JSONDict:
        token = self._current_token or ""
        self._tokens.pop(token, None)
        self._revoked.append(token)
        return {"revoked": True}

    def _oauth_v2_access(
        self, params: JSONDict, basic: tuple[str, str] | None
    ) -> tuple[int, JSONDict, dict[str, str]]:
        """Slack's token exchange: an install's code for a bot token, or a refresh token for the next one."""
        client_id, client_secret = basic or (params.get("client_id"), params.get("client_secret"))
        if client_id != self.client_id or client_secret != self.client_secret:
            return (
                200,
                {
                    "ok": False,
                    "error": "invalid_client_id" if client_id != self.client_id else "bad_client_secret",
                },
                {},
            )
        if params.get("grant_type") == "refresh_token":
            old_refresh = str(params.get("refresh_token") or "")
            old_token = self._refresh_tokens.pop(old_refresh, None)
            if old_token is None:
                return 200, {"ok": False, "error": "invalid_refresh_token"}, {}
            held = self._tokens[old_token]
            token, refresh = self._issue(held.team_id, held.enterprise_id, rotating=True, expires_in=43200)
            return (
                200,
                {
                    "ok": True,
                    "access_token": token,
                    "token_type": "bot",
                    "refresh_token": refresh,
                    "expires_in": 43200,
                    "team": {"id": held.team_id},
                    "enterprise": {"id": held.enterprise_id} if held.enterprise_id else None,
                    "is_enterprise_install": held.team_id is None,
                },
                {},
            )
        grant = self._grants.pop(str(params.get("code") or ""), None)
        if grant is None:
            return 200, {"ok": False, "error": "invalid_code"}, {}
        token, refresh = self._issue(
            None if grant.org_wide else grant.team_id,
            grant.enterprise_id,
            rotating=grant.rotating,
            expires_in=grant.expires_in,
        )
        body: JSONDict = {
            "ok": True,
            "app_id": "AWHOELSE",
            "authed_user": {"id": grant.installer},
            "scope": "commands,chat:write",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": BOT_USER_ID,
            "team": None if grant.org_wide else {"id": grant.team_id, "name": grant.team_name},
            "enterprise": {"id": grant.enterprise_id, "name": "Fake Grid"} if grant.enterprise_id else None,
            "is_enterprise_install": grant.org_wide,
        }
        if refresh is not None:
            body["refresh_token"] = refresh
            body["expires_in"] = grant.expires_in
        return 200, body, {}

    def _issue(
        self, team_id: str | None, enterprise_id: str | None, *, rotating: bool, expires_in: int
    ) -> tuple[str, str | None]:
        number = next(self._issued)
        prefix = "xoxe.xoxb-1" if rotating else "xoxb"
        token = f"{prefix}-{team_id or enterprise_id}-{number}"
        refresh = f"xoxe-1-{team_id or enterprise_id}-{number}" if rotating else None
        self._tokens[token] = _Token(
            team_id,
            enterprise_id,
            expires_at=time.time() + expires_in if rotating else None,
            refresh_token=refresh,
        )
        if refresh is not None:
            self._refresh_tokens[refresh] = token
        return token, refresh

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        # A WebSocket URL this fake does not serve: Socket Mode clients get as far as connecting, then fail.
        return {"url": f"ws://127.0.0.1:{self._server.port}/socket-mode"}

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        text = params.get("text")
        blocks = params.get("blocks")
        if not text and not blocks and not params.get("attachments"):
            raise _SlackError("no_text")
        _check_blocks(blocks)
        team = self._team_of_current_token()
        seeded = self._channels.get(channel)
        if seeded is not None and seeded.team_id is not None and seeded.team_id != team:
            # Slack does not tell another workspace's app that the channel exists.
            self._foreign_posts.append({"channel": channel, "channel_team": seeded.team_id, "token_team": team})
            raise _SlackError("channel_not_found")
        self._admit_post(channel, team)
        ts = self._next_ts()
        message: JSONDict = {
            "channel": channel,
            "team": team,
            "ts": ts,
            "text": text or "",
            "blocks": blocks,
            "thread_ts": params.get("thread_ts") or None,
            "metadata": params.get("metadata"),
            "user": BOT_USER_ID,
            "reply_broadcast": _truthy(params.get("reply_broadcast")),
        }
        self._channel(channel)
        self._messages.append(message)
        self._messages_by_channel.setdefault(channel, []).append(message)
        self._message_index[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": self._public_message(message, include_metadata=True)}

    def _chat_update(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        message = self._message_index.get((channel, ts))
        if message is None:
            raise _SlackError("message_not_found")
        _check_blocks(params.get("blocks"))
        self._updates.append(
            {
                "channel": channel,
                "ts": ts,
                "text": params.get("text"),
                "blocks": params.get("blocks"),
                "metadata": params.get("metadata"),
            }
        )
        for key in ("text", "blocks", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": self._public_message(message, include_metadata=True),
        }

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        user = _required(params, "user", "user_not_found")
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            raise _SlackError("no_text")
        _check_blocks(params.get("blocks"))
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": params.get("text") or "",
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts") or None,
                "message_ts": message_ts,
            }
        )
        return {"message_ts": message_ts}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "message_ts", "message_not_found")
        url = f"https://fake-slack.example.com/archives/{channel}/p{ts.replace('.', '')}"
        message = self._message_index.get((channel, ts))
        if message is not None and message["thread_ts"] and message["thread_ts"] != ts:
            url += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": url}

    def _conversations_history(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        include_metadata = _truthy(params.get("include_all_metadata"))
        inclusive = _truthy(params.get("inclusive"))
        oldest = _parse_ts(params.get("oldest"), "invalid_ts_oldest")
        latest = _parse_ts(params.get("latest"), "invalid_ts_latest")
        limit = _parse_limit(params.get("limit"), default=100)
        offset = _parse_cursor(params.get("cursor"))
        thread_parents: Counter[str] = Counter()
        visible: list[JSONDict] = []
        for message in self._messages_by_channel.get(channel, []):
            thread_ts = message["thread_ts"]
            # Like Slack, history shows thread parents and broadcasts but not plain thread replies.
            if thread_ts is not None and thread_ts != message["ts"]:
                thread_parents[thread_ts] += 1
                if not message["reply_broadcast"]:
                    continue
            if not _in_range(Decimal(message["ts"]), oldest, latest, inclusive):
                continue
            visible.append(message)
        visible.reverse()
        page = visible[offset : offset + limit]
        rendered = []
        for message in page:
            out = self._public_message(message, include_metadata=include_metadata)
            replies = thread_parents.get(message["ts"])
            if replies:
                out["thread_ts"] = message["ts"]
                out["reply_count"] = replies
            rendered.append(out)
        has_more = offset + limit < len(visible)
        return {
            "messages": rendered,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _conversations_replies(self, params: JSONDict) -> JSONDict:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "thread_not_found")
        include_metadata = _truthy(params.get("include_all_metadata"))
        limit = _parse_limit(params.get("limit"), default=1000)
        offset = _parse_cursor(params.get("cursor"))
        parent = self._message_index.get((channel, ts))
        if parent is None:
            raise _SlackError("thread_not_found")
        root = parent["thread_ts"] or parent["ts"]
        thread = [
            m for m in self._messages_by_channel.get(channel, []) if m["ts"] == root or m["thread_ts"] == root
        ]
        page = thread[offset : offset + limit]
        has_more = offset + limit < len(thread)
        return {
            "messages": [self._public_message(m, include_metadata=include_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _channel_info(self, channel: _Channel) -> JSONDict:
        is_im = channel.im_user is not None
        info: JSONDict = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not is_im,
            "is_group": False,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": is_im,
            "is_archived": False,
            "is_general": False,
            "is_member": is_im or BOT_USER_ID in channel.members,
            "context_team_id": self.team_id,
            "num_members": len(channel.members),
        }
        if is_im:
            info["user"] = channel.im_user
        return info

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        channel_id = _required(params, "channel", "channel_not_found")
        return {"channel": self._channel_info(self._channel(channel_id))}

    def _conversations_members(self, params: JSONDict) -> JSONDict:
        channel_id = _required(params, "channel", "channel_not_found")
        limit = _parse_limit(params.get("limit"), default=100)
        offset = _parse_cursor(params.get("cursor"))
        members = self._channel(channel_id).members
        has_more = offset + limit < len(members)
        return {
            "members": list(members[offset : offset + limit]),
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _conversations_open(self, params: JSONDict) -> JSONDict:
        if params.get("channel"):
            channel_id = str(params["channel"])
            return {"channel": self._channel_info(self._channel(channel_id))}
        raw_users = params.get("users")
        users = raw_users if isinstance(raw_users, list) else str(raw_users or "").split(",")
        users = [u.strip() for u in users if u and u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise _SlackError("not_supported")
        user = users[0]
        already_open = user in self._dm_by_user
        if not already_open:
            new_id = self.dm_channel_id(user)
            self._dm_by_user[user] = new_id
            self._channels[new_id] = _Channel(
                id=new_id, name=new_id.lower(), members=[user, BOT_USER_ID], im_user=user
            )
        channel_id = self._dm_by_user[user]
        body: JSONDict = {"channel": self._channel_info(self._channels[channel_id])}
        if already_open:
            body["already_open"] = True
        return body

    def _conversations_join(self, params: JSONDict) -> JSONDict:
        channel = self._channel(_required(params, "channel", "channel_not_found"))
        if BOT_USER_ID not in channel.members:
            channel.members.append(BOT_USER_ID)
        return {"channel": self._channel_info(channel)}

    def _users_info(self, params: JSONDict) -> JSONDict:
        user = self._users.get(_required(params, "user", "user_not_found"))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _users_lookup_by_email(self, params: JSONDict) -> JSONDict:
        """Slack matches the address whatever its case; deactivated accounts are found too, marked deleted."""
        email = _required(params, "email", "invalid_email").strip().lower()
        for user in self._users.values():
            if str(user["profile"].get("email", "")).lower() == email:
                return {"user": copy.deepcopy(user)}
        raise _SlackError("users_not_found")

    def _usergroups_list(self, params: JSONDict) -> JSONDict:
        include_users = _truthy(params.get("include_users"))
        groups = []
        for group in self._usergroups.values():
            out = {k: v for k, v in group.items() if k != "users"}
            out["user_count"] = len(group["users"])
            if include_users:
                out["users"] = list(group["users"])
            groups.append(out)
        return {"usergroups": groups}

    def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        group = self._usergroups.get(_required(params, "usergroup", "no_such_subteam"))
        if group is None:
            raise _SlackError("no_such_subteam")
        return {"users": list(group["users"])}

    def _views_open(self, params: JSONDict) -> JSONDict:
        trigger_id = _required(params, "trigger_id", "invalid_arguments")
        view = params.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        _check_view(view)
        view_id = self._next_view_id()
        body = self._view_body(view_id, view, view.get("external_id"))
        self._views[view_id] = body
        self._views_opened.append({"view_id": view_id, "trigger_id": trigger_id, "view": copy.deepcopy(view)})
        return {"view": copy.deepcopy(body)}

    def _views_update(self, params: JSONDict) -> JSONDict:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        _check_view(view)
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            view_id = next((v["id"] for v in self._views.values() if v["external_id"] == external_id), None)
        if not view_id and not external_id:
            raise _SlackError("invalid_arguments")
        if view_id not in self._views:
            raise _SlackError("not_found")
        body = self._view_body(view_id, view, external_id or self._views[view_id]["external_id"])
        self._views[view_id] = body
        self._views_updated.append({"view_id": view_id, "view": copy.deepcopy(view)})
        return {"view": copy.deepcopy(body)}

    def _views_publish(self, params: JSONDict) -> JSONDict:
        user_id = _required(params, "user_id", "invalid_arguments")
        view = params.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        _check_view(view)
        # A user's Home tab keeps one view id across publishes, as on Slack.
        view_id = self._home_view_by_user.get(user_id)
        if view_id is None:
            view_id = self._next_view_id()
            self._home_view_by_user[user_id] = view_id
        body = self._view_body(view_id, view, view.get("external_id"))
        self._views[view_id] = body
        self._views_published.append({"view_id": view_id, "user_id": user_id, "view": copy.deepcopy(view)})
        return {"view": copy.deepcopy(body)}


# ---------------------------------------------------------------------- Block Kit limits

# Slack counts characters and refuses the whole message (invalid_blocks) or view (invalid_arguments) when one text
# is over its limit (https://api.slack.com/reference/block-kit), naming where in response_metadata.messages.
_ELEMENT_LIMITS = {"text": 75, "placeholder": 150}
_OPTION_LIMIT = 75
_BLOCK_LIMITS = {"section": 3000, "header": 150, "context": 3000}
_FIELD_LIMIT = 2000
_LABEL_LIMIT = 2000
_VIEW_LIMITS = {"title": 24, "submit": 24, "close": 24}
_PRIVATE_METADATA_LIMIT = 3000
_BUTTON_VALUE_LIMIT = 2000


def _text_of(text_object: Any) -> str:
    return str(text_object.get("text") or "") if isinstance(text_object, dict) else ""


def _element_texts(element: JSONDict, at: str) -> Iterable[tuple[str, str, int]]:
    for key, limit in _ELEMENT_LIMITS.items():
        if key in element:
            yield f"{at}/{key}/text", _text_of(element[key]), limit
    if element.get("type") == "button" and "value" in element:
        yield f"{at}/value", str(element["value"]), _BUTTON_VALUE_LIMIT
    for key in ("options", "initial_options"):
        for index, option in enumerate(element.get(key) or []):
            yield f"{at}/{key}/{index}/text/text", _text_of(option.get("text")), _OPTION_LIMIT
    if isinstance(element.get("initial_option"), dict):
        yield f"{at}/initial_option/text/text", _text_of(element["initial_option"].get("text")), _OPTION_LIMIT


def _block_texts(block: JSONDict, at: str) -> Iterable[tuple[str, str, int]]:
    kind = block.get("type")
    if kind in ("section", "header") and "text" in block:
        yield f"{at}/text/text", _text_of(block["text"]), _BLOCK_LIMITS[str(kind)]
    for index, field_object in enumerate(block.get("fields") or []):
        yield f"{at}/fields/{index}/text", _text_of(field_object), _FIELD_LIMIT
    if kind == "context":
        for index, element in enumerate(block.get("elements") or []):
            if element.get("type") in ("mrkdwn", "plain_text"):
                yield f"{at}/elements/{index}/text", _text_of(element), _BLOCK_LIMITS["context"]
    if kind == "actions":
        for index, element in enumerate(block.get("elements") or []):
            yield from _element_texts(element, f"{at}/elements/{index}")
    if isinstance(block.get("accessory"), dict):
        yield from _element_texts(block["accessory"], f"{at}/accessory")
    if kind == "input":
        yield f"{at}/label/text", _text_of(block.get("label")), _LABEL_LIMIT
        if "hint" in block:
            yield f"{at}/hint/text", _text_of(block["hint"]), _LABEL_LIMIT
        if isinstance(block.get("element"), dict):
            yield from _element_texts(block["element"], f"{at}/element")


def _over_limits(texts: Iterable[tuple[str, str, int]]) -> list[str]:
    return [
        f"[ERROR] must be less than {limit + 1} characters [json-pointer:{at}]"
        for at, text, limit in texts
        if len(text) > limit
    ]


def _blocks_over_limits(blocks: Any, at: str) -> list[str]:
    if not isinstance(blocks, list):
        return []
    return _over_limits(
        text
        for index, block in enumerate(blocks)
        if isinstance(block, dict)
        for text in _block_texts(block, f"{at}/{index}")
    )


def _check_blocks(blocks: Any) -> None:
    problems = _blocks_over_limits(blocks, "/blocks")
    if problems:
        raise _SlackError("invalid_blocks", messages=problems)


def _check_view(view: JSONDict) -> None:
    texts = [
        (f"/view/{key}/text", _text_of(view[key]), limit) for key, limit in _VIEW_LIMITS.items() if key in view
    ]
    texts.append(("/view/private_metadata", str(view.get("private_metadata") or ""), _PRIVATE_METADATA_LIMIT))
    problems = _over_limits(texts) + _blocks_over_limits(view.get("blocks"), "/view/blocks")
    if problems:
        raise _SlackError("invalid_arguments", messages=problems)


# ---------------------------------------------------------------------- module helpers


async def _read_params(request: web.Request) -> JSONDict:
    """Merge query string and body, whatever encoding slack_sdk chose for this method.

    Raises ValueError for a body that claims to be JSON but is not a JSON object.
    """
    params: JSONDict = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in _JSON_STRING_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # A malformed value is left as the string the client sent, as Slack would reject it anyway.
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(value)
    return params


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _basic_auth(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    return user, password


def _required(params: JSONDict, key: str, error: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise _SlackError(error)
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _parse_ts(value: Any, error: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _SlackError(error) from None


def _parse_limit(value: Any, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _SlackError("invalid_limit") from None
    return limit if limit > 0 else default


def _parse_cursor(value: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise _SlackError("invalid_cursor") from None


def _in_range(ts: Decimal, oldest: Decimal | None, latest: Decimal | None, inclusive: bool) -> bool:
    if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
        return False
    return not (latest is not None and (ts > latest or (ts == latest and not inclusive)))


def _rate_limited(wait_seconds: float) -> None:
    raise _SlackError("ratelimited", status=429, headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))})


def _idempotency_key(message: JSONDict) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    key = payload.get("idempotency_key")
    return str(key) if key is not None else None
