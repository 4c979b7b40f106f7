"""What a run of one study carries, and what the run loops ask of a study kind.

Shared by the local loop (:mod:`bp_qiskit.execution.loop`) and the remote one
(:mod:`bp_qiskit.execution.remote`), which therefore import it rather than each other.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from typing import Any, Protocol

from numpy.typing import NDArray

from ..backends import Backend
from ..backends.protocol import OnSubmit
from ..spec import StudySpec
from ..store import BaseStore, JobRecord
from .jobs import BuiltJob, JobBuilder

__all__ = ["DEFAULT_MAX_ATTEMPTS", "JobOutput", "JobRunner", "RunContext"]

DEFAULT_MAX_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class JobOutput:
    """What one job commits: its arrays, the shots executed, and the QPU usage reported."""

    arrays: dict[str, NDArray[Any]]
    shots: int
    usage_seconds: float | None = None


class JobRunner(Protocol):
    """What the loop asks of a study kind: run one job, or build and combine it in steps."""

    def execute(
        self, builder: JobBuilder, rec: JobRecord, backend: Backend, on_submit: OnSubmit
    ) -> JobOutput:
        """Build, evaluate and combine one job."""
        ...

    def build(self, builder: JobBuilder, rec: JobRecord) -> BuiltJob:
        """The job's task (the remote path submits it itself)."""
        ...

    def combine(self, builder: JobBuilder, built: BuiltJob, evaluations: list[Any]) -> JobOutput:
        """The job's output from the evaluations of its task."""
        ...


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Everything a run of one study needs; built once per ``run``/``resume``.

    Attributes:
        store: Where jobs and results are recorded.
        study_id: The study.
        spec: Its resolved spec.
        builder: The study's job builder (owns the per-cell circuit cache).
        backend: The backend jobs run on in this process (None with an executor).
        executor: Runs jobs in worker processes; each worker builds its own backend.
        progress: Show progress bars.
        max_attempts: Attempts per job in one run.
        max_in_flight: Jobs handed to the executor at a time (bounds memory).
        resubmit: Remote jobs that were cancelled, timed out or rejected are submitted
            again (otherwise they hold the study as paused).
    """

    store: BaseStore
    study_id: str
    spec: StudySpec
    builder: JobBuilder
    backend: Backend | None = None
    executor: Executor | None = None
    progress: bool = True
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_in_flight: int = 8
    resubmit: bool = False
