"""The bot scopes an install asks Slack for: the ones manifest.yml lists, so the app's settings and the install
link never disagree (tests/test_manifest_scopes.py checks the methods whoelse calls against the same list)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ConfigurationError

# A checkout has manifest.yml at its root; an installed whoelse (the Docker image) carries a copy in this package.
MANIFEST_PLACES = (
    Path(__file__).resolve().parents[3] / "manifest.yml",
    Path(__file__).resolve().parent / "manifest.yml",
)


def manifest_bot_scopes(manifest: str) -> list[str]:
    """The list under oauth_config > scopes > bot, in order, read without a YAML parser (the manifest is plain)."""
    scopes: list[str] = []
    path: list[str] = []
    for line in manifest.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        item = re.match(r"\s*-\s+([^\s#]+)", line)
        if item is not None:
            if path[-3:] == ["oauth_config", "scopes", "bot"] and item.group(1) not in scopes:
                scopes.append(item.group(1))
            continue
        key = line.strip().split(":", 1)[0]
        depth = indent // 2
        path = [*path[:depth], key]
    return scopes


def install_scopes() -> list[str]:
    for place in MANIFEST_PLACES:
        if place.is_file():
            scopes = manifest_bot_scopes(place.read_text(encoding="utf-8"))
            if scopes:
                return scopes
    raise ConfigurationError(
        "manifest.yml (the bot scopes an install asks for) was not found or lists no bot scopes: "
        "reinstall whoelse from a complete release."
    )
