"""Scheduler tests start from no recorded job runs, and leave none behind for the next test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scheduler import jobs_for_tests


@pytest.fixture(autouse=True)
def no_runs_yet() -> Iterator[None]:
    jobs_for_tests.runs.clear()
    yield
    jobs_for_tests.runs.clear()
