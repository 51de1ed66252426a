"""Slack workspaces that installed whoelse through Slack's install flow, and the install links under way.

One row per workspace: installing again replaces it (new scopes, a new token). Tokens are kept sealed with
bot.secret_box (listed in models/sealed_columns.py), never in plain text. The installer's own user token is not
kept: whoelse asks for no user scopes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PLATFORM_ID_LENGTH, Base, utcnow

# Long enough for a sealed token (Fernet adds about 100 characters to a token of some 80).
SEALED_LENGTH = 1024


class SlackInstallation(Base):
    __tablename__ = "slack_installations"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    app_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    team_name: Mapped[str | None] = mapped_column(String(255))
    bot_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    bot_user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LENGTH))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    bot_token_sealed: Mapped[str] = mapped_column(String(SEALED_LENGTH))
    # Set when the Slack app rotates tokens: the token then expires, and this refresh token gets the next one.
    bot_refresh_token_sealed: Mapped[str | None] = mapped_column(String(SEALED_LENGTH))
    bot_token_expires_at: Mapped[datetime | None] = mapped_column()
    installer_user_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LENGTH))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlackOAuthState(Base):
    """An install link handed out and not used yet; only a hash of its state is kept, and it is used once."""

    __tablename__ = "slack_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
