"""The Teams app package: the zip people upload to Teams (manifest.json and the two icons).

The manifest follows the Teams app manifest schema named in MANIFEST_SCHEMA; the bot id is the Microsoft App ID of
the Azure Bot (or Teams Developer Portal) registration, from TEAMS_APP_ID.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.teams.icons import ACCENT, color_icon, outline_icon

MANIFEST_VERSION = "1.29"
MANIFEST_SCHEMA = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
# Resource-specific consent: a team's owner lets whoelse read the messages of that team's channels (without it, Teams
# shows a bot only the messages that mention it), so it can turn CRM and helpdesk bot posts into nudges.
READ_CHANNEL_MESSAGES = "ChannelMessage.Read.Group"
# Teams asks for a web application entry next to RSC permissions; the resource is never used by RSC but must be set.
RSC_RESOURCE = "api://botid-{bot_id}"
# Placeholders that make a valid package for trying whoelse out; the README asks people to put their own.
DEFAULT_WEBSITE = "https://example.com/whoelse"

# What people see when they type @whoelse, in channels and group chats: every command.
CHANNEL_COMMANDS = (
    ("help", "What whoelse can do"),
    ("watch", "watch deals · watch tickets: turn this channel's CRM or helpdesk bot posts into nudges"),
    ("unwatch", "unwatch deals · unwatch tickets: stop turning this channel's posts into nudges"),
    ("nudge", "nudge <topic>: ask this channel who else needs to know, and what else can help"),
    ("stats", "How this channel answered its nudges in the last 7 and 30 days"),
    ("snooze", "snooze 4h · snooze 1w · snooze off: no pings or reminders for you for a while"),
    ("settings", "Time zone, quiet hours, hourly cap and which moments get a nudge (admins)"),
    ("status", "Scheduler and delivery health (admins)"),
    ("roundtable", "Set up, show, change or cancel this channel's recurring cross-functional round-table"),
    ("elephant", "Start or schedule the weekly anonymous elephant-in-the-room poll"),
)
# Teams lists at most ten commands per scope, and the channel list is full: connecting a CRM or helpdesk is offered
# in the one-to-one chat, which is also where `connections` shows whole addresses (in a channel everyone reads it).
CONNECTION_COMMANDS = (
    ("connect", "connect jira · connect hubspot · …: connect this workspace's CRM or helpdesk (admins)"),
    ("connections", "The CRMs and helpdesks connected here, their addresses and last events (admins)"),
    ("disconnect", "disconnect jira · …: remove a connected CRM or helpdesk (admins)"),
)
# In a one-to-one chat with whoelse there is no channel to watch, nudge or meet in: only what is about you, and the
# admins' connections.
PERSONAL_COMMANDS = (
    *(command for command in CHANNEL_COMMANDS if command[0] in ("help", "snooze", "settings", "status")),
    *CONNECTION_COMMANDS,
)


class PackageError(ValueError):
    """The package cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class AppInfo:
    """What the manifest says about this installation of whoelse."""

    bot_id: str
    version: str = "1.0.0"
    developer: str = "whoelse"
    website: str = DEFAULT_WEBSITE
    privacy: str = ""
    terms: str = ""
    # Domains Teams may open from the app (its own web pages); a bot alone needs none.
    domains: tuple[str, ...] = field(default_factory=tuple)

    def problems(self) -> list[str]:
        found = []
        if not GUID.match(self.bot_id):
            found.append(
                f"TEAMS_APP_ID={self.bot_id!r} is not a Microsoft App ID: copy the GUID (such as "
                "00000000-0000-0000-0000-000000000000) from your Azure Bot's Configuration page"
            )
        if not SEMVER.match(self.version):
            found.append(f"version {self.version!r} is not MAJOR.MINOR.PATCH, such as 1.0.0")
        if not self.developer or len(self.developer) > 32:
            found.append("the developer name must be 1 to 32 characters")
        for url in (self.website, self.privacy_url, self.terms_url):
            if not url.startswith("https://") or len(url) > 2048:
                found.append(f"{url!r} is not an https:// address")
        return found

    @property
    def privacy_url(self) -> str:
        return self.privacy or f"{self.website.rstrip('/')}/privacy"

    @property
    def terms_url(self) -> str:
        return self.terms or f"{self.website.rstrip('/')}/terms"


def _commands(commands: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"title": title, "description": description} for title, description in commands]


def manifest(app: AppInfo) -> dict[str, Any]:
    problems = app.problems()
    if problems:
        raise PackageError("cannot make the Teams app package:\n  - " + "\n  - ".join(problems))
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": app.version,
        # The app and its bot share the one id Azure gave the bot, as Teams' own samples do.
        "id": app.bot_id,
        "developer": {
            "name": app.developer,
            "websiteUrl": app.website,
            "privacyUrl": app.privacy_url,
            "termsOfUseUrl": app.terms_url,
        },
        "name": {"short": "whoelse", "full": "whoelse: who else needs to know?"},
        "description": {
            "short": "At deal and ticket moments, asks who else needs to know and what else can help.",
            "full": (
                "When a deal or ticket reaches a moment that matters, whoelse asks the channel two questions: "
                "who else needs to know, and what else can we help with. It also runs a weekly anonymous "
                "elephant-in-the-room poll and a recurring round-table, so sales, engineering, marketing and "
                "support keep talking. Events come from your CRM or helpdesk through a signed webhook, or from the "
                "posts your CRM's or helpdesk's own bot makes in a channel that whoelse was asked to watch: whoelse "
                "reads a watching channel's bot posts only, and never stores or answers people's messages unless "
                "they mention it."
            ),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app.bot_id,
                "scopes": ["team", "personal", "groupChat"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "commandLists": [
                    {"scopes": ["team", "groupChat"], "commands": _commands(CHANNEL_COMMANDS)},
                    {"scopes": ["personal"], "commands": _commands(PERSONAL_COMMANDS)},
                ],
            }
        ],
        "validDomains": list(app.domains),
        "webApplicationInfo": {"id": app.bot_id, "resource": RSC_RESOURCE.format(bot_id=app.bot_id)},
        "authorization": {
            "permissions": {"resourceSpecific": [{"name": READ_CHANNEL_MESSAGES, "type": "Application"}]}
        },
    }


def write_package(app: AppInfo, path: Path) -> Path:
    """Writes the zip Teams takes as an app upload: manifest.json and both icons, at the top level."""
    content = json.dumps(manifest(app), indent=2, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", content)
        package.writestr(COLOR_ICON, color_icon())
        package.writestr(OUTLINE_ICON, outline_icon())
    return path
