"""The job manager: a study's jobs recorded in a store, executed, retried, resumed, collected.

Every job is recorded (PENDING) when the study is created, so a crash at any moment loses
only the job in flight. Running a job is: claim it (RUNNING, attempts + 1), execute it, and
commit its result arrays together with the DONE state in one transaction. Jobs found
RUNNING when a study is resumed were interrupted (crash, kill -9): they run again, and the
extra attempt is counted. A job's random stream depends only on the study seed and the job's
identity, so what is recomputed is bit-for-bit what would have been computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ._version import __version__
from .backends import EstimatorBackend
from .results import StudyResult, build_result
from .spec import StudySpec
from .statistics import corrected_variance
from .store import BaseStore, JobRecord, JobState, StoreError
from .store._owner import current_owner
from .study import (
    Cell,
    CellData,
    JobKey,
    JobResult,
    assemble_cell,
    backend_for,
    build_job,
    combine_job,
    execute_job,
    plan_cells,
    plan_jobs,
)

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "CellProgress",
    "cell_progress",
    "collect",
    "create_study",
    "job_key",
    "job_result",
    "record_for",
    "run_jobs",
    "run_one",
    "study_spec",
    "study_state",
]

DEFAULT_MAX_ATTEMPTS = 3


def job_key(job: JobKey | JobRecord) -> str:
    """The job's key in the store: ``n<n>_L<L>_c<index>``."""
    if isinstance(job, JobKey):
        return f"n{job.cell.num_qubits}_L{job.cell.num_layers}_c{job.index}"
    return f"n{job.num_qubits}_L{job.num_layers}_c{job.index}"


def record_for(
    spec: StudySpec, job: JobKey, shots: int | None = None, *, key: str | None = None
) -> JobRecord:
    """The store record of a planned job (PENDING, attempts 0); ``key`` defaults to job_key."""
    n, layers = job.cell.num_qubits, job.cell.num_layers
    return JobRecord(
        study_id="",
        key=key or job_key(job),
        num_qubits=n,
        num_layers=layers,
        index=job.index,
        start=job.start,
        stop=job.stop,
        rng=(spec.study.seed, n, layers, job.index),
        backend=spec.backend.name,
        state=JobState.PENDING,
        attempts=0,
        shots_requested=spec.sampling.shots if shots is None else shots,
        shots_executed=None,
        remote_job_id=None,
        error=None,
        created_at=0.0,
        started_at=None,
        finished_at=None,
    )


def _job(rec: JobRecord) -> JobKey:
    return JobKey(Cell(rec.num_qubits, rec.num_layers), rec.index, rec.start, rec.stop)


def _planned(spec: StudySpec) -> list[JobRecord]:
    if spec.budget is not None:
        from .budget import budget_jobs  # budget studies plan one job per repetition

        return budget_jobs(spec)
    if spec.adaptive is not None:
        return []  # adaptive studies plan their jobs round by round (bp_qiskit.adaptive)
    return [record_for(spec, j) for j in plan_jobs(spec)]


def create_study(store: BaseStore, spec: StudySpec) -> str:
    """Record the study and every planned job; return the study id."""
    return store.create_study(
        spec.study.name,
        spec.to_dict(),
        __version__,
        spec.study.seed,
        _planned(spec),
    )


def study_spec(store: BaseStore, study_id: str) -> StudySpec:
    """The resolved spec a study was created with."""
    return StudySpec.from_dict(store.get_study(study_id).spec)


def _arrays(result: JobResult) -> dict[str, NDArray[Any]]:
    return {
        "gates": result.gates,
        "params": result.params,
        "grads": result.grads,
        "shot_var": result.shot_var,
    }


def run_jobs(
    store: BaseStore,
    study_id: str,
    *,
    backend: EstimatorBackend | None = None,
    progress: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    executor: Executor | None = None,
) -> list[JobRecord]:
    """Execute every job of the study that is not DONE; return the jobs that still failed.

    Each job gets up to ``max_attempts`` attempts in this call. Ctrl-C puts the jobs in flight
    back to PENDING (their attempts stay counted) and re-raises; everything finished is kept.

    ``executor``: any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, or a Dask
    cluster's ``client.get_executor()``) runs jobs in parallel; this process alone writes to
    the store. Job streams do not depend on scheduling, so the result is the same bytes with
    any number of workers. Local simulation backends only.
    """
    spec = study_spec(store, study_id)
    if executor is not None:
        if spec.backend.kind in ("fake", "ibm"):
            raise ValueError(
                f"executor: parallel workers need a local simulation backend, not "
                f"{spec.backend.name!r} (runtime jobs already run in parallel on the service)"
            )
        return _run_parallel(store, study_id, spec, executor, progress, max_attempts)
    own_backend = backend is None
    backend = backend or backend_for(spec, tags=[f"bp_qiskit:{study_id}"])
    owner = current_owner()
    store.acquire_study(study_id, owner)
    failed: list[JobRecord] = []
    try:
        jobs = store.get_jobs(study_id)
        todo = [j for j in jobs if not j.state.is_finished()]
        total = sum(j.stop - j.start for j in jobs)
        done = total - sum(j.stop - j.start for j in todo)
        with tqdm(
            total=total, initial=done, disable=not progress, unit="circuit", desc=spec.study.name
        ) as bar:
            for rec in todo:
                bar.set_postfix_str(f"n={rec.num_qubits} L={rec.num_layers}")
                outcome = run_one(store, spec, rec, backend, max_attempts)
                if outcome is not None:
                    failed.append(outcome)
                bar.update(rec.stop - rec.start)
    finally:
        store.release_study(study_id, owner)
        close = getattr(backend, "close", None)
        if own_backend and callable(close):
            close()
    return failed


def _work(spec_data: dict[str, Any], job: JobKey) -> tuple[dict[str, NDArray[Any]], int]:
    """Executed in a worker process: build, evaluate and combine one job."""
    spec = StudySpec.from_dict(spec_data)
    key = (spec.backend.name, repr(spec.backend.options))
    if key not in _WORKER_BACKENDS:
        _WORKER_BACKENDS[key] = backend_for(spec)
    result = execute_job(spec, job, _WORKER_BACKENDS[key])
    return _arrays(result), result.shots


_WORKER_BACKENDS: dict[tuple[str, str], Any] = {}


def _run_parallel(
    store: BaseStore,
    study_id: str,
    spec: StudySpec,
    executor: Executor,
    progress: bool,
    max_attempts: int,
) -> list[JobRecord]:
    owner = current_owner()
    store.acquire_study(study_id, owner)
    jobs = store.get_jobs(study_id)
    todo = [j for j in jobs if not j.state.is_finished()]
    total = sum(j.stop - j.start for j in jobs)
    tries: dict[str, int] = {}
    in_flight: dict[Future[Any], JobRecord] = {}
    failed: list[JobRecord] = []
    data = spec.to_dict()

    def submit(rec: JobRecord) -> None:
        store.claim_job(study_id, rec.key)
        tries[rec.key] = tries.get(rec.key, 0) + 1
        in_flight[executor.submit(_work, data, _job(rec))] = rec

    try:
        with tqdm(
            total=total,
            initial=total - sum(j.stop - j.start for j in todo),
            disable=not progress,
            unit="circuit",
            desc=spec.study.name,
        ) as bar:
            for rec in todo:
                submit(rec)
            while in_flight:
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for fut in done:
                    rec = in_flight.pop(fut)
                    try:
                        arrays, shots = fut.result()
                    except Exception as exc:
                        store.fail_job(study_id, rec.key, f"{type(exc).__name__}: {exc}")
                        if tries[rec.key] < max_attempts:
                            submit(rec)
                        else:
                            failed.append(
                                next(j for j in store.get_jobs(study_id) if j.key == rec.key)
                            )
                        continue
                    store.finish_job(study_id, rec.key, arrays, shots)
                    bar.update(rec.stop - rec.start)
    except BaseException:
        for fut, rec in in_flight.items():
            fut.cancel()
            store.fail_job(study_id, rec.key, "interrupted", state=JobState.PENDING)
        raise
    finally:
        store.release_study(study_id, owner)
    return failed


def run_one(
    store: BaseStore, spec: StudySpec, rec: JobRecord, backend: EstimatorBackend, max_attempts: int
) -> JobRecord | None:
    """Execute one job, re-attaching first if it is a submitted remote job.

    Returns None on success, else the job's record after its last failed attempt. Ctrl-C
    anywhere inside, even in the middle of a store transaction (which then rolls back), puts
    the job back to PENDING and re-raises; a job whose DONE commit got through stays DONE
    (``fail_job`` never touches it), and a remote job keeps its id for re-attachment.
    """
    try:
        return _attempts(store, spec, rec, backend, max_attempts)
    except KeyboardInterrupt:
        store.fail_job(rec.study_id, rec.key, "interrupted by the user", state=JobState.PENDING)
        raise


def _attempts(
    store: BaseStore, spec: StudySpec, rec: JobRecord, backend: EstimatorBackend, max_attempts: int
) -> JobRecord | None:
    sid, key = rec.study_id, rec.key
    if _reattach(store, spec, rec, backend):
        return None
    for _ in range(max_attempts):
        store.claim_job(sid, key)
        try:
            result = execute_job(
                spec,
                _job(rec),
                backend,
                shots=rec.shots_requested,
                on_submit=lambda rid: store.set_remote_id(sid, key, rid),
            )
            store.finish_job(sid, key, _arrays(result), result.shots, result.usage_seconds)
        except StoreError:
            raise
        except Exception as exc:  # the message is recorded; the job is retried or reported
            store.fail_job(sid, key, f"{type(exc).__name__}: {exc}", state=_failure_state(exc))
            continue
        return None
    return next(j for j in store.get_jobs(sid) if j.key == key)


def _reattach(store: BaseStore, spec: StudySpec, rec: JobRecord, backend: Any) -> bool:
    """Collect a remote job submitted before a restart, by its id; True if it finished.

    Never submits. If the remote job ended in ERROR or CANCELLED, that is recorded and the
    normal retry loop resubmits it.
    """
    attach = getattr(backend, "attach", None)
    if not (rec.remote_job_id and getattr(backend, "remote", False) and callable(attach)):
        return False
    built = build_job(spec, _job(rec), shots=rec.shots_requested)
    try:
        (ev,) = attach(rec.remote_job_id, [built.task])
        result = combine_job(built, ev)
        store.finish_job(rec.study_id, rec.key, _arrays(result), ev.shots, ev.usage_seconds)
    except (KeyboardInterrupt, StoreError):
        raise  # run_one puts an interrupted job back to PENDING; its remote id stays
        raise
    except Exception as exc:
        store.fail_job(
            rec.study_id, rec.key, f"{type(exc).__name__}: {exc}", state=_failure_state(exc)
        )
        return False
    return True


def _failure_state(exc: Exception) -> JobState:
    """CANCELLED for a cancelled remote job, FAILED for anything else."""
    return JobState.CANCELLED if getattr(exc, "state", "") == "CANCELLED" else JobState.FAILED


def job_result(arrays: dict[str, NDArray[Any]], rec: JobRecord) -> JobResult:
    """A stored job's arrays and record as a :class:`~bp_qiskit.study.JobResult`."""
    return JobResult(
        gates=arrays["gates"],
        params=arrays["params"],
        grads=arrays["grads"],
        shot_var=arrays["shot_var"],
        shots=int(rec.shots_executed or 0),
        job_id=rec.remote_job_id,
    )


def collect(store: BaseStore, study_id: str) -> tuple[StudyResult, list[CellData]]:
    """Assemble the finished study from the store (no execution)."""
    spec = study_spec(store, study_id)
    if spec.budget is not None:
        raise StoreError(
            f"study {study_id} is a shot-budget study: its results are per-split errors, not "
            f"gradient samples; use 'bp-qiskit report {study_id}' for budget.json"
        )
    jobs = store.get_jobs(study_id)
    missing = [j.key for j in jobs if not j.state.is_finished()]
    if missing:
        raise StoreError(
            f"study {study_id} is not finished: {len(jobs) - len(missing)} of {len(jobs)} jobs "
            f"done; run 'bp-qiskit resume {study_id}'"
        )
    results = store.get_results(study_id)
    data = []
    for cell in plan_cells(spec):
        recs = [
            j for j in jobs if (j.num_qubits, j.num_layers) == (cell.num_qubits, cell.num_layers)
        ]
        recs.sort(key=lambda j: j.index)
        data.append(assemble_cell(cell, [job_result(results[j.key], j) for j in recs]))
    return build_result(spec.to_dict(), data), data


@dataclasses.dataclass(frozen=True)
class CellProgress:
    """Where one cell stands: jobs, samples, shots, and the current estimate."""

    num_qubits: int
    num_layers: int
    jobs_done: int
    jobs_total: int
    samples_done: int
    shots_used: int
    grad_var: float | None
    grad_var_se: float | None


def cell_progress(store: BaseStore, study_id: str) -> list[CellProgress]:
    """The current variance estimate per cell from the jobs finished so far."""
    jobs = store.get_jobs(study_id)
    results = store.get_results(study_id)
    shots = study_spec(store, study_id).sampling.shots
    out = []
    for n, layers in sorted({(j.num_qubits, j.num_layers) for j in jobs}):
        recs = [j for j in jobs if (j.num_qubits, j.num_layers) == (n, layers)]
        done = [j for j in recs if j.state.is_finished()]
        # Budget studies store per-split estimates, not gradients: no running variance there.
        grad_jobs = [j for j in done if "grads" in results[j.key]]
        var = se = None
        if sum(j.stop - j.start for j in grad_jobs) >= 2:
            grads = np.concatenate([results[j.key]["grads"] for j in grad_jobs])
            sv = np.concatenate([results[j.key]["shot_var"] for j in grad_jobs])
            var, se = corrected_variance(grads, sv if shots else None)
        used = sum(
            2 * (j.stop - j.start) * results[j.key]["grads"].shape[1] * (j.shots_executed or 0)
            for j in grad_jobs
        )
        out.append(
            CellProgress(
                n, layers, len(done), len(recs), sum(j.stop - j.start for j in done), used, var, se
            )
        )
    return out


def study_state(jobs: Sequence[JobRecord], owner: str | None = None) -> str:
    """A study's state from its jobs: done, running, failed, interrupted or pending."""
    if jobs and all(j.state.is_finished() for j in jobs):
        return "done"
    if owner:
        from .store._owner import owner_alive

        if owner_alive(owner):
            return "running"
    if any(j.state is JobState.FAILED for j in jobs):
        return "failed"
    if any(j.attempts for j in jobs):
        return "interrupted"
    return "pending"
