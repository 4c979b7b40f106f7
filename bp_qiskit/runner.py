"""Run a study start to finish: record it in a store, execute its jobs, collect the result."""

from __future__ import annotations

from .backends import EstimatorBackend
from .manager import collect, create_study, run_jobs
from .results import StudyResult
from .spec import StudySpec
from .store import BaseStore, InMemoryStore
from .study import CellData

__all__ = ["StudyFailedError", "run_study"]


class StudyFailedError(RuntimeError):
    """Some jobs still failed after their retries; the finished ones are in the store."""


def run_study(
    spec: StudySpec,
    *,
    backend: EstimatorBackend | None = None,
    progress: bool = True,
    store: BaseStore | None = None,
) -> tuple[StudyResult, list[CellData]]:
    """Run every job of ``spec`` and return the summary and the per-cell sample data.

    Without ``store`` the study lives in an :class:`~bp_qiskit.store.InMemoryStore`; pass a
    :class:`~bp_qiskit.store.SQLiteStore` to make it survive crashes (``bp-qiskit run`` does).
    """
    store = store if store is not None else InMemoryStore()
    study_id = create_study(store, spec)
    failed = run_jobs(store, study_id, backend=backend, progress=progress)
    if failed:
        raise StudyFailedError(
            f"{len(failed)} job(s) of study {study_id} failed after retries; first: "
            f"{failed[0].key}: {failed[0].error}; finished work is kept, retry with "
            f"'bp-qiskit resume {study_id}'"
        )
    return collect(store, study_id)
