"""`whoelse teams package`: the zip people upload to Teams."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

BOT_ID = "8d3a2a1e-1b2c-4d5e-8f90-123456789abc"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
HTTPS = re.compile(r"^https://")
SCOPES = {"team", "personal", "groupChat"}


@dataclass
class Png:
    width: int
    height: int
    color_type: int
    # (r, g, b, a) by row.
    pixels: list[list[tuple[int, int, int, int]]]


def read_png(data: bytes) -> Png:
    """Reads an 8-bit RGBA PNG whose rows are unfiltered, checking its signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        position += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color_type, _compression, _filter, _interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + width * 4
    assert len(raw) == height * stride
    rows = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        rows.append([(row[1 + 4 * x], row[2 + 4 * x], row[3 + 4 * x], row[4 + 4 * x]) for x in range(width)])
    return Png(width, height, color_type, rows)


def manifest_problems(manifest: dict[str, Any], files: set[str]) -> list[str]:
    """The Teams app manifest schema's required fields and limits (as documented for v1.x), checked by hand."""
    problems = []
    for key in ("manifestVersion", "version", "id", "developer", "name", "description", "icons", "accentColor"):
        if key not in manifest:
            problems.append(f"{key} is required")
    version = manifest.get("manifestVersion", "")
    if (
        manifest.get("$schema")
        != f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    ):
        problems.append("$schema does not name the manifestVersion's schema")
    if not re.fullmatch(r"1\.(19|[2-9][0-9])", version):
        problems.append(f"manifestVersion {version} is older than 1.19")
    if not re.fullmatch(r"\d+\.\d+\.\d+", manifest.get("version", "")):
        problems.append("version is not semver")
    if not GUID.match(manifest.get("id", "")):
        problems.append("id is not a GUID")
    developer = manifest.get("developer", {})
    if not 0 < len(developer.get("name", "")) <= 32:
        problems.append("developer.name must be 1-32 characters")
    for url in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        if not HTTPS.match(developer.get(url, "")) or len(developer[url]) > 2048:
            problems.append(f"developer.{url} must be an https URL")
    name = manifest.get("name", {})
    if not 0 < len(name.get("short", "")) <= 30 or len(name.get("full", "")) > 100:
        problems.append("name.short must be 1-30 characters, name.full at most 100")
    description = manifest.get("description", {})
    if not 0 < len(description.get("short", "")) <= 80 or not 0 < len(description.get("full", "")) <= 4000:
        problems.append("description.short (1-80) and description.full (1-4000) are required")
    icons = manifest.get("icons", {})
    for icon in ("color", "outline"):
        if icons.get(icon) not in files:
            problems.append(f"icons.{icon} is not in the package")
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", manifest.get("accentColor", "")):
        problems.append("accentColor is not #RRGGBB")
    bots = manifest.get("bots", [])
    if len(bots) > 1:
        problems.append("at most one bot")
    for bot in bots:
        if not GUID.match(bot.get("botId", "")):
            problems.append("bots[].botId is not a GUID")
        if not bot.get("scopes") or not set(bot["scopes"]) <= SCOPES:
            problems.append("bots[].scopes must be team, personal or groupChat")
        lists = bot.get("commandLists", [])
        if len(lists) > 3:
            problems.append("at most three command lists")
        for command_list in lists:
            if not command_list.get("scopes") or not set(command_list["scopes"]) <= SCOPES:
                problems.append("commandLists[].scopes must be team, personal or groupChat")
            commands = command_list.get("commands", [])
            if not 0 < len(commands) <= 10:
                problems.append("a command list holds 1 to 10 commands")
            for command in commands:
                if not 0 < len(command.get("title", "")) <= 32 or len(command.get("description", "")) > 128:
                    problems.append(f"command {command.get('title')!r}: title 1-32, description at most 128")
    if len(manifest.get("validDomains", [])) > 100:
        problems.append("at most 100 validDomains")
    permissions = manifest.get("authorization", {}).get("permissions", {}).get("resourceSpecific", [])
    if len(permissions) > 16 or any(
        set(permission) != {"name", "type"}
        or not 0 < len(permission["name"]) <= 128
        or permission["type"] not in ("Application", "Delegated")
        for permission in permissions
    ):
        problems.append("authorization.permissions.resourceSpecific: at most 16 {name, type} entries")
    web_application = manifest.get("webApplicationInfo")
    if permissions and (
        web_application is None
        or not GUID.match(web_application.get("id", ""))
        or not 0 < len(web_application.get("resource", "")) <= 2048
    ):
        problems.append("resource-specific permissions need webApplicationInfo with the app's id and a resource")
    return problems


@pytest.fixture
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # No .env from the working directory.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEAMS_APP_ID", raising=False)
    return tmp_path


def package(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    monkeypatch.setenv("TEAMS_APP_ID", BOT_ID)
    assert main(["teams", "package", "--output", "out/whoelse.zip", *args]) == 0
    archive = zipfile.ZipFile(in_empty_dir / "out" / "whoelse.zip")
    return archive, json.loads(archive.read("manifest.json"))


def test_the_package_holds_a_manifest_for_the_bot_and_its_two_icons(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, manifest = package(
        in_empty_dir, monkeypatch, "--website", "https://bots.example.org", "--domain", "bots.example.org"
    )

    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    assert manifest_problems(manifest, set(archive.namelist())) == []
    assert manifest["id"] == BOT_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == BOT_ID
    assert set(bot["scopes"]) == SCOPES
    assert manifest["validDomains"] == ["bots.example.org"]
    assert manifest["developer"]["privacyUrl"] == "https://bots.example.org/privacy"


def test_team_owners_are_asked_to_let_whoelse_read_channel_messages_for_the_bot_posts_it_watches(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, manifest = package(in_empty_dir, monkeypatch)

    assert manifest_problems(manifest, set(archive.namelist())) == []
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}
    ]
    assert manifest["webApplicationInfo"]["id"] == BOT_ID
    # The store asks that the description say what the bot does with the messages it reads.
    assert "bot posts only" in manifest["description"]["full"]
    without_app = {key: value for key, value in manifest.items() if key != "webApplicationInfo"}
    assert manifest_problems(without_app, set(archive.namelist())) == [
        "resource-specific permissions need webApplicationInfo with the app's id and a resource"
    ]


def test_people_see_every_command_in_channels_and_their_own_in_a_chat_with_whoelse(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive, manifest = package(in_empty_dir, monkeypatch)

    lists = {
        tuple(command_list["scopes"]): command_list["commands"]
        for command_list in manifest["bots"][0]["commandLists"]
    }
    channel = [command["title"] for command in lists[("team", "groupChat")]]
    assert channel == [
        "help",
        "watch",
        "unwatch",
        "nudge",
        "stats",
        "snooze",
        "settings",
        "status",
        "roundtable",
        "elephant",
    ]
    # The channel list holds Teams' most (ten); connecting a CRM or helpdesk is offered in the one-to-one chat.
    assert [command["title"] for command in lists[("personal",)]] == [
        "help",
        "snooze",
        "settings",
        "status",
        "connect",
        "connections",
        "disconnect",
    ]
    described = {command["title"]: command["description"] for command in lists[("team", "groupChat")]}
    assert "watch deals" in described["watch"] and "watch tickets" in described["watch"]
    assert "nudge <topic>" in described["nudge"]


def test_the_icons_are_pngs_of_the_sizes_teams_asks_for(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, manifest = package(in_empty_dir, monkeypatch)

    color = read_png(archive.read(manifest["icons"]["color"]))
    outline = read_png(archive.read(manifest["icons"]["outline"]))

    assert (color.width, color.height, color.color_type) == (192, 192, 6)
    assert all(alpha == 255 for row in color.pixels for *_rgb, alpha in row)
    assert len({pixel for row in color.pixels for pixel in row}) > 2
    assert (outline.width, outline.height, outline.color_type) == (32, 32, 6)
    # White on a transparent background.
    corners = [outline.pixels[y][x] for y in (0, 31) for x in (0, 31)]
    assert all(alpha == 0 for *_rgb, alpha in corners)
    drawn = [pixel for row in outline.pixels for pixel in row if pixel[3] > 0]
    assert drawn and all(pixel[:3] == (255, 255, 255) for pixel in drawn)
    assert any(alpha == 255 for *_rgb, alpha in drawn)


def test_the_manifest_check_catches_what_teams_would_refuse(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, manifest = package(in_empty_dir, monkeypatch)
    files = set(archive.namelist())
    commands = manifest["bots"][0]["commandLists"][0]["commands"]

    too_many = json.loads(json.dumps(manifest))
    too_many["bots"][0]["commandLists"][0]["commands"] = [*commands, {"title": "eleventh", "description": ""}]
    long_title = json.loads(json.dumps(manifest))
    long_title["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 33
    no_accent = {key: value for key, value in manifest.items() if key != "accentColor"}

    assert manifest_problems(too_many, files) == ["a command list holds 1 to 10 commands"]
    assert manifest_problems(long_title, files) == [f"command {'x' * 33!r}: title 1-32, description at most 128"]
    assert manifest_problems(no_accent, files) == ["accentColor is required", "accentColor is not #RRGGBB"]
    assert manifest_problems(manifest, files - {"outline.png"}) == ["icons.outline is not in the package"]


def test_without_a_bot_id_no_package_is_written_and_people_are_told_what_to_set(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["teams", "package", "--output", "whoelse.zip"]) == 2
    assert "TEAMS_APP_ID is not set" in capsys.readouterr().err

    monkeypatch.setenv("TEAMS_APP_ID", "my-bot")
    assert main(["teams", "package", "--output", "whoelse.zip"]) == 2
    assert "TEAMS_APP_ID='my-bot' is not an app id" in capsys.readouterr().err
    assert not (in_empty_dir / "whoelse.zip").exists()
