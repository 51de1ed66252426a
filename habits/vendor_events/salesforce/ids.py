"""Salesforce ids: 15 case-sensitive characters, or 18 with a suffix that spells out the case of the first 15, so an
id survives places that ignore case. People copy the 15-character form from Setup; the API sends 18."""

from __future__ import annotations

import re

RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
CASE_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def fifteen_character_id(record_id: str) -> str | None:
    """The case-sensitive 15-character form of a Salesforce id (an 18-character one's case comes from its suffix, so
    an id pasted in the wrong case still reads right); None for anything that is not an id."""
    record_id = record_id.strip()
    if not RECORD_ID.match(record_id):
        return None
    if len(record_id) == 15:
        return record_id
    base, suffix = record_id[:15], record_id[15:].upper()
    restored = []
    for chunk, check in enumerate(suffix):
        bits = CASE_SUFFIX_ALPHABET.find(check)
        if bits < 0:
            return None
        for position, character in enumerate(base[chunk * 5 : chunk * 5 + 5]):
            upper = bool(bits & (1 << position))
            if upper and not character.isalpha():
                return None  # The suffix speaks of the case of a digit: the id was mistyped.
            restored.append(character.upper() if upper else character.lower())
    fifteen = "".join(restored)
    # An id kept in one case (pasted into a case-insensitive place) takes its case from the suffix; one in mixed
    # case must agree with it.
    single_case = base == base.lower() or base == base.upper()
    return fifteen if single_case or fifteen == base else None


def eighteen_character_id(fifteen: str) -> str:
    """The 18-character form Salesforce shows in its API: the id, then the case of each five characters."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << position for position, c in enumerate(fifteen[chunk * 5 : chunk * 5 + 5]) if c.isupper())
        suffix += CASE_SUFFIX_ALPHABET[bits]
    return fifteen + suffix


def same_organization(configured: str, sent: str) -> bool:
    """Whether the message's OrganizationId is the configured org, given in either its 15- or 18-character form."""
    ours, theirs = fifteen_character_id(configured), fifteen_character_id(sent)
    return ours is not None and ours == theirs
