"""Which token issuers whoelse accepts for Teams, and where each one publishes its signing keys."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud's Bot Framework and Entra ID endpoints."""

    bot_framework_issuer: str
    bot_framework_metadata_url: str
    entra_login: str


CLOUDS = {
    "public": Cloud(
        bot_framework_issuer="https://api.botframework.com",
        bot_framework_metadata_url="https://login.botframework.com/v1/.well-known/openidconfiguration",
        entra_login="https://login.microsoftonline.com",
    ),
    "usgov": Cloud(
        bot_framework_issuer="https://api.botframework.us",
        bot_framework_metadata_url="https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
        entra_login="https://login.microsoftonline.us",
    ),
}


@dataclass(frozen=True)
class TrustPolicy:
    """Who may call `POST /api/messages`: tokens for `app_id` from one of `issuers`.

    `issuers` maps each accepted issuer to the OpenID metadata document whose keys must have signed its tokens, so a
    token cannot name one issuer and be signed with another's key.
    """

    app_id: str
    issuers: dict[str, str]
    bot_framework_issuer: str
    # Entra tokens must carry this tenant (`tid`); Bot Framework channel tokens carry none.
    tenant_id: str | None

    @property
    def metadata_urls(self) -> set[str]:
        return set(self.issuers.values())

    def is_entra(self, issuer: str) -> bool:
        return issuer in self.issuers and issuer != self.bot_framework_issuer


def trust_policy(settings: Settings) -> TrustPolicy:
    """The Bot Framework channel's tokens always; the configured tenant's Entra tokens only for a single-tenant bot.

    A multi-tenant bot (no TEAMS_TENANT_ID) accepts only the Bot Framework issuer: Entra tokens from any tenant would
    otherwise be trusted as long as they named our app id. An explicit TEAMS_OPENID_METADATA_URL replaces every key
    source (a private deployment, or tests that sign with their own keys).
    """
    if settings.teams_app_id is None:
        raise ValueError("a trust policy needs TEAMS_APP_ID")
    cloud = CLOUDS[settings.teams_cloud]
    override = settings.teams_openid_metadata_url
    issuers = {cloud.bot_framework_issuer: override or cloud.bot_framework_metadata_url}
    tenant = settings.teams_tenant_id
    if tenant is not None:
        entra_metadata = override or f"{cloud.entra_login}/{tenant}/v2.0/.well-known/openid-configuration"
        # v1 tokens name the cloud-neutral STS host, v2 tokens the cloud's login host; both are signed with the
        # tenant's published keys.
        issuers[f"https://sts.windows.net/{tenant}/"] = entra_metadata
        issuers[f"{cloud.entra_login}/{tenant}/v2.0"] = entra_metadata
    return TrustPolicy(
        app_id=settings.teams_app_id,
        issuers=issuers,
        bot_framework_issuer=cloud.bot_framework_issuer,
        tenant_id=tenant,
    )


def token_url(settings: Settings) -> str:
    """Entra ID's token endpoint for the bot's own credentials: its tenant's (single tenant) or botframework.com's."""
    if settings.teams_token_url:
        return settings.teams_token_url
    cloud = CLOUDS[settings.teams_cloud]
    return f"{cloud.entra_login}/{settings.teams_tenant_id or 'botframework.com'}/oauth2/v2.0/token"
