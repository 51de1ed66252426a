"""What the app logged while a test ran: a refusal is a reply, never a failure in the log."""

from __future__ import annotations

import logging

import pytest


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of the test's own run at ERROR or above, or carrying a traceback (a crash someone caught and logged)."""
    return [record for record in caplog.get_records("call") if record.levelno >= logging.ERROR or record.exc_info]
