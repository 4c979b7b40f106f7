"""Studies in a store: create, run (or resume), collect, and where they stand.

Every entry point looks the study's kind up in :data:`~bp_qiskit.execution.kinds.KINDS`, so
``run_study`` and the CLI's ``run``, ``resume``, ``report``, ``status`` and ``export`` treat
every kind alike.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._version import __version__
from ..backends import Backend, Evaluation, SharedTask, capabilities_of, make_backend
from ..errors import StudyFailedError
from ..results import StudyOutcome, StudyResult
from ..spec import StudySpec
from ..store import BaseStore, InMemoryStore, JobRecord, JobState, current_owner
from .adjoint import check_adjoint
from .checks import check_resources
from .context import DEFAULT_MAX_ATTEMPTS, RunContext
from .cost import (
    CostEstimate,
    check_cost,
    cost_siblings,
    estimate_cost,
    estimate_group_cost,
)
from .executors import executor_width, open_executor, pooled
from .jobs import BuiltJob, JobBuilder, job_of
from .kinds import StudyKind, kind_of
from .memory import peak_memory
from .predict import predict_cells
from .provenance import submission_rows
from .remote import run_remote_group

__all__ = [
    "collect",
    "create_study",
    "run_stored",
    "run_stored_group",
    "run_study",
    "study_kind",
    "study_spec",
]


def create_study(store: BaseStore, spec: StudySpec) -> str:
    """Record the study and every job its kind plans up front; return the study id.

    What can never run (more qubits than the device, more memory than the simulator may
    take) is refused first, before anything is recorded (:mod:`bp_qiskit.execution.checks`).
    """
    check_resources(spec)
    check_adjoint(spec)
    jobs = kind_of(spec).plan(spec)
    return store.create_study(spec.study.name, spec.to_dict(), __version__, spec.study.seed, jobs)


def study_spec(store: BaseStore, study_id: str) -> StudySpec:
    """The resolved spec a study was created with."""
    return StudySpec.from_dict(store.get_study(study_id).spec)


def study_kind(store: BaseStore, study_id: str) -> StudyKind:
    """The kind of a stored study."""
    return kind_of(study_spec(store, study_id))


def run_stored(
    store: BaseStore,
    study_id: str,
    *,
    backend: Backend | None = None,
    service: Any = None,
    executor: Executor | None = None,
    progress: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    resubmit: bool = False,
    approve_cost: bool = False,
    cost_limit_s: float | None = None,
    confirm: Callable[[CostEstimate, str], bool] | None = None,
    force: bool = False,
    max_execution_time: int | None = None,
) -> None:
    """Run (or resume) every unfinished job of a stored study.

    Args:
        store: The store holding the study.
        study_id: The study.
        backend: Run on this backend instead of the one the spec names (not closed here).
        service: The runtime service for ``fake:``/``ibm:`` backends (tests pass a stand-in).
        executor: Run jobs through this ``concurrent.futures.Executor``; each worker builds
            its own backend. In-process simulators only (``Capabilities.parallel``).
        progress: Show progress bars.
        max_attempts: Attempts per job in this call (submissions, for a QPU).
        resubmit: Submit again the QPU jobs that were cancelled, timed out or rejected
            (without it they hold the study as paused).
        approve_cost: Run on a QPU even when the estimate is above the limit.
        cost_limit_s: QPU seconds a run may use without approval. On a QPU the Python API
            needs this or ``approve_cost``: without either it submits nothing (the CLI passes
            ``--max-qpu-seconds``, 600 by default).
        confirm: Asked ``(estimate, why)`` when over the limit (an interactive prompt).
        force: Take the study over from a runner on another host that cannot be checked
            from here (the caller has confirmed it is gone). A live runner on this host is
            refused regardless.
        max_execution_time: A new ``backend.options.max_execution_time`` (seconds) for the
            QPU jobs this call submits (each submission records the limit it was sent with):
            a job that ran past its limit (1305) is resubmitted only with a higher one.

    Raises:
        StudyFailedError: if some jobs still failed after their attempts (the finished ones
            are kept); ``KeyboardInterrupt`` puts the jobs in flight back to PENDING.
    """
    spec = study_spec(store, study_id)
    if max_execution_time is not None:
        options = {**spec.backend.options, "max_execution_time": max_execution_time}
        spec = spec.with_overrides(**{"backend.options": options})
    kind = kind_of(spec)
    own = None
    if executor is not None:
        if backend is not None:
            raise ValueError("executor: workers build their own backends; do not pass backend")
        if not capabilities_of(spec.backend.name).parallel:
            raise ValueError(
                f"executor: parallel workers need an in-process simulator backend, not "
                f"{spec.backend.name!r}; runtime jobs run in this process"
            )
    elif backend is None:
        own = backend = make_backend(
            spec.backend.name,
            options=spec.backend.options,
            tags=[f"bp_qiskit:{study_id}"],
            service=service,
        )
    if backend is not None and backend.capabilities.remote:
        try:
            cost = estimate_cost(spec, backend, store=store, study_id=study_id)
            check_cost(cost, limit_s=cost_limit_s, approve=approve_cost, confirm=confirm)
        except BaseException:
            if own is not None:
                own.close()
            raise
    owner = current_owner()
    store.acquire_study(study_id, owner, force=force)
    try:
        ctx = RunContext(
            store=store,
            study_id=study_id,
            spec=spec,
            builder=JobBuilder(spec),
            backend=backend,
            executor=executor,
            progress=progress,
            max_attempts=max_attempts,
            max_in_flight=2 * executor_width(executor) if executor is not None else 1,
            resubmit=resubmit,
        )
        kind.run(ctx)
    finally:
        store.release_study(study_id, owner)
        if own is not None:
            own.close()


def run_stored_group(
    store: BaseStore,
    study_ids: Sequence[str],
    *,
    service: Any = None,
    progress: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    resubmit: bool = False,
    approve_cost: bool = False,
    cost_limit_s: float | None = None,
    confirm: Callable[[CostEstimate, str], bool] | None = None,
    force: bool = False,
    max_execution_time: int | None = None,
) -> None:
    """Run stored studies that differ only in their cost together, sharing every PUB.

    Each job key is one PUB over every study's observable: on a QPU (``ibm:``) through
    :func:`~bp_qiskit.execution.remote.run_remote_group`, where the costs are estimated from
    the same shots and the gate prices the group as it runs; on an in-process simulator
    (``aer``, ``aer:<device>``, ...) the circuit is simulated once for all the costs. Studies
    that cannot share, and backends that run elsewhere without re-attachment (``fake:``), run
    one after the other through :func:`run_stored`, with the same arguments.
    """
    kw = {
        "service": service,
        "progress": progress,
        "max_attempts": max_attempts,
        "resubmit": resubmit,
        "approve_cost": approve_cost,
        "cost_limit_s": cost_limit_s,
        "confirm": confirm,
        "force": force,
        "max_execution_time": max_execution_time,
    }
    specs = [study_spec(store, sid) for sid in study_ids]
    if max_execution_time is not None:
        limit = {"max_execution_time": max_execution_time}
        specs = [
            s.with_overrides(**{"backend.options": {**s.backend.options, **limit}}) for s in specs
        ]
    caps = capabilities_of(specs[0].backend.name)
    if len(specs) < 2 or len(cost_siblings(specs)) > 1 or not (caps.remote or caps.parallel):
        for sid in study_ids:
            run_stored(store, sid, **kw)
        return
    backend = make_backend(
        specs[0].backend.name,
        options=specs[0].backend.options,
        tags=[f"bp_qiskit:{sid}" for sid in study_ids],
        service=service,
    )
    owner = current_owner()
    acquired: list[str] = []
    try:
        if backend.capabilities.remote:
            cost = estimate_group_cost(specs, backend, store=store, study_ids=study_ids)
            check_cost(cost, limit_s=cost_limit_s, approve=approve_cost, confirm=confirm)
        for sid in study_ids:
            store.acquire_study(sid, owner, force=force)
            acquired.append(sid)
        if backend.capabilities.remote:
            _run_group(store, study_ids, specs, backend, progress, max_attempts, resubmit)
        else:
            _run_group_here(store, study_ids, specs, backend, progress)
    finally:
        for sid in acquired:
            store.release_study(sid, owner)
        backend.close()


def _run_group(
    store: BaseStore,
    study_ids: Sequence[str],
    specs: Sequence[StudySpec],
    backend: Backend,
    progress: bool,
    max_attempts: int,
    resubmit: bool,
) -> None:
    """The group's jobs through one remote run, with one progress bar for all of them."""
    records = [store.get_jobs(sid) for sid in study_ids]
    total = sum(r.stop - r.start for recs in records for r in recs)
    done = sum(r.stop - r.start for recs in records for r in recs if r.state.is_finished())
    name = " + ".join(s.study.name for s in specs)
    with tqdm(total=total, initial=done, disable=not progress, unit="circuit", desc=name) as bar:
        studies = []
        for sid, spec in zip(study_ids, specs, strict=True):
            ctx = RunContext(
                store=store,
                study_id=sid,
                spec=spec,
                builder=JobBuilder(spec),
                backend=backend,
                progress=progress,
                max_attempts=max_attempts,
                resubmit=resubmit,
            )
            studies.append((ctx, kind_of(spec), lambda rec: bar.update(rec.stop - rec.start)))
        failed = run_remote_group(studies, records)
    errors = {(sid, j.key): j.error for sid in study_ids for j in store.get_jobs(sid) if j.error}
    for sid, lost in zip(study_ids, failed, strict=True):
        if lost:
            first = lost[0].key
            raise StudyFailedError(
                f"{len(lost)} job(s) of study {sid} failed after retries; first: {first}: "
                f"{errors.get((sid, first)) or 'no reason recorded'}; finished work is kept; "
                f"retry with: bp-qiskit resume {sid}"
            )


def _run_group_here(
    store: BaseStore,
    study_ids: Sequence[str],
    specs: Sequence[StudySpec],
    backend: Backend,
    progress: bool,
) -> None:
    """Cost siblings on an in-process simulator: one simulation per circuit for every cost.

    Each job key still unfinished in any study is one PUB over the observables of the studies
    that need it; each study commits its own slice. A job fails for every study that shared
    it, and a resume runs what is left study by study.
    """
    builders = [JobBuilder(spec) for spec in specs]
    kinds = [kind_of(spec) for spec in specs]
    todo: dict[str, list[tuple[int, JobRecord]]] = {}
    for i, sid in enumerate(study_ids):
        for rec in store.get_jobs(sid):
            if not rec.state.is_finished():
                todo.setdefault(rec.key, []).append((i, rec))
    total = sum(rec.stop - rec.start for members in todo.values() for _, rec in members)
    name = " + ".join(s.study.name for s in specs)
    claimed: list[tuple[str, str]] = []
    with tqdm(total=total, disable=not progress, unit="circuit", desc=name) as bar:
        try:
            for key, members in todo.items():
                built = [
                    builders[i].build(job_of(rec), shots=rec.shots_requested) for i, rec in members
                ]
                for i, _ in members:
                    store.claim_job(study_ids[i], key)
                    claimed.append((study_ids[i], key))
                with peak_memory() as peak:
                    evaluations = _evaluate_shared(backend, built)
                for (i, rec), b, ev in zip(members, built, evaluations, strict=True):
                    out = kinds[i].combine(builders[i], b, [ev])
                    arrays = dict(out.arrays)
                    if peak.bytes is not None:
                        arrays["peak_memory"] = np.array(peak.bytes, dtype=np.int64)
                    store.finish_job(study_ids[i], key, arrays, out.shots, out.usage_seconds)
                    claimed.remove((study_ids[i], key))
                    bar.update(rec.stop - rec.start)
        except BaseException:
            for sid, key in claimed:
                store.fail_job(sid, key, "interrupted", state=JobState.PENDING)
            raise


def _evaluate_shared(backend: Backend, built: Sequence[BuiltJob]) -> list[Evaluation]:
    """One PUB over every member's observable where their values agree; else one each."""
    first = built[0].task
    same = all(np.array_equal(b.task.values, first.values) for b in built)
    if not same or len(built) == 1:
        return [backend.evaluate([b.task], seed=b.seed)[0] for b in built]
    task = SharedTask(
        first.circuit, tuple(b.task.observable for b in built), first.values, first.shots
    )
    (ev,) = backend.evaluate([task], seed=built[0].seed)
    return [dataclasses.replace(ev, evs=ev.evs[j], stds=ev.stds[j]) for j in range(len(built))]


def collect(
    store: BaseStore,
    study_id: str,
    *,
    submissions: list[dict[str, Any]] | None = None,
    predict: bool = False,
) -> StudyOutcome:
    """Assemble a finished study of any kind from the store (no execution).

    ``submissions`` (rows from :func:`~bp_qiskit.execution.provenance.refresh_remote`)
    replace the stored submission rows, e.g. with usage refreshed from the service.
    ``predict`` puts beside every cell what theory expects (:func:`with_predictions`).
    """
    spec = study_spec(store, study_id)
    outcome = kind_of(spec).collect(store, study_id, spec)
    rows = submissions if submissions is not None else submission_rows(store, study_id)
    outcome = dataclasses.replace(outcome, submissions=tuple(rows))
    if predict and outcome.result is not None:
        outcome = dataclasses.replace(outcome, result=with_predictions(outcome.result, spec))
    return outcome


def with_predictions(result: StudyResult, spec: StudySpec) -> StudyResult:
    """The result with each cell's predicted Var[dC] (:mod:`bp_qiskit.execution.predict`)."""
    cells = []
    todo = [(spec, cell.num_qubits, cell.num_layers) for cell in result.cells]
    for cell, p in zip(result.cells, predict_cells(todo), strict=True):
        cells.append(
            dataclasses.replace(
                cell,
                predicted_grad_var=p.grad_var,
                predicted_grad_var_se=p.grad_var_se,
                predicted_method=p.method,
                predicted_upper_bound=p.upper_bound,
                predicted_contribution_sd=p.contribution_sd,
            )
        )
    return dataclasses.replace(result, cells=tuple(cells))


def run_study(
    spec: StudySpec,
    *,
    backend: Backend | None = None,
    store: BaseStore | None = None,
    progress: bool = True,
    executor: Executor | None = None,
    service: Any = None,
    approve_cost: bool = False,
    cost_limit_s: float | None = None,
) -> StudyOutcome:
    """Run a study of any kind start to finish and return its outcome.

    Without ``store`` the study lives in an :class:`~bp_qiskit.store.InMemoryStore`; pass a
    :class:`~bp_qiskit.store.SQLiteStore` to make it survive crashes (``bp-qiskit run`` does).
    The spec's ``backend.executor`` and ``backend.workers`` choose where jobs run, unless
    ``executor`` or ``backend`` is given. On a QPU the run stops at the cost gate
    (:mod:`bp_qiskit.execution.cost`) unless ``approve_cost`` is set or the estimate is
    within ``cost_limit_s``; without either, nothing is submitted.
    """
    store = store if store is not None else InMemoryStore()
    study_id = create_study(store, spec)
    run = functools.partial(
        run_stored,
        store,
        study_id,
        backend=backend,
        service=service,
        progress=progress,
        approve_cost=approve_cost,
        cost_limit_s=cost_limit_s,
    )
    if executor is None and backend is None and pooled(spec.backend.executor, spec.backend.workers):
        with open_executor(spec.backend.executor, spec.backend.workers) as pool:
            run(executor=pool)
    else:
        run(executor=executor)
    return collect(store, study_id)
