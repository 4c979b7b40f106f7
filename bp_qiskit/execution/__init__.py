"""Execution: jobs (build -> execute -> combine), one run loop, and study kinds in a table.

Layer 5: imports specs, backends, the store and results; nothing below imports it.
"""

from __future__ import annotations

from .context import JobOutput, RunContext
from .jobs import JobBuilder, JobKey, JobResult, plan_cells, plan_jobs
from .kinds import KINDS, StudyKind, kind_of
from .loop import run_jobs
from .studies import (
    collect,
    create_study,
    run_stored,
    run_study,
    study_kind,
    study_spec,
)
from .study_status import study_progress, study_state

__all__ = [
    "KINDS",
    "JobBuilder",
    "JobKey",
    "JobOutput",
    "JobResult",
    "RunContext",
    "StudyKind",
    "collect",
    "create_study",
    "kind_of",
    "plan_cells",
    "plan_jobs",
    "run_jobs",
    "run_stored",
    "run_study",
    "study_kind",
    "study_progress",
    "study_spec",
    "study_state",
]
