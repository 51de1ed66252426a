"""Slack's install flow for whoelse: the "Add to Slack" page, and the page Slack sends the installer back to.

Bolt's AsyncOAuthFlow does the protocol (a single-use state tied to the browser by a cookie, oauth.v2.access, the
installation store); here are whoelse's pages, the refusal of org-wide (Enterprise Grid) installs, and an install
that could not be saved shown as such rather than as a traceback.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from bot.slack.oauth.installation_store import SqlInstallationStore
from bot.slack.oauth.scopes import install_scopes
from bot.slack.oauth.state_store import SqlOAuthStateStore

logger = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# How long an install link stays usable once the install page handed it out.
STATE_EXPIRATION_SECONDS = 600
# A rotating token is replaced when it has less than this left (Bolt's default).
TOKEN_ROTATION_MINUTES = 120


class OrgWideInstallRefused(BoltError):
    """An install for a whole Enterprise Grid organization: whoelse is installed one workspace at a time."""


class WhoelseOAuthFlow(AsyncOAuthFlow):
    def __init__(self, *, client: AsyncWebClient, settings: AsyncOAuthSettings, install_url: str) -> None:
        super().__init__(client=client, logger=logger, settings=settings)
        self.install_url = install_url

    async def build_install_page_html(self, url: str, request: AsyncBoltRequest) -> str:
        return _page(
            "Add whoelse to Slack",
            "whoelse asks “Who else needs to know?” at the deal and ticket moments that matter, and runs weekly "
            "anonymous polls and cross-functional round-tables. Install it in your Slack workspace:",
            f'<a href="{html.escape(url)}"><img alt="Add to Slack" height="40" width="139" '
            'src="https://platform.slack-edge.com/img/add_to_slack.png" '
            'srcset="https://platform.slack-edge.com/img/add_to_slack.png 1x, '
            'https://platform.slack-edge.com/img/add_to_slack@2x.png 2x"></a>',
        )

    async def store_installation(self, request: AsyncBoltRequest, installation: Installation) -> None:
        if installation.is_enterprise_install or not installation.team_id:
            await self._give_back(installation)
            raise OrgWideInstallRefused("org-wide install")
        try:
            await super().store_installation(request, installation)
        except (SQLAlchemyError, OSError) as error:
            logger.exception("could not save the Slack install of workspace %s", installation.team_id)
            raise BoltError("the install could not be saved") from error

    async def _give_back(self, installation: Installation) -> None:
        """Revokes the token of an install whoelse refuses, so no working token is left behind unused."""
        if installation.bot_token is None:
            return
        try:
            await self.client.auth_revoke(token=installation.bot_token)
        except SlackApiError as error:
            logger.warning(
                "could not revoke the token of a refused org-wide install: %s", error.response.get("error")
            )


def oauth_flow(
    settings: Settings,
    *,
    client: AsyncWebClient,
    installations: SqlInstallationStore,
    states: SqlOAuthStateStore,
) -> WhoelseOAuthFlow:
    install_url = settings.slack_install_url
    client_id = settings.slack_client_id
    client_secret = settings.secret("slack_client_secret")
    assert client_id is not None and client_secret is not None  # settings.require_for_serving checked them
    return WhoelseOAuthFlow(
        client=client,
        install_url=install_url,
        settings=AsyncOAuthSettings(
            client_id=client_id,
            client_secret=client_secret,
            scopes=install_scopes(),
            user_scopes=[],
            redirect_uri=settings.slack_redirect_url,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            installation_store=installations,
            state_store=states,
            state_expiration_seconds=STATE_EXPIRATION_SECONDS,
            token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
            callback_options=AsyncCallbackOptions(success=_installed, failure=_not_installed(install_url)),
            logger=logger,
        ),
    )


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    logger.info(
        "whoelse installed in Slack workspace %s",
        installation.team_id,
        extra={"workspace": installation.team_id, "installer": installation.user_id},
    )
    team = html.escape(installation.team_name or "your workspace")
    return _response(
        200,
        "whoelse is installed",
        f"whoelse is now installed in {team}.",
        "Next: invite it to a channel where deals or tickets are discussed (<code>/invite @whoelse</code>) and type "
        "<code>/whoelse help</code> there.",
    )


def _not_installed(install_url: str) -> Callable[[AsyncFailureArgs], Awaitable[BoltResponse]]:
    again = f'<a href="{html.escape(install_url)}">Start the install again</a>.'

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        reason = args.reason
        logger.warning("a Slack install did not complete: %s", reason, extra={"reason": reason})
        if isinstance(args.error, OrgWideInstallRefused):
            return _response(
                400,
                "Install whoelse per workspace",
                "whoelse is installed one workspace at a time, not across a whole Enterprise Grid organization, "
                "so this org-wide install was not kept.",
                "Install it in each workspace that wants it, choosing that workspace (not the organization) on "
                f"Slack's install page. {again}",
            )
        if reason == "access_denied":
            return _response(200, "Install cancelled", "The install was cancelled; nothing was installed.", again)
        if reason == "invalid_browser":
            return _response(
                400,
                "Install link not recognised",
                "This install was started in another browser, or too long ago (an install link lasts ten minutes).",
                again,
            )
        if reason == "invalid_state":
            return _response(
                401, "Install link used up", "This install link was already used, or has expired.", again
            )
        if reason in ("missing_code", "invalid_code"):
            return _response(401, "Install not confirmed", "Slack did not confirm this install.", again)
        if reason == "storage_error":
            return _response(
                500, "Install not saved", "Slack confirmed the install, but whoelse could not save it.", again
            )
        return _response(
            400, "Install not completed", f"Slack did not complete the install ({html.escape(reason)}).", again
        )

    return failure


def _response(status: int, title: str, *paragraphs: str) -> BoltResponse:
    return BoltResponse(
        status=status, body=_page(title, *paragraphs), headers={"Content-Type": "text/html; charset=utf-8"}
    )


def _page(title: str, *paragraphs: str) -> str:
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
