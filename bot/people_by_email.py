"""Who in a workspace has an email address, as its chat platform says, remembered for a while.

Nudges name the owner of a deal or ticket by the email the CRM or helpdesk sends; a busy pipeline sends the same few
owners again and again, so each answer (a person, or nobody) is kept per workspace instead of asked every time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.gateway import ChatGateway, DeliveryError, PermanentError
from habits.events import PersonRole
from habits.nudging import MatchedPerson
from models.base import utcnow

logger = logging.getLogger(__name__)

# Long enough that a burst of events asks once per owner; short enough that a new colleague is found the same day.
REMEMBER_FOR = timedelta(hours=1)
# Past this many remembered addresses the oldest answers are dropped first.
MAX_REMEMBERED = 10_000


@dataclass
class PeopleByEmail:
    # The workspace's gateway (GatewayDirectory.for_workspace): Slack's, or a Teams tenant's.
    gateway_for: Callable[[str], Awaitable[ChatGateway]]
    clock: Callable[[], datetime] = utcnow
    remember_for: timedelta = REMEMBER_FOR
    _known: dict[tuple[str, str], tuple[datetime, MatchedPerson | None]] = field(default_factory=dict)

    async def match(self, workspace_id: str, emails: Mapping[PersonRole, str]) -> dict[PersonRole, MatchedPerson]:
        """The chat users behind these emails, by role; roles whose email matched nobody are left out."""
        matched: dict[PersonRole, MatchedPerson] = {}
        for role, email in emails.items():
            person = await self.person(workspace_id, email)
            if person is not None:
                matched[role] = person
        return matched

    async def person(self, workspace_id: str, email: str) -> MatchedPerson | None:
        key = (workspace_id, email.strip().lower())
        now = self.clock()
        remembered = self._known.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        try:
            gateway = await self.gateway_for(workspace_id)
            found = await gateway.person_by_email(email=key[1])
        except PermanentError as error:
            # Asking again cannot help (the app lacks users:read.email until it is reinstalled): remembered as nobody,
            # so each event does not ask, and warn, again.
            logger.warning("cannot look up people by email in workspace %s: %s", workspace_id, error)
            found = None
        except DeliveryError as error:
            # Not remembered: the platform may answer next time. The nudge goes out without the mention meanwhile.
            logger.warning("could not look up a person by email in workspace %s: %s", workspace_id, error)
            return None
        person = MatchedPerson(user_id=found.user_id, name=found.name) if found is not None else None
        if len(self._known) >= MAX_REMEMBERED:
            self._known.pop(next(iter(self._known)))
        self._known[key] = (now + self.remember_for, person)
        return person
