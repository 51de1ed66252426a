"""Configuration, read from the environment and `.env` (every variable is documented in `.env.example`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

from bot.secret_box import SecretBox, key_problem
from habits.time_words import known_zone
from models.db import async_url

# Values people leave in place when they copy `.env.example`: starting with them would fail later, far from here.
PLACEHOLDER_MARKERS = ("replace-me", "changeme", "changethis", "your-", "xxxx")
# Entra ids (app and tenant) are GUIDs; the tenant id also goes into the URL whoelse fetches signing keys from.
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(Exception):
    """The bot cannot start as configured; the message says what to set."""


def settings_problems(error: ValidationError) -> str:
    """Each invalid variable once, by its environment name, without pydantic's boilerplate (or the value: secrets)."""
    problems = []
    for problem in error.errors():
        variable = ".".join(map(str, problem["loc"])).upper()
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(message if message.startswith(variable) else f"{variable}: {message}")
    return "; ".join(problems)


def is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_socket_mode: bool = False
    # Largest request accepted at /slack/events (larger ones get 413 before their signature is checked).
    slack_max_body_bytes: int = Field(default=1024 * 1024, gt=0)

    # Microsoft Teams (see bot/teams/): on when TEAMS_APP_ID is set, or in development when unauthenticated
    # requests are allowed. Blank values count as unset, so a copied `.env.example` leaves Teams off.
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    # Instead of the password: a PEM file with the certificate uploaded to the app registration and its private key;
    # the thumbprint, if given, must be that certificate's (as the Azure portal lists it).
    teams_app_certificate_path: str | None = None
    teams_app_certificate_thumbprint: str | None = None
    teams_tenant_id: str | None = None
    teams_cloud: Literal["public", "usgov"] = "public"
    teams_openid_metadata_url: str | None = None
    teams_allow_unauthenticated: bool = False
    # Where the bot gets its own token for calling the Bot Connector (default: the cloud's Entra ID endpoint for
    # TEAMS_TENANT_ID, or botframework.com for a multi-tenant bot). Set only for a proxy or a test server.
    teams_token_url: str | None = None
    # Who may change whoelse's settings and see its status on Teams: people's Entra object ids, comma-separated.
    # The Bot Connector does not say who administers a tenant or owns a team, so admins are named here.
    teams_admins: str = ""

    database_url: str = "sqlite+aiosqlite:///./whoelse.db"
    # A database that stops answering must not hold requests for as long as it stalls. PostgreSQL only: how long to
    # wait for a new connection, and how long one statement may run before the server cancels it.
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    database_statement_timeout_seconds: float = Field(default=15.0, gt=0)
    host: str = "0.0.0.0"
    port: int = 3000
    # Limits for `whoelse serve` facing the internet (bot/http_server.py; README "Running behind the internet").
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=10.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, gt=0)
    http_max_connections: int = Field(default=256, gt=0)
    http_max_header_bytes: int = Field(default=16 * 1024, gt=0)

    whoelse_webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    webhook_max_age_seconds: int = Field(default=300, gt=0)
    # A webhook whose event is not stored within this many seconds is answered 503 with Retry-After (the sender
    # retries), rather than kept waiting on a database that has stopped answering.
    webhook_store_timeout_seconds: float = Field(default=5.0, gt=0)
    # Vendors' own webhooks (handlers/webhooks/jira.py, zendesk.py): each source is off until its secret is set.
    jira_webhook_secret: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None

    default_timezone: str = "UTC"
    # "auto": run the scheduler in-process on SQLite, or in whichever replica holds the PostgreSQL leader lock.
    scheduler: Literal["auto", "off"] = "auto"
    # How often the scheduler leader re-reads every feature's schedules (changes on this replica apply at once).
    scheduler_reconcile_seconds: float = Field(default=30.0, gt=0)
    # How often a replica that is not the scheduler leader tries to become it (and how often the leader checks in).
    scheduler_leader_retry_seconds: float = Field(default=5.0, gt=0)
    delivery_max_attempts: int = Field(default=12, ge=1)
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    # How long a message being sent stays claimed by one worker. After a crash mid-send, the message waits this long
    # before another worker checks the channel for it and sends it if it never landed. Must outlast one Slack call.
    delivery_lease_seconds: float = Field(default=45.0, gt=0)

    # Keys that seal the secrets whoelse stores (workspace tokens, vendors' secrets): comma-separated Fernet keys,
    # newest first (`whoelse keys generate` makes one). Only needed once whoelse stores a secret.
    whoelse_encryption_keys: SecretStr | None = None

    # Serve /docs, /redoc and /openapi.json (off: they only describe the bot's endpoints to whoever asks).
    expose_api_docs: bool = False

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto the base URL, so a missing slash would produce ".../apichat.postMessage".
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_for_the_async_engine(cls, value: str) -> str:
        return async_url(value)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL={value!r} is not one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator(
        "teams_app_id",
        "teams_tenant_id",
        "teams_openid_metadata_url",
        "teams_app_certificate_path",
        "teams_app_certificate_thumbprint",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("teams_app_id")
    @classmethod
    def _app_id_is_a_guid(cls, value: str | None) -> str | None:
        if value is not None and not GUID.match(value):
            raise ValueError(f"TEAMS_APP_ID={value!r} is not an app id: use the bot's Microsoft App ID, a GUID")
        return value

    @field_validator("teams_tenant_id")
    @classmethod
    def _tenant_is_a_guid(cls, value: str | None) -> str | None:
        if value is not None and not GUID.match(value):
            raise ValueError(
                f"TEAMS_TENANT_ID={value!r} is not a tenant id: use the Directory (tenant) ID, a GUID, or leave it blank"
            )
        return value

    @field_validator("teams_admins")
    @classmethod
    def _admins_are_object_ids(cls, value: str) -> str:
        for admin in _split_keys(value):
            if not GUID.match(admin):
                raise ValueError(
                    f"TEAMS_ADMINS: {admin!r} is not an Entra object id; list people's Object IDs (GUIDs from "
                    "Entra ID > Users), comma-separated"
                )
        return value

    @property
    def teams_admin_ids(self) -> frozenset[str]:
        return frozenset(admin.lower() for admin in _split_keys(self.teams_admins))

    @field_validator("whoelse_encryption_keys")
    @classmethod
    def _usable_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        for position, key in enumerate(_split_keys(value.get_secret_value()), start=1):
            problem = key_problem(key)
            if problem is not None:
                raise ValueError(
                    f"WHOELSE_ENCRYPTION_KEYS: key {position} {problem}; `whoelse keys generate` prints a new one"
                )
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if known_zone(value) is None:
            raise ValueError(f"DEFAULT_TIMEZONE={value!r} is not an IANA time zone such as Europe/Berlin")
        return value

    def secret_box(self) -> SecretBox:
        """What seals and opens stored secrets; refuses, naming the variable, when no key is configured."""
        keys = self.secret("whoelse_encryption_keys")
        if keys is None:
            raise ConfigurationError(
                "WHOELSE_ENCRYPTION_KEYS is not set: whoelse needs it to store secrets. "
                "Run `whoelse keys generate` and put the key it prints in .env."
            )
        return SecretBox(_split_keys(keys))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_label(self) -> str:
        """Which database, for people: kind and place, never the user or password."""
        url = make_url(self.database_url)
        if self.is_sqlite:
            return f"SQLite at {url.database or 'memory'}"
        port = f":{url.port}" if url.port else ""
        return f"PostgreSQL at {url.host or 'localhost'}{port}/{url.database or ''}"

    def secret(self, name: str) -> str | None:
        value: SecretStr | None = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    def require(self, *names: str) -> None:
        """Refuse to start without the named secrets, saying which variable to set and where it comes from."""
        _refuse(self._missing(names))

    def require_for_serving(self, *, socket_mode: bool) -> None:
        """What serving needs: the Slack secrets (the app token for Socket Mode only), and no webhook secret left
        as the example placeholder (it would look configured while every webhook is refused)."""
        slack = ["slack_bot_token", "slack_signing_secret", *(["slack_app_token"] * socket_mode)]
        # Slack's secrets are needed when Slack is on, or when no platform is: Teams alone needs none of them.
        slack_needed = socket_mode or self.slack_enabled or not self.teams_enabled
        problems = self._missing(slack) if slack_needed else []
        if problems and not self.slack_enabled and not self.teams_enabled:
            problems[-1] += " (Or set TEAMS_APP_ID to serve Microsoft Teams only.)"
        for name in ("whoelse_webhook_secret", "jira_webhook_secret", "zendesk_webhook_secret"):
            webhook_secret = self.secret(name)
            if webhook_secret is not None and webhook_secret.strip() and is_placeholder(webhook_secret):
                problems.append(
                    f"{name.upper()} still holds the example placeholder. "
                    f"{_WHERE_FROM[name]} Or leave it unset to turn webhooks off."
                )
        # Nothing configured here yet: the way in is the example file.
        first_run = slack_needed and not Path(".env").exists() and any(self.secret(name) is None for name in slack)
        _refuse(problems, hint=_FIRST_RUN_HINT if first_run else "")

    def _missing(self, names: Sequence[str]) -> list[str]:
        problems = []
        for name in names:
            value = self.secret(name)
            env = name.upper()
            if value is None or not value.strip():
                problems.append(f"{env} is not set. {_WHERE_FROM[name]}")
            elif is_placeholder(value):
                problems.append(f"{env} still holds the example placeholder. {_WHERE_FROM[name]}")
        return problems

    @property
    def slack_enabled(self) -> bool:
        token = self.secret("slack_bot_token")
        return token is not None and bool(token.strip())

    @property
    def teams_enabled(self) -> bool:
        return self.teams_app_id is not None or self.teams_allow_unauthenticated

    @property
    def webhooks_enabled(self) -> bool:
        # A placeholder never gets this far (require_for_serving refuses it); empty means unset.
        secret = self.secret("whoelse_webhook_secret")
        return secret is not None and bool(secret.strip())


def _split_keys(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


_FIRST_RUN_HINT = " (no .env file here: `cp .env.example .env`, then fill in the Slack values)"


def _refuse(problems: list[str], *, hint: str = "") -> None:
    if len(problems) == 1:
        raise ConfigurationError(f"whoelse cannot start{hint}: {problems[0]}")
    if problems:
        raise ConfigurationError(f"whoelse cannot start{hint}:\n  - " + "\n  - ".join(problems))


_WHERE_FROM = {
    "slack_bot_token": "Copy the Bot User OAuth Token (xoxb-...) from your Slack app's 'OAuth & Permissions' page.",
    "slack_signing_secret": "Copy the Signing Secret from your Slack app's 'Basic Information' page.",
    "slack_app_token": (
        "Create an App-Level Token with the connections:write scope on 'Basic Information' (xapp-...); "
        "it is needed for Socket Mode only."
    ),
    "whoelse_webhook_secret": "Choose a long random string and configure the same one in your CRM or helpdesk sender.",
    "jira_webhook_secret": "Choose a long random string and enter it as the Secret of the Jira webhook (System > WebHooks).",
    "zendesk_webhook_secret": "Copy the signing secret from the Zendesk webhook's page (Admin Center > Webhooks > Reveal secret).",
}
