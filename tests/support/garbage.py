"""Request bodies that no JSON endpoint can read: each must be refused with a 4xx, never a 500 and a traceback."""

from __future__ import annotations

import gzip
import json

EVENT = json.dumps({"type": "event_callback", "event": {"type": "message", "text": "Deal moved"}}).encode()
DEPTH = 10_000

UNREADABLE_JSON: dict[str, bytes] = {
    "gzip-compressed": gzip.compress(EVENT),
    "invalid UTF-8": b'{"type": "event_callback", "text": "\xff\xfe"}',
    "malformed JSON": EVENT[:-5],
    "10,000-deep array": b"[" * DEPTH + b"]" * DEPTH,
    "10,000-deep object": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "not an object": b'["event_callback"]',
}
