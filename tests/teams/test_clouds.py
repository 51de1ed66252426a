"""Which issuers a bot trusts, per cloud and tenancy, and where their keys are read from."""

from __future__ import annotations

from bot.settings import Settings
from bot.teams.clouds import trust_policy
from tests.support.teams import APP_ID, TENANT_ID


def test_a_multi_tenant_bot_in_the_public_cloud_trusts_only_the_bot_framework() -> None:
    policy = trust_policy(Settings(_env_file=None, teams_app_id=APP_ID))
    assert policy.issuers == {
        "https://api.botframework.com": "https://login.botframework.com/v1/.well-known/openidconfiguration"
    }


def test_a_single_tenant_bot_also_trusts_its_tenants_entra_id_with_the_tenants_keys() -> None:
    policy = trust_policy(Settings(_env_file=None, teams_app_id=APP_ID, teams_tenant_id=TENANT_ID))
    entra_keys = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    assert policy.issuers == {
        "https://api.botframework.com": "https://login.botframework.com/v1/.well-known/openidconfiguration",
        f"https://sts.windows.net/{TENANT_ID}/": entra_keys,
        f"https://login.microsoftonline.com/{TENANT_ID}/v2.0": entra_keys,
    }
    assert not policy.is_entra("https://api.botframework.com")
    assert policy.is_entra(f"https://sts.windows.net/{TENANT_ID}/")


def test_the_us_government_cloud_uses_its_own_endpoints() -> None:
    settings = Settings(_env_file=None, teams_app_id=APP_ID, teams_tenant_id=TENANT_ID, teams_cloud="usgov")
    assert trust_policy(settings).issuers == {
        "https://api.botframework.us": "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
        f"https://sts.windows.net/{TENANT_ID}/": (
            f"https://login.microsoftonline.us/{TENANT_ID}/v2.0/.well-known/openid-configuration"
        ),
        f"https://login.microsoftonline.us/{TENANT_ID}/v2.0": (
            f"https://login.microsoftonline.us/{TENANT_ID}/v2.0/.well-known/openid-configuration"
        ),
    }


def test_an_explicit_metadata_url_serves_every_issuer() -> None:
    settings = Settings(
        _env_file=None,
        teams_app_id=APP_ID,
        teams_tenant_id=TENANT_ID,
        teams_openid_metadata_url="https://keys.example.com/.well-known/openid-configuration",
    )
    assert trust_policy(settings).metadata_urls == {"https://keys.example.com/.well-known/openid-configuration"}
