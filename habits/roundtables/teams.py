"""Which of the four teams a round-table leaves out: the point of meeting is to get out of the silos."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

TEAMS = ("sales", "engineering", "marketing", "support")
# What a user group's handle or name, or a person's job title, says when they belong to a team.
TEAM_WORDS = {
    "sales": ("sales",),
    "engineering": ("engineer", "developer"),
    "marketing": ("marketing", "marketer"),
    "support": ("support",),
}
# Looking up every member of a large user group would keep people waiting; this many profiles tell enough.
MAX_PROFILES = 60
CONCURRENT_LOOKUPS = 8


class Profile(Protocol):
    @property
    def title(self) -> str: ...


class Group(Protocol):
    @property
    def group_id(self) -> str: ...

    @property
    def handle(self) -> str: ...

    @property
    def name(self) -> str: ...


class Directory(Protocol):
    """Who people are and which user groups exist: the chat platform's directory."""

    async def person(self, *, user: str) -> Profile: ...

    async def user_groups(self) -> Sequence[Group]: ...

    async def user_group_members(self, *, group: str) -> list[str]: ...


def teams_in(descriptions: Iterable[str]) -> set[str]:
    """The teams named anywhere in these group names and job titles."""
    found: set[str] = set()
    for description in descriptions:
        lowered = description.lower()
        found.update(team for team, words in TEAM_WORDS.items() if any(word in lowered for word in words))
    return found


def teams_missing(descriptions: Iterable[str]) -> list[str]:
    present = teams_in(descriptions)
    return [team for team in TEAMS if team not in present]


async def missing_teams(directory: Directory, *, invitees: Sequence[str], group_ids: Sequence[str]) -> list[str]:
    """The teams none of the invitees belongs to, judged by user group names and people's job titles.

    People invited through a user group count too, so "@platform" full of engineers covers engineering.
    """
    descriptions: list[str] = []
    people = list(dict.fromkeys(invitees))
    if group_ids:
        known = {group.group_id: group for group in await directory.user_groups()}
        for group_id in group_ids:
            group = known.get(group_id)
            if group is not None:
                descriptions.append(f"{group.handle} {group.name}")
        for members in await asyncio.gather(
            *(directory.user_group_members(group=group_id) for group_id in group_ids)
        ):
            people.extend(member for member in members if member not in people)
    if len(teams_in(descriptions)) < len(TEAMS):
        descriptions.extend(await _titles(directory, people[:MAX_PROFILES]))
    return teams_missing(descriptions)


async def _titles(directory: Directory, people: Sequence[str]) -> list[str]:
    limit = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def title_of(user: str) -> str:
        async with limit:
            return (await directory.person(user=user)).title

    return list(await asyncio.gather(*(title_of(user) for user in people)))
