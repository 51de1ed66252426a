"""`GET /slack/install` (the "Add to Slack" page) and `GET /slack/oauth_redirect` (where Slack sends the installer
back), handed to Bolt's install flow; served only when whoelse serves many workspaces."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.oauth.flow import INSTALL_PATH, REDIRECT_PATH


def _flow(request: Request) -> AsyncOAuthFlow:
    bolt: AsyncApp = request.app.state.slack.bolt
    assert bolt.oauth_flow is not None  # built with the flow whenever these routes are registered
    return bolt.oauth_flow


def _bolt_request(request: Request) -> AsyncBoltRequest:
    return AsyncBoltRequest(
        body="",
        query=request.url.query,
        headers=request.headers,  # type: ignore[arg-type]
    )


def register(app: FastAPI) -> None:
    @app.get(INSTALL_PATH, include_in_schema=False)
    async def slack_install(request: Request) -> Response:
        return to_starlette_response(await _flow(request).handle_installation(_bolt_request(request)))

    @app.get(REDIRECT_PATH, include_in_schema=False)
    async def slack_oauth_redirect(request: Request) -> Response:
        return to_starlette_response(await _flow(request).handle_callback(_bolt_request(request)))
