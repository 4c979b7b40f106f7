"""Where a stored study stands, read from the store alone: nothing here runs or submits.

``status`` and ``list`` ask these; a study's kind says per cell what is done
(:meth:`~bp_qiskit.execution.kinds.StudyKind.progress`), and the jobs and submissions say
whether it is running, waiting on a QPU, held, failed or interrupted.
"""

from __future__ import annotations

from ..spec import StudySpec
from ..store import BaseStore, JobState, owner_alive
from .context import DEFAULT_MAX_ATTEMPTS
from .kinds import CellProgress, kind_of
from .remote_records import HOLDING_CAUSES, latest_submissions, retry_streak

__all__ = ["study_progress", "study_state"]


def study_progress(store: BaseStore, study_id: str) -> list[CellProgress]:
    """Per cell: jobs done, samples, shots used and the current estimate."""
    spec = StudySpec.from_dict(store.get_study(study_id).spec)
    return kind_of(spec).progress(store, study_id, spec)


def study_state(store: BaseStore, study_id: str) -> str:
    """A study's state: done, running, submitted, paused, failed, interrupted or pending.

    ``submitted``: QPU jobs may be running on the service with nobody collecting them
    (``resume`` does). ``paused``: a QPU job is held until ``resume --resubmit`` (cancelled,
    timed out, rejected, vanished, reason unknown, or out of retries).
    """
    study = store.get_study(study_id)
    spec = StudySpec.from_dict(study.spec)
    jobs = store.get_jobs(study_id)
    if kind_of(spec).is_finished(store, study_id, spec):
        return "done"
    owner = study.owner
    if owner and owner_alive(owner):
        return "running"
    unfinished = {j.key for j in jobs if not j.state.is_finished()}
    subs = store.get_submissions(study_id)
    latest = latest_submissions(subs)
    if any(s.state.may_be_running() for s in subs if s.key in unfinished):
        return "submitted"
    if any(s.cause in HOLDING_CAUSES for k, s in latest.items() if k in unfinished):
        return "paused"
    if any(retry_streak(subs, k) >= DEFAULT_MAX_ATTEMPTS for k in unfinished):
        return "paused"  # out of retries: held until resume --resubmit
    if any(j.state is JobState.FAILED for j in jobs):
        return "failed"
    if any(j.attempts for j in jobs):
        return "interrupted"
    return "pending"
