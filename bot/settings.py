"""Configuration, read from the environment and `.env` (every variable is documented in `.env.example`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

from bot.secret_box import SecretBox, key_problem
from habits.time_words import known_zone
from habits.vendor_events.salesforce import fifteen_character_id
from models.db import async_url

# Values people leave in place when they copy `.env.example`: starting with them would fail later, far from here.
PLACEHOLDER_MARKERS = ("replace-me", "changeme", "changethis", "your-", "xxxx")
# Entra ids (app and tenant) are GUIDs; the tenant id also goes into the URL whoelse fetches signing keys from.
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# The last part of the Salesforce webhook's URL is its only secret: long enough that nobody guesses it.
MIN_WEBHOOK_TOKEN_LENGTH = 32
URL_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

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
    # Many workspaces (Slack's install flow, each workspace's own token, stored sealed): on when both are set.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # Many workspaces also need PUBLIC_BASE_URL (below): the install page is /slack/install under it, and Slack
    # sends installers back to /slack/oauth_redirect.

    # Microsoft Teams (see bot/teams/): on when TEAMS_APP_ID is set, or in development when unauthenticated
    # requests are allowed. Blank values count as unset, so a copied `.env.example` leaves Teams off.
    # Declared before the ids below: their checks read it (fields are validated in this order).
    teams_allow_unauthenticated: bool = False
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    # Instead of the password: a PEM file with the certificate uploaded to the app registration and its private key;
    # the thumbprint, if given, must be that certificate's (as the Azure portal lists it).
    teams_app_certificate_path: str | None = None
    teams_app_certificate_thumbprint: str | None = None
    teams_tenant_id: str | None = None
    teams_cloud: Literal["public", "usgov"] = "public"
    teams_openid_metadata_url: str | None = None
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
    # HubSpot's own webhooks (handlers/webhooks/hubspot.py) for this install's workspace: the app's client secret
    # signs them, and the private app's token reads the deal or ticket they name from HubSpot's CRM API.
    hubspot_client_secret: SecretStr | None = None
    hubspot_private_app_token: SecretStr | None = None
    hubspot_api_url: str = "https://api.hubapi.com"
    # The address the internet reaches whoelse at (https://whoelse.example.com): the start of the webhook addresses
    # `/whoelse connect` gives, and what senders that sign the URL they called (HubSpot) are checked against.
    # Unset, HubSpot is checked against the request's own scheme and Host (or, with TRUSTED_PROXY_HEADERS on, the
    # proxy's X-Forwarded-Proto and X-Forwarded-Host).
    public_base_url: str | None = None
    trusted_proxy_headers: bool = False
    # Salesforce Outbound Messages (handlers/webhooks/salesforce.py): the org they must come from (15 or 18
    # characters, Setup > Company Information) and the secret last part of the URL they are sent to.
    salesforce_organization_id: str | None = None
    salesforce_webhook_token: SecretStr | None = None
    # A message holds up to 100 records' fields, more than other webhooks' single event.
    salesforce_max_body_bytes: int = Field(default=1024 * 1024, gt=0)

    default_timezone: str = "UTC"
    # "auto": run the scheduler in-process on SQLite, or in whichever replica holds the PostgreSQL leader lock.
    scheduler: Literal["auto", "off"] = "auto"
    # How often the scheduler leader re-reads every feature's schedules (changes on this replica apply at once).
    scheduler_reconcile_seconds: float = Field(default=30.0, gt=0)
    # How often a replica that is not the scheduler leader tries to become it (and how often the leader checks in).
    scheduler_leader_retry_seconds: float = Field(default=5.0, gt=0)
    # How long the data of a workspace that removed whoelse is kept (so a reinstall finds its history) before a
    # daily job deletes all of it.
    uninstalled_data_grace_days: int = Field(default=30, ge=0)
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

    @field_validator("hubspot_api_url")
    @classmethod
    def _hubspot_api_url(cls, value: str) -> str:
        if not value.strip().startswith(("https://", "http://")):
            raise ValueError(f"HUBSPOT_API_URL={value!r} is not a URL: leave it unset for https://api.hubapi.com")
        return value.strip().rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL={value!r} is not one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator(
        "slack_client_id",
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
    def _tenant_is_a_guid(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not GUID.match(value) and not _playground_ids(info):
            raise ValueError(
                f"TEAMS_TENANT_ID={value!r} is not a tenant id: use the Directory (tenant) ID, a GUID, or leave it blank"
            )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _public_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        address = value.strip().rstrip("/")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"PUBLIC_BASE_URL={value!r} is not an http(s) address: use where whoelse is reached, "
                "such as https://whoelse.example.com"
            )
        return address

    def public_url(self, path: str) -> str:
        """`path` on whoelse's public address; refuses, naming the variable, when PUBLIC_BASE_URL is not set."""
        if self.public_base_url is None:
            raise ConfigurationError(
                "PUBLIC_BASE_URL is not set: whoelse needs the address it is reached at (such as "
                "https://whoelse.example.com) to give out webhook addresses."
            )
        return f"{self.public_base_url}{path}"

    @field_validator("salesforce_organization_id")
    @classmethod
    def _organization_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith("00D") or fifteen_character_id(value) is None:
            raise ValueError(
                f"SALESFORCE_ORGANIZATION_ID={value!r} is not an org id: copy the Salesforce.com Organization ID "
                "(00D…, 15 or 18 characters) from Setup > Company Information"
            )
        return value.strip()

    @field_validator("teams_admins")
    @classmethod
    def _admins_are_object_ids(cls, value: str, info: ValidationInfo) -> str:
        for admin in _split_keys(value):
            if not GUID.match(admin) and not _playground_ids(info):
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
        """What serving needs: the Slack secrets of one mode (a bot token for one workspace, or the app's client id
        and secret for many; the app token for Socket Mode only), and no webhook secret left as the example
        placeholder (it would look configured while every webhook is refused)."""
        oauth_started = self.slack_client_id is not None or self.slack_client_secret_set
        if self.slack_bot_token_set and oauth_started:
            _refuse(
                [
                    "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set: choose one mode. Unset "
                    "SLACK_BOT_TOKEN to serve many workspaces through Slack's install flow, or unset "
                    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to serve the one workspace of the bot token."
                ]
            )
        if oauth_started and socket_mode:
            _refuse(
                [
                    "SLACK_SOCKET_MODE is on with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET: Slack does not let a Socket "
                    "Mode app be installed in other workspaces. Serve over HTTP (SLACK_SOCKET_MODE=false) to serve "
                    "many workspaces, or use SLACK_BOT_TOKEN for one."
                ]
            )
        if oauth_started:
            slack = ["slack_client_id", "slack_client_secret", "slack_signing_secret", "public_base_url"]
            slack.append("whoelse_encryption_keys")
        else:
            slack = ["slack_bot_token", "slack_signing_secret", *(["slack_app_token"] * socket_mode)]
        # Slack's secrets are needed when Slack is on, or when no platform is: Teams alone needs none of them.
        slack_needed = socket_mode or self.slack_enabled or not self.teams_enabled or "slack_client_id" in slack
        problems = self._missing(slack) if slack_needed else []
        if problems and not self.slack_enabled and not self.teams_enabled:
            problems[-1] += " (Or set TEAMS_APP_ID to serve Microsoft Teams only.)"
        for name in (
            "whoelse_webhook_secret",
            "jira_webhook_secret",
            "zendesk_webhook_secret",
            "hubspot_client_secret",
            "hubspot_private_app_token",
        ):
            webhook_secret = self.secret(name)
            if webhook_secret is not None and webhook_secret.strip() and is_placeholder(webhook_secret):
                problems.append(
                    f"{name.upper()} still holds the example placeholder. "
                    f"{_WHERE_FROM[name]} Or leave it unset to turn webhooks off."
                )
        problems.extend(self._salesforce_problems())
        # Nothing configured here yet: the way in is the example file.
        first_run = slack_needed and not Path(".env").exists() and any(self._value(name) is None for name in slack)
        _refuse(problems, hint=_FIRST_RUN_HINT if first_run else "")

    def _salesforce_problems(self) -> list[str]:
        """Salesforce is off with neither variable set; with one, the other is missing; the token must be unguessable."""
        token = (self.secret("salesforce_webhook_token") or "").strip()
        if not token and self.salesforce_organization_id is None:
            return []
        if not token:
            return ["SALESFORCE_WEBHOOK_TOKEN is not set. " + _WHERE_FROM["salesforce_webhook_token"]]
        if is_placeholder(token) or len(token) < MIN_WEBHOOK_TOKEN_LENGTH or not URL_TOKEN.match(token):
            return [
                f"SALESFORCE_WEBHOOK_TOKEN must be at least {MIN_WEBHOOK_TOKEN_LENGTH} URL-safe characters, not a "
                f"placeholder. {_WHERE_FROM['salesforce_webhook_token']}"
            ]
        if self.salesforce_organization_id is None:
            return ["SALESFORCE_ORGANIZATION_ID is not set. " + _WHERE_FROM["salesforce_organization_id"]]
        return []

    def _missing(self, names: Sequence[str]) -> list[str]:
        problems = []
        for name in names:
            value = self._value(name)
            env = name.upper()
            if value is None or not value.strip():
                problems.append(f"{env} is not set. {_WHERE_FROM[name]}")
            elif name != "whoelse_encryption_keys" and is_placeholder(value):
                problems.append(f"{env} still holds the example placeholder. {_WHERE_FROM[name]}")
        return problems

    def _value(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    @property
    def slack_bot_token_set(self) -> bool:
        token = self.secret("slack_bot_token")
        return token is not None and bool(token.strip())

    @property
    def slack_client_secret_set(self) -> bool:
        secret = self.secret("slack_client_secret")
        return secret is not None and bool(secret.strip())

    @property
    def slack_oauth_set(self) -> bool:
        return self.slack_client_id is not None and self.slack_client_secret_set

    @property
    def slack_enabled(self) -> bool:
        """Slack is on: for the one workspace of SLACK_BOT_TOKEN, or for every workspace that installs whoelse."""
        return self.slack_bot_token_set or self.slack_multi_workspace

    @property
    def slack_multi_workspace(self) -> bool:
        """Slack's install flow serves many workspaces, each with its own stored token (SLACK_CLIENT_ID/SECRET)."""
        return self.slack_oauth_set and not self.slack_bot_token_set

    @property
    def slack_install_url(self) -> str:
        return f"{self.public_base_url or ''}/slack/install"

    @property
    def slack_redirect_url(self) -> str:
        return f"{self.public_base_url or ''}/slack/oauth_redirect"

    @property
    def teams_enabled(self) -> bool:
        return self.teams_app_id is not None or self.teams_allow_unauthenticated

    @property
    def webhooks_enabled(self) -> bool:
        # A placeholder never gets this far (require_for_serving refuses it); empty means unset.
        secret = self.secret("whoelse_webhook_secret")
        return secret is not None and bool(secret.strip())


def _playground_ids(info: ValidationInfo) -> bool:
    """Unauthenticated development takes the ids the Microsoft 365 Agents Playground makes up, which are not all
    GUIDs (its tenant is `00000000-0000-0000-0000-0000000000001`). Nothing is fetched or checked with them then: no
    token is validated, and without TEAMS_APP_ID none is requested."""
    return bool(info.data.get("teams_allow_unauthenticated"))


def _split_keys(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


_FIRST_RUN_HINT = " (no .env file here: `cp .env.example .env`, then fill in the Slack values)"


def _refuse(problems: list[str], *, hint: str = "") -> None:
    if len(problems) == 1:
        raise ConfigurationError(f"whoelse cannot start{hint}: {problems[0]}")
    if problems:
        raise ConfigurationError(f"whoelse cannot start{hint}:\n  - " + "\n  - ".join(problems))


_WHERE_FROM = {
    "slack_client_id": "Copy the Client ID from your Slack app's 'Basic Information' page (App Credentials).",
    "slack_client_secret": "Copy the Client Secret from your Slack app's 'Basic Information' page (App Credentials).",
    "public_base_url": (
        "Set it to the address Slack reaches this whoelse at (https://whoelse.example.com); the install page is "
        "/slack/install under it."
    ),
    "whoelse_encryption_keys": (
        "Run `whoelse keys generate` and put the key it prints in .env: each workspace's token is stored sealed."
    ),
    "slack_bot_token": "Copy the Bot User OAuth Token (xoxb-...) from your Slack app's 'OAuth & Permissions' page.",
    "slack_signing_secret": "Copy the Signing Secret from your Slack app's 'Basic Information' page.",
    "slack_app_token": (
        "Create an App-Level Token with the connections:write scope on 'Basic Information' (xapp-...); "
        "it is needed for Socket Mode only."
    ),
    "whoelse_webhook_secret": "Choose a long random string and configure the same one in your CRM or helpdesk sender.",
    "jira_webhook_secret": "Choose a long random string and enter it as the Secret of the Jira webhook (System > WebHooks).",
    "salesforce_webhook_token": (
        "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'` and end the Outbound "
        "Message's Endpoint URL with it."
    ),
    "salesforce_organization_id": "Copy the Salesforce.com Organization ID from Setup > Company Information.",
    "zendesk_webhook_secret": "Copy the signing secret from the Zendesk webhook's page (Admin Center > Webhooks > Reveal secret).",
    "hubspot_client_secret": 'Copy the Client secret from your HubSpot app\'s Auth page (README "HubSpot").',
    "hubspot_private_app_token": 'Copy the access token from your HubSpot private app\'s Auth tab (pat-...; README "HubSpot").',
}
