"""The Slack app manifest asks for every scope the Web API methods whoelse calls need.

A missing scope does not show in tests against the fake Slack: on a real workspace the call answers `missing_scope`
(for example reading a reminder DM's history to check whether a retried reminder already landed), and what depended
on it is given up. So the methods are read from the source, and each must be in the table below.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.oauth.scopes import install_scopes, manifest_bot_scopes

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("bot", "handlers", "habits", "scheduler")

# The bot scopes each method needs for the conversations whoelse uses it in: public and private channels (nudges,
# watched channels, polls, round-tables) and direct messages (reminders). From each method's page on
# https://api.slack.com/methods. A method that needs no scope maps to an empty set.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    # Gives back the token of an install whoelse refuses (org-wide); a token may always revoke itself.
    "auth.revoke": set(),
    # Socket Mode only, with the app-level token (its connections:write scope), not a bot scope.
    "apps.connections.open": set(),
    "chat.postMessage": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.history": {"channels:history", "groups:history", "im:history"},
    "conversations.replies": {"channels:history", "groups:history", "im:history"},
    "conversations.open": {"im:write"},
    "conversations.join": {"channels:join"},
    "conversations.members": {"channels:read", "groups:read"},
    "views.open": set(),
    "views.publish": set(),
    "users.info": {"users:read"},
    "users.lookupByEmail": {"users:read", "users:read.email"},
    "usergroups.list": {"usergroups:read"},
    "usergroups.users.list": {"usergroups:read"},
}

# slack_sdk's client methods (client.chat_postMessage(...)) and its generic form (api_call("chat.postMessage")).
_CLIENT_CALL = re.compile(r"\bclient\.(?!api_call\()([a-z]+(?:_[a-zA-Z]+)+)\(")
_API_CALL = re.compile(r"\bapi_call\(\s*[\"']([a-zA-Z.]+)[\"']")


def methods_in(source: str) -> set[str]:
    return {name.replace("_", ".") for name in _CLIENT_CALL.findall(source)} | set(_API_CALL.findall(source))


def called_methods() -> dict[str, set[str]]:
    """Every Slack Web API method the code calls, with the files that call it."""
    found: dict[str, set[str]] = {}
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in methods_in(path.read_text()):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_code_calls_the_slack_methods_it_is_known_to_call() -> None:
    called = called_methods()

    assert "chat.postMessage" in called and "conversations.history" in called, "the scan no longer finds calls"
    unknown = {method: files for method, files in called.items() if method not in METHOD_SCOPES}
    assert unknown == {}, "add each new Slack method and the scopes it needs to METHOD_SCOPES (and manifest.yml)"


def test_both_ways_of_calling_a_method_are_found() -> None:
    source = """
        response = await self.client.usergroups_users_list(usergroup=group)
        await client.api_call("reactions.add", params={"name": "eyes"})
        await self.client.api_call( 'pins.add' )
    """
    assert methods_in(source) == {"usergroups.users.list", "reactions.add", "pins.add"}


def test_the_manifest_asks_for_every_scope_the_called_methods_need() -> None:
    granted = set(install_scopes())

    assert "chat:write" in granted, "the manifest's bot scopes could not be read"
    missing = {
        method: sorted(METHOD_SCOPES.get(method, set()) - granted)
        for method in called_methods()
        if METHOD_SCOPES.get(method, set()) - granted
    }
    assert missing == {}, "manifest.yml lacks bot scopes these Slack methods need"


def test_the_manifest_reader_finds_the_bot_scopes_and_nothing_else() -> None:
    manifest = """
oauth_config:
  redirect_urls:
    - https://example.com/oauth
  scopes:
    bot:
      - chat:write      # posting
      - im:history
    user:
      - search:read
settings:
  event_subscriptions:
    bot_events:
      - message.channels
"""
    assert manifest_bot_scopes(manifest) == ["chat:write", "im:history"]
