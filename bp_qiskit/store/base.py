"""The job-store contract: what every store must do, and the records it returns.

Rules every implementation follows (the contract suite in ``tests/test_store.py`` checks them):

- Records returned are frozen snapshots; changing the store never changes a returned record.
- Each mutating call is atomic: after a crash the store holds either all of it or none.
  In particular :meth:`BaseStore.finish_job` writes a job's result arrays *and* its DONE state
  in one transaction, so a finished job always has its result and vice versa.
- Result arrays round-trip bit for bit.
- :meth:`BaseStore.claim_job` is the only way a job becomes RUNNING; it increments
  ``attempts`` so the store counts every execution attempt.
- The remote job id is written by :meth:`BaseStore.set_remote_id` the moment the backend
  returns it, before results are awaited.
- A study may be run by one process at a time (:meth:`BaseStore.acquire_study`); different
  studies in one store may run concurrently.
- Nothing secret is stored: specs hold no credentials, and error messages pass through
  :func:`redact` first.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from numpy.typing import NDArray

from ..errors import BPQiskitError, redact
from .owner import owner_state

__all__ = [
    "BaseStore",
    "JobRecord",
    "JobState",
    "StoreError",
    "StudyBusyError",
    "StudyRecord",
    "SubmissionRecord",
    "SubmissionState",
    "UnknownStudyError",
    "redact",
]


class StoreError(BPQiskitError):
    """The store cannot be used (corrupt, locked, from a newer schema, ...)."""


class UnknownStudyError(StoreError):
    """No study with the given id (or unique id prefix / name)."""


class StudyBusyError(StoreError):
    """Another live process is running the study."""


def check_owner(study_id: str, held_by: str | None, owner: str, *, force: bool = False) -> None:
    """Raise :class:`StudyBusyError` unless ``owner`` may take a study ``held_by`` someone.

    Shared by every store so that the takeover rule is the same everywhere.
    """
    if not held_by or held_by == owner:
        return
    state = owner_state(held_by)
    if state == "gone" or (state == "unknown" and force):
        return
    hint = (
        "; if that process is gone, pass --force to take the study over"
        if state == "unknown"
        else "; stop that process first"
    )
    raise StudyBusyError(f"study {study_id} is being run by {held_by}{hint}")


class JobState(str, enum.Enum):
    """Lifecycle of a job. PENDING -> RUNNING -> DONE | FAILED (-> RUNNING on retry)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    def is_finished(self) -> bool:
        """True for DONE: the job has its result and is never executed again."""
        return self is JobState.DONE


class SubmissionState(str, enum.Enum):
    """Lifecycle of one submission of a job to a remote service (a QPU job).

    SUBMITTING is recorded *before* the submit call, so a crash between the call and the
    moment its id is persisted leaves a trace: the job is "in doubt" and is looked up by its
    tag before anything is submitted again. SUBMITTED means the service gave an id; the job
    may be queued or running. The rest are final.
    """

    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"

    def may_be_running(self) -> bool:
        """True while the service may still run (and bill) the submission."""
        return self in (SubmissionState.SUBMITTING, SubmissionState.SUBMITTED)


@dataclasses.dataclass(frozen=True)
class SubmissionRecord:
    """One submission of a job to a remote service.

    Attributes:
        study_id, key: The job.
        tag: Unique tag generated before submitting; the job carries it on the service.
        attempt: 1 for the job's first submission, 2 for its first resubmission, ...
        state: See :class:`SubmissionState`.
        remote_job_id: The service's id, once known.
        cause: Why a FAILED/CANCELLED submission ended: ``"cancelled"``, ``"timeout"``,
            ``"transient"`` or ``"permanent"`` (None otherwise).
        reason: The service's message (redacted).
        created_at, updated_at: Unix timestamps.
        usage_seconds: QPU seconds billed, None until the service reports them.
        provenance: What ran: backend, instance, physical qubits, calibration time, options,
            shots, timing (never a credential).
    """

    study_id: str
    key: str
    tag: str
    attempt: int
    state: SubmissionState
    remote_job_id: str | None
    cause: str | None
    reason: str | None
    created_at: float
    updated_at: float
    usage_seconds: float | None
    provenance: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StudyRecord:
    """A stored study."""

    id: str
    name: str
    spec: dict[str, Any]
    version: str
    seed: int
    created_at: float
    owner: str | None


@dataclasses.dataclass(frozen=True)
class JobRecord:
    """A stored job: one chunk of samples of one cell.

    Attributes:
        study_id: Owning study.
        key: ``n<n>_L<L>_c<index>``, unique within the study.
        num_qubits, num_layers, index, start, stop: The job's identity (see
            :class:`bp_qiskit.execution.jobs.JobKey`).
        rng: The random stream, ``[seed, n, L, index]`` as SeedSequence entropy + spawn key.
        backend: Backend name.
        state: Current state.
        attempts: Number of times the job was claimed for execution.
        shots_requested: Shots per value asked for (0 = exact).
        shots_executed: Shots per value the backend reports (None until DONE).
        remote_job_id: The backend's job id, once known.
        error: Message of the last failure.
        created_at, started_at, finished_at: Unix timestamps.
        usage_seconds: QPU usage the service reported for the job (None for simulators).
    """

    study_id: str
    key: str
    num_qubits: int
    num_layers: int
    index: int
    start: int
    stop: int
    rng: tuple[int, ...]
    backend: str
    state: JobState
    attempts: int
    shots_requested: int
    shots_executed: int | None
    remote_job_id: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    usage_seconds: float | None = None


class BaseStore(abc.ABC):
    """Persistent record of studies, jobs and results."""

    # -- studies -----------------------------------------------------------------------------

    @abc.abstractmethod
    def create_study(
        self, name: str, spec: Mapping[str, Any], version: str, seed: int, jobs: Sequence[JobRecord]
    ) -> str:
        """Record a study and all its planned jobs atomically; return the new study id.

        ``jobs`` are templates: their ``study_id`` is replaced by the new id.
        """

    @abc.abstractmethod
    def get_study(self, ref: str) -> StudyRecord:
        """Look a study up by id, unique id prefix, or name (the newest of that name)."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """All studies, oldest first."""

    @abc.abstractmethod
    def acquire_study(self, study_id: str, owner: str, *, force: bool = False) -> None:
        """Mark ``owner`` (``host:pid:start``) as the study's runner.

        Raises :class:`StudyBusyError` if another owner may still be alive. An owner whose
        process is gone (crash, kill -9, or a pid since reused) is taken over. An owner on
        another host cannot be checked from here: ``force`` takes it over (the user has
        confirmed it is gone); a live owner on this host is refused even then.
        """

    @abc.abstractmethod
    def release_study(self, study_id: str, owner: str) -> None:
        """Clear the runner mark if ``owner`` holds it."""

    @abc.abstractmethod
    def delete_study(self, study_id: str) -> None:
        """Remove a study with its cells, jobs, results and submissions, in one transaction.

        Refuses (:class:`StudyBusyError`) while a live process runs it.
        """

    # -- jobs --------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_jobs(self, study_id: str) -> list[JobRecord]:
        """All jobs of a study, in planning order."""

    @abc.abstractmethod
    def add_job(self, study_id: str, job: JobRecord) -> None:
        """Append one PENDING job to a study (adaptive studies plan as they go)."""

    @abc.abstractmethod
    def claim_job(self, study_id: str, key: str) -> JobRecord:
        """Mark a job RUNNING and count the attempt; refuse a finished job (StoreError)."""

    @abc.abstractmethod
    def set_remote_id(self, study_id: str, key: str, remote_job_id: str) -> None:
        """Persist the backend's job id the moment it exists."""

    @abc.abstractmethod
    def finish_job(
        self,
        study_id: str,
        key: str,
        arrays: Mapping[str, NDArray[Any]],
        shots_executed: int,
        usage_seconds: float | None = None,
    ) -> None:
        """Store a job's result arrays and mark it DONE, in one transaction."""

    @abc.abstractmethod
    def fail_job(
        self, study_id: str, key: str, error: str, *, state: JobState = JobState.FAILED
    ) -> None:
        """Record a failed (or cancelled / interrupted) attempt with its reason.

        A DONE job is never changed: its result is already committed.
        """

    # -- remote submissions -------------------------------------------------------------------

    @abc.abstractmethod
    def add_submission(self, study_id: str, key: str, tag: str) -> SubmissionRecord:
        """Record that job ``key`` is about to be submitted with ``tag`` (SUBMITTING).

        Refuses (StoreError) while an earlier submission of the job may still be running:
        the store itself guarantees that a job is never submitted twice at once.
        """

    @abc.abstractmethod
    def update_submission(
        self,
        study_id: str,
        tag: str,
        *,
        state: SubmissionState | None = None,
        remote_job_id: str | None = None,
        cause: str | None = None,
        reason: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        """Change the fields given; ``provenance`` is merged into what is stored.

        Giving ``remote_job_id`` also sets the job's ``remote_job_id`` in the same
        transaction.
        """

    @abc.abstractmethod
    def set_submission_usage(self, study_id: str, tag: str, usage_seconds: float | None) -> None:
        """Record the QPU usage the service reports (None: not known yet)."""

    @abc.abstractmethod
    def get_submissions(self, study_id: str) -> list[SubmissionRecord]:
        """Every submission of the study, in the order they were recorded."""

    @abc.abstractmethod
    def get_results(self, study_id: str) -> dict[str, dict[str, NDArray[Any]]]:
        """Result arrays of every DONE job, by job key."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources."""

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
