"""How fast a workspace's posts may go out after the platform has told it to slow down.

A 429 says a limit was reached, not which one nor how high it is: Slack caps posts per channel and per workspace,
Teams per conversation and per bot. Releasing a workspace's whole queue when its Retry-After has passed only earns
the next round of 429s, so from its first 429 a workspace is paced: a token bucket whose rate starts slow, doubles
for every second of posts that go through (until the next 429 halves it, after which it grows by a tenth, and by
at least one post a second, each second), and which is forgotten once the workspace has not been told to slow down
for a while. A workspace that never saw a 429 is not paced at all.

Time is an input (`now`), so the rule is tested without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PacingPolicy:
    # The rate a workspace's posts go out at once its first Retry-After has passed.
    start_per_second: float = 1.0
    # A later 429 multiplies the rate by this, down to `min_per_second` (several workspaces may share one limit,
    # such as a Teams bot's, so each may have to go slower than the start).
    decrease: float = 0.5
    min_per_second: float = 0.1
    # After a later 429, each post that goes through adds this much to the rate (a tenth more every second), and at
    # least enough for one post a second more each second. Slower growth would find a limit shared by many
    # workspaces with fewer 429s, but take longer to use a freed one.
    recovery: float = 0.1
    # Paced this fast, the workspace is clearly not the one near its limit any more.
    release_per_second: float = 200.0
    # No 429 for this long: the platform's allowance has had time to refill, so the workspace is no longer paced.
    forget_after: timedelta = timedelta(seconds=60)
    # How many seconds' worth of posts may build up while nothing was waiting.
    burst_seconds: float = 1.0


@dataclass
class _Pace:
    per_second: float
    # Below this the rate doubles each second; above it, it grows by a tenth (at least one post a second) a second.
    threshold: float
    held_until: datetime
    limited_at: datetime
    tokens: float
    refilled_at: datetime


@dataclass
class WorkspacePacer:
    policy: PacingPolicy = field(default_factory=PacingPolicy)
    _paces: dict[str, _Pace] = field(default_factory=dict)

    def rate_limited(self, workspace: str, *, retry_after: timedelta, now: datetime) -> None:
        """The platform answered 429 for one of the workspace's posts."""
        until = now + retry_after
        pace = self._current(workspace, now)
        if pace is None:
            self._paces[workspace] = _Pace(
                per_second=self.policy.start_per_second,
                threshold=float("inf"),
                held_until=until,
                limited_at=now,
                tokens=1.0,
                refilled_at=until,
            )
            return
        if now >= pace.held_until:
            # A 429 that answers a post sent while the workspace was already held (sent at once with the one that
            # earned the hold) says nothing new about the rate: only the first after the hold slows it down.
            pace.per_second = max(self.policy.min_per_second, pace.per_second * self.policy.decrease)
            pace.threshold = pace.per_second
        pace.held_until = max(pace.held_until, until)
        pace.limited_at = now
        pace.tokens, pace.refilled_at = 1.0, pace.held_until

    def held_until(self, workspace: str, now: datetime) -> datetime | None:
        """Until when nothing of the workspace may be tried (its Retry-After), if that is still ahead."""
        pace = self._current(workspace, now)
        return pace.held_until if pace is not None and pace.held_until > now else None

    def take(self, workspace: str, now: datetime) -> bool:
        """Whether one post of the workspace may go out now; if so, it is counted against the workspace's pace."""
        pace = self._current(workspace, now)
        if pace is None:
            return True
        if now < pace.held_until:
            return False
        self._refill(pace, now)
        if pace.tokens < 1:
            return False
        pace.tokens -= 1
        return True

    def sent(self, workspace: str, now: datetime) -> None:
        """One of the workspace's posts went through: its pace recovers."""
        pace = self._current(workspace, now)
        if pace is None:
            return
        if pace.per_second < pace.threshold:
            pace.per_second += 1.0
        else:
            # At least one post a second more each second, so a pace halved to a trickle comes back within seconds.
            pace.per_second += min(1.0, max(self.policy.recovery, 1.0 / pace.per_second))
        if pace.per_second >= self.policy.release_per_second:
            del self._paces[workspace]

    def paced(self, now: datetime) -> list[str]:
        """The workspaces paced now (the others' posts go out as fast as they come)."""
        return [workspace for workspace in list(self._paces) if self._current(workspace, now) is not None]

    def next_release(self, workspace: str, now: datetime) -> datetime:
        """When `take` will next allow one of the workspace's posts (now, if it already does)."""
        pace = self._current(workspace, now)
        if pace is None:
            return now
        if now < pace.held_until:
            return pace.held_until
        self._refill(pace, now)
        missing = max(0.0, 1.0 - pace.tokens)
        return now + timedelta(seconds=missing / pace.per_second)

    def _current(self, workspace: str, now: datetime) -> _Pace | None:
        pace = self._paces.get(workspace)
        if pace is None:
            return None
        if now >= pace.held_until and now - pace.limited_at >= self.policy.forget_after:
            del self._paces[workspace]
            return None
        return pace

    def _refill(self, pace: _Pace, now: datetime) -> None:
        if now <= pace.refilled_at:
            return
        capacity = max(1.0, pace.per_second * self.policy.burst_seconds)
        elapsed = (now - pace.refilled_at).total_seconds()
        pace.tokens = min(capacity, pace.tokens + elapsed * pace.per_second)
        pace.refilled_at = now
