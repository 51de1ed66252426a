"""Microsoft Teams: activities arrive at `POST /api/messages`, the Bot Framework's conventional endpoint."""

from fastapi import FastAPI

from handlers.teams import messages


def register(app: FastAPI) -> None:
    app.add_api_route("/api/messages", messages.messages, methods=["POST"], include_in_schema=False)


__all__ = ["register"]
