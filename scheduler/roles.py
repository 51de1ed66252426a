"""What a replica's scheduler is doing, as `/whoelse status` reports it."""

from __future__ import annotations

from typing import Literal

# "leader": this replica runs scheduled jobs; "standby": another replica does (this one takes over if it stops);
# "off": this replica never runs them (SCHEDULER=off, or the scheduler has not started).
SchedulerRole = Literal["leader", "standby", "off"]
