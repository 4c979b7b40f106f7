"""One cost gate for every QPU run: every study kind, ``resume``, and the Python API.

:func:`estimate_cost` estimates the QPU seconds of the work a study has *left* (a resumed
study is charged only for its unfinished jobs; an adaptive one for the rest of its per-cell
shot budget, its worst case). :func:`check_cost` refuses to go on above the limit, or above
the instance's remaining allocation where the account reports one, unless the run is
approved (``--yes``, or ``approve_cost=True`` in Python).

The estimate is the service's own where the account offers it (``Estimator.run(...,
dry_run=True)``), scaled from one job to all of them. Otherwise it is an *offline model*,
and says so: IBM's documented rule of thumb, about 2 s per job plus (rep_delay + circuit
duration) per execution, with the device's own rep_delay and gate durations, times the
execution overhead of the mitigation asked for (:func:`mitigation_overhead`).
"""

from __future__ import annotations

import math
from typing import Any

from ..backends.options import estimator_options
from ..spec import StudySpec
from ..store import BaseStore, JobRecord
from .families import gradient_indices
from .jobs import JobBuilder, job_of, plan_cells, plan_jobs, record_for
from .pricing import (
    DEFAULT_COST_LIMIT_S,
    PER_JOB_S,
    SERVICE_TIME_LIMIT_S,
    CostEstimate,
    check_cost,
    mitigation_overhead,
    seconds_per_execution,
)

__all__ = [
    "DEFAULT_COST_LIMIT_S",
    "PER_JOB_S",
    "CostEstimate",
    "check_cost",
    "estimate_cost",
    "mitigation_overhead",
    "seconds_per_execution",
]


def _left(spec: StudySpec, store: BaseStore | None, study_id: str | None) -> list[JobRecord]:
    """The jobs a run would still submit (for an adaptive study: its worst case)."""
    if store is not None and study_id is not None:
        jobs = [j for j in store.get_jobs(study_id) if not j.state.is_finished()]
    else:
        jobs = [record_for(spec, job) for job in plan_jobs(spec)]
    return jobs


def _remaining_allocation(service: Any) -> float | None:
    fn = getattr(service, "usage", None)
    try:
        report = fn() if callable(fn) else None
    except Exception:  # not every plan reports usage
        return None
    value = (report or {}).get("usage_remaining_seconds")
    return float(value) if isinstance(value, (int, float)) else None


def estimate_cost(
    spec: StudySpec,
    backend: Any,
    *,
    store: BaseStore | None = None,
    study_id: str | None = None,
) -> CostEstimate:
    """Estimate the QPU seconds a run of ``spec`` on ``backend`` (a RuntimeBackend) has left."""
    overhead = mitigation_overhead(spec.backend.options)
    service = getattr(backend, "service", None)
    remaining = _remaining_allocation(service)
    builder = JobBuilder(spec)
    if spec.adaptive is not None:
        # Worst case: every cell spends its whole budget, at the pilot's shots per point.
        spent = sum(
            2 * (j.stop - j.start) * (j.shots_executed or 0)
            for j in (store.get_jobs(study_id) if store and study_id else [])
            if j.state.is_finished()
        )
        shots_left = max(0, spec.adaptive.max_shots * len(plan_cells(spec)) - spent)
        pilot = spec.adaptive.fixed_shots or spec.sampling.shots
        executions = math.ceil(shots_left * overhead)
        jobs = math.ceil(shots_left / max(1, 2 * pilot * spec.sampling.chunk))
        circuit, _ = builder.cell_objects(plan_cells(spec)[-1])
        per_exec = seconds_per_execution(backend.target, backend.isa(circuit).circuit)
        seconds = jobs * PER_JOB_S + executions * per_exec
        return CostEstimate(seconds, "offline model", overhead, jobs, executions, remaining)
    left = _left(spec, store, study_id)
    if not left:
        return CostEstimate(0.0, "offline model", overhead, 0, 0, remaining)
    executions = 0
    per_job: list[float] = []
    # A job that ran past its time limit is priced at the limit it is sent with now: it has
    # already shown that it runs at least that long, whatever the model says.
    timed_out = set()
    if store is not None and study_id is not None:
        timed_out = {s.key for s in store.get_submissions(study_id) if s.cause == "timeout"}
    limit = spec.backend.options.get("max_execution_time")
    for rec in left:
        cell = job_of(rec).cell
        k = len(gradient_indices(spec, builder.family(cell)))
        n_exec = math.ceil((rec.stop - rec.start) * k * 2 * rec.shots_requested * overhead)
        circuit, _ = builder.cell_objects(cell)
        per_exec = seconds_per_execution(backend.target, backend.isa(circuit).circuit)
        seconds_j = PER_JOB_S + n_exec * per_exec
        if rec.key in timed_out:
            seconds_j = max(seconds_j, float(limit or SERVICE_TIME_LIMIT_S))
        per_job.append(seconds_j)
        executions += n_exec
    seconds = sum(per_job)
    source = "offline model"
    estimate = getattr(service, "estimate", None)
    if callable(estimate):
        built = builder.build(job_of(left[0]), shots=left[0].shots_requested)
        try:
            options = estimator_options(
                spec.backend.options, seed=None, tags=[], shots=left[0].shots_requested
            )
            first = estimate(backend.target, backend.pubs([built.task]), options)
        except Exception:  # the service's dry run is optional; the model stands
            first = None
        if isinstance(first, (int, float)) and first > 0:
            # Scale the service's figure for one job by the model's ratio for all of them.
            seconds = float(first) * seconds / per_job[0]
            source = "service dry run, scaled to every job"
    return CostEstimate(seconds, source, overhead, len(left), executions, remaining)
