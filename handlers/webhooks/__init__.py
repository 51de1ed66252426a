"""Signed webhooks from CRMs and helpdesks."""

from fastapi import FastAPI

from handlers.webhooks import generic, hubspot, jira, salesforce, sources, zendesk


def register(app: FastAPI) -> None:
    # Routes go on the app itself: every level of included routers is walked on each request, and webhooks are the
    # hot path (a nested APIRouter cost about a fifth of a webhook's handling time).
    app.add_api_route("/webhooks/generic", generic.generic_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/jira", jira.jira_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/zendesk", zendesk.zendesk_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/hubspot", hubspot.hubspot_webhook, methods=["POST"], status_code=202)
    # Before the connections' route, which has the same shape: a Salesforce address from settings is matched first,
    # and any other key is looked up among the workspaces' Salesforce connections.
    app.add_api_route("/webhooks/salesforce/{token}", salesforce.salesforce_webhook, methods=["POST"])
    # A workspace's own connection (`/whoelse connect <source>`), found by the key in its address.
    app.add_api_route("/webhooks/{source}/{key}", sources.connected_webhook, methods=["POST"], status_code=202)


__all__ = ["register"]
