"""How far from UTC a clock on Earth can be. A rule kept on each person's own clock uses it to tell, before anyone's
time zone is read, the moments at which it cannot hold for anybody."""

from __future__ import annotations

from datetime import timedelta

# Etc/GMT+12 (Baker Island) and Pacific/Kiritimati: no time zone's offset lies outside these.
FURTHEST_BEHIND = timedelta(hours=12)
FURTHEST_AHEAD = timedelta(hours=14)
