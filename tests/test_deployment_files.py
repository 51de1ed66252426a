"""What can be checked of the container set-up without building it (no image registry here): the Dockerfile
installs exactly the lock and runs whoelse unprivileged with a health check, and compose.yaml wires whoelse to
its PostgreSQL and waits for it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


DOCKERFILE = _instructions(ROOT / "Dockerfile")
FINAL = _stages(DOCKERFILE)[-1]


def _args(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for name, rest in stage if name == keyword]


def test_the_image_is_built_from_python_3_11_slim() -> None:
    assert all(base.split()[0] == "python:3.11-slim" for base in _args(DOCKERFILE, "FROM"))


def test_dependencies_come_from_the_lock_and_the_package_brings_none_of_its_own() -> None:
    runs = _args(DOCKERFILE, "RUN")
    lock_install = next(i for i, run in enumerate(runs) if re.search(r"pip install .*-r requirements\.lock", run))
    package_install = next(i for i, run in enumerate(runs) if re.search(r"pip install --no-deps \.", run))
    assert lock_install < package_install
    # Nothing else is installed, pinned or not.
    assert sum("pip install" in run for run in runs) == 2


def test_whoelse_runs_as_a_user_other_than_root() -> None:
    users = _args(FINAL, "USER")
    assert users, "the final stage sets no USER, so whoelse would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    # Set before the process starts: nothing after it switches back.
    last_user = max(i for i, (name, _) in enumerate(FINAL) if name == "USER")
    assert not [name for name, _ in FINAL[last_user:] if name == "RUN"]


def test_the_port_whoelse_listens_on_is_exposed() -> None:
    env = " ".join(_args(FINAL, "ENV"))
    port = re.search(r"\bPORT=(\d+)", env)
    assert port is not None
    assert port.group(1) in " ".join(_args(FINAL, "EXPOSE")).split()


def test_the_health_check_asks_healthz_on_that_port() -> None:
    (check,) = _args(FINAL, "HEALTHCHECK")
    assert "/healthz" in check
    assert "PORT" in check


def test_the_entrypoint_migrates_then_serves() -> None:
    (entrypoint,) = _args(FINAL, "ENTRYPOINT")
    (cmd,) = _args(FINAL, "CMD")
    assert "whoelse-entrypoint" in entrypoint
    assert cmd == '["serve"]'
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert script.index("whoelse db upgrade") < script.index('exec whoelse "$@"')


def test_the_entrypoint_script_stops_when_migrating_fails(tmp_path: Path) -> None:
    # A fake `whoelse` that fails to migrate: the script must not go on to serve against an old schema.
    fake = tmp_path / "whoelse"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n[ "$1" != db ]\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), "serve"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )
    assert result.returncode != 0
    assert (tmp_path / "calls").read_text().splitlines() == ["db upgrade"]


def test_the_image_copies_what_the_package_needs_and_dockerignore_keeps_secrets_out() -> None:
    copied = " ".join(_args(DOCKERFILE, "COPY"))
    for package in ("bot", "handlers", "habits", "models", "scheduler", "migrations"):
        assert re.search(rf"\b{package}\b", copied), package
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "*.db"} <= set(ignored)


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_points_whoelse_at_its_postgres_service() -> None:
    compose = _compose()
    whoelse, postgres = compose["services"]["whoelse"], compose["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    url = whoelse["environment"]["DATABASE_URL"]
    assert re.match(r"postgresql(\+psycopg)?://[^@]+@postgres:5432/", url), url
    # The database whoelse asks for is the one the postgres service creates.
    assert url.rsplit("/", 1)[1] == postgres["environment"]["POSTGRES_DB"]


def test_compose_keeps_the_database_in_a_named_volume() -> None:
    compose = _compose()
    volumes = compose["services"]["postgres"]["volumes"]
    named = [volume.split(":")[0] for volume in volumes if volume.endswith(":/var/lib/postgresql/data")]
    assert named and named[0] in compose["volumes"]


def test_compose_starts_whoelse_once_postgres_is_healthy() -> None:
    compose = _compose()
    assert compose["services"]["whoelse"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])


def test_compose_reads_secrets_from_an_env_file_and_builds_this_image() -> None:
    whoelse = _compose()["services"]["whoelse"]
    assert whoelse["env_file"] in (".env", [".env"])
    assert whoelse["build"] == "."
    # The published port reaches the one whoelse listens on.
    assert any(str(port).endswith(":3000") for port in whoelse["ports"])
    assert whoelse["environment"]["PORT"] == "3000"


def _documented_variables(example: str) -> dict[str, bool]:
    """Each variable `.env.example` sets or shows commented out, and whether a comment explains it: the comment
    lines just above it, or above the group of variables it belongs to (section headers do not count)."""
    assignment = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")
    lines = example.splitlines()
    documented: dict[str, bool] = {}
    for number, line in enumerate(lines):
        found = assignment.match(line)
        if not found:
            continue
        above = number - 1
        while above >= 0 and assignment.match(lines[above]):
            above -= 1
        explained = above >= 0 and lines[above].startswith("#") and not lines[above].startswith("# ---")
        documented[found.group(1)] = explained
    return documented


def test_every_setting_is_in_the_example_configuration_with_a_comment() -> None:
    documented = _documented_variables((ROOT / ".env.example").read_text())
    variables = [name.upper() for name in Settings.model_fields]
    assert [name for name in variables if name not in documented] == []
    assert [name for name in variables if not documented[name]] == []


def test_the_example_configuration_names_no_variable_whoelse_does_not_read() -> None:
    documented = _documented_variables((ROOT / ".env.example").read_text())
    variables = {name.upper() for name in Settings.model_fields}
    assert sorted(set(documented) - variables) == []
