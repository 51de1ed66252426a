"""Every feature's job source, in one list the app hands to the scheduler service."""

from __future__ import annotations

from scheduler.jobs import JobSource


def all_job_sources() -> list[JobSource]:
    # Features add theirs here (round-table reminders, elephant polls, ...), importing inside this function so the
    # scheduler does not import every feature at module load.
    from scheduler import elephant_jobs, follow_up_jobs, removal_jobs, roundtable_jobs

    return [
        elephant_jobs.job_source,
        roundtable_jobs.job_source,
        follow_up_jobs.job_source,
        removal_jobs.job_source,
    ]
