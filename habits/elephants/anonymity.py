"""Who has taken part in a poll, kept without keeping who anyone is.

A person's token is HMAC-SHA256(poll secret, "workspace:user"). While the poll is open the secret lets whoelse tell
whether someone already named an elephant or voted; once it closes the secret is deleted, and the tokens with it,
so nothing left in the database can be tied back to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable


def new_secret() -> str:
    return secrets.token_hex(32)


def participant_token(secret: str, *, workspace_id: str, user_id: str) -> str:
    return hmac.new(secret.encode(), f"{workspace_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


def with_token(tokens: Iterable[str] | None, token: str) -> list[str]:
    """The set plus `token`, sorted: the stored order must not be the order in which people took part."""
    return sorted({*(tokens or ()), token})


def participant_count(*token_sets: Iterable[str] | None) -> int:
    """Different people across the sets (one person's token is the same in all of a poll's sets)."""
    everyone: set[str] = set()
    for tokens in token_sets:
        everyone.update(tokens or ())
    return len(everyone)


def judged_token(secret: str, *, workspace_id: str, user_id: str, submission_id: str) -> str:
    """Marks that this person had this elephant on a ballot they sent: voted for it or not, the token is the same.

    Every elephant on a sent ballot gets one, so the set says which elephants someone has judged (all of those they
    were shown) and never which of them they voted for.
    """
    return hmac.new(
        secret.encode(), f"{workspace_id}:{user_id}:{submission_id}".encode(), hashlib.sha256
    ).hexdigest()


def with_tokens(tokens: Iterable[str] | None, added: Iterable[str]) -> list[str]:
    """The set plus every token of `added`, sorted, like `with_token`."""
    return sorted({*(tokens or ()), *added})
