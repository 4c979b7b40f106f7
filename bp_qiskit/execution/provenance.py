"""What ran on a QPU, per submission: read from the store, refreshed from the service.

Every submission of a remote job keeps its provenance in the store (backend, instance,
physical qubits, calibration time, final options, shots asked for and executed, the result's
timing metadata) and its usage. Usage is None until the service has computed it, and
``status`` and ``report`` refresh it (:func:`refresh_remote`); a job that may still run gets
its queue state from the service, and a submission declared lost is looked up by its tag
again (:func:`~bp_qiskit.execution.remote_records.adopt_lost`). Nothing here submits anything.
"""

from __future__ import annotations

from typing import Any

from ..backends.runtime_records import job_usage, normalize_status
from ..store import BaseStore, SubmissionState
from .remote_records import adopt_lost

__all__ = ["account_service", "refresh_remote", "submission_rows"]


def submission_rows(store: BaseStore, study_id: str) -> list[dict[str, Any]]:
    """Every submission of the study as plain data (JSON-ready), oldest first."""
    rows = []
    for s in store.get_submissions(study_id):
        rows.append(
            {
                "key": s.key,
                "attempt": s.attempt,
                "tag": s.tag,
                "remote_job_id": s.remote_job_id,
                "state": s.state.value,
                "cause": s.cause,
                "reason": s.reason,
                "usage_seconds": s.usage_seconds,
                "submitted_at": s.created_at,
                **s.provenance,
            }
        )
    return rows


def account_service(service: Any = None) -> Any:
    """``service``, or the saved IBM account's, or None when there is no account."""
    if service is not None:
        return service
    from ..backends.services import IBMService

    try:
        return IBMService()
    except Exception:  # no account here: the caller says "unknown" instead of failing
        return None


def _refresh_row(
    store: BaseStore,
    study_id: str,
    service: Any,
    row: dict[str, Any],
    live: bool,
    needs_usage: bool,
) -> None:
    """One submission's queue state (live) or billed usage (ended), from the service."""
    try:
        job = service.job(row["remote_job_id"])
        if live:
            row["queue_state"] = normalize_status(job.status())
        if needs_usage:
            row["usage_seconds"] = job_usage(job)
            if row["usage_seconds"] is not None:
                store.set_submission_usage(study_id, row["tag"], row["usage_seconds"])
    except Exception as exc:  # a hiccup or a vanished job must not break `status`
        if live:
            row["queue_state"] = f"unknown ({type(exc).__name__})"


def refresh_remote(store: BaseStore, study_id: str, service: Any) -> list[dict[str, Any]]:
    """Submission rows with ``queue_state`` for live jobs, and usage refreshed where known.

    Without a service (no account) live jobs read ``unknown (no IBM Quantum account)``.
    """
    if service is not None and callable(getattr(service, "find_jobs", None)):
        # A job declared lost may have turned up since: adopt it (resume collects it) or
        # record it as a billed duplicate.
        instance = getattr(service, "instance", None)
        adopt_lost(store, study_id, lambda tag: list(service.find_jobs(tag, instance)))
    rows = submission_rows(store, study_id)
    for row in rows:
        live = SubmissionState(row["state"]).may_be_running()
        needs_usage = not live and row["usage_seconds"] is None
        if not row["remote_job_id"] or not (live or needs_usage):
            continue
        if service is None:
            if live:
                row["queue_state"] = "unknown (no IBM Quantum account)"
            continue
        _refresh_row(store, study_id, service, row, live, needs_usage)
    return rows
