"""The baseline: FastAPI + Bolt that verify and acknowledge, and do nothing else (and, when TEAMS_APP_ID is set,
a Teams endpoint that only checks the token: bench/bare_teams.py).

Benchmarks run it beside whoelse in the same run, so whoelse's figures are read as ratios to what the framework
alone costs on this machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.bare_teams import add_teams_route


def create_bare_app() -> FastAPI:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    secret = os.environ["WHOELSE_WEBHOOK_SECRET"].encode()

    @bolt.event("message")
    async def on_message(body: dict[str, Any]) -> None:
        return None

    @bolt.command("/whoelse")
    async def on_command(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    app = FastAPI()

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    @app.post("/webhooks/generic")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-whoelse-signature", "")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"status": "accepted"}, status_code=202)

    hubspot_secret = os.environ.get("HUBSPOT_CLIENT_SECRET", "").encode()
    public_base_url = os.environ.get("PUBLIC_BASE_URL", "")

    @app.post("/webhooks/hubspot")
    async def hubspot(request: Request) -> JSONResponse:
        # HubSpot's v3 signature over method, the URI it called, the body and the timestamp; nothing stored.
        body = await request.body()
        timestamp = request.headers.get("x-hubspot-request-timestamp", "")
        signed = b"POST" + (public_base_url + request.url.path).encode() + body + timestamp.encode()
        expected = base64.b64encode(hmac.new(hubspot_secret, signed, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, request.headers.get("x-hubspot-signature-v3", "")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"status": "accepted"}, status_code=202)

    if os.environ.get("TEAMS_APP_ID"):
        add_teams_route(
            app, metadata_url=os.environ["TEAMS_OPENID_METADATA_URL"], app_id=os.environ["TEAMS_APP_ID"]
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
