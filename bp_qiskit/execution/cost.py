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

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backends.options import estimator_options
from ..errors import CostLimitError
from ..spec import StudySpec
from ..store import BaseStore, JobRecord
from .families import gradient_indices
from .jobs import JobBuilder, job_of, plan_cells, plan_jobs, record_for

__all__ = [
    "DEFAULT_COST_LIMIT_S",
    "PER_JOB_S",
    "CostEstimate",
    "check_cost",
    "estimate_cost",
    "mitigation_overhead",
    "seconds_per_execution",
]

DEFAULT_COST_LIMIT_S = 600.0
PER_JOB_S = 2.0  # IBM's rule of thumb: about 2 s of overhead per (sub-)job
_DEFAULT_REP_DELAY_S = 2.5e-4
# The service's own max_execution_time where none is set: 3 hours (IBM's documented default).
_SERVICE_TIME_LIMIT_S = 10_800.0

# Executions relative to resilience level 0, measured with qiskit-ibm-runtime 0.51 (see
# ../shared/REFERENCE.md): level 1 (TREX + measurement twirling) 1.1x, level 2 (+ ZNE) 3.1x.
_LEVEL_OVERHEAD = {0: 1.0, 1: 1.1, 2: 3.1}
_DEFAULT_ZNE_FACTORS = 3  # the client's default noise factors (1, 3, 5)


def mitigation_overhead(options: Mapping[str, Any]) -> float:
    """Executions per requested shot that the mitigation in ``[backend.options]`` costs."""
    level = int(options.get("resilience_level", 0))
    factor = _LEVEL_OVERHEAD[level]
    if options.get("zne") and level < 2:
        factor *= len(options.get("zne_noise_factors", ())) or _DEFAULT_ZNE_FACTORS
    if options.get("measure_mitigation") and level == 0:
        factor *= _LEVEL_OVERHEAD[1]
    return factor


def seconds_per_execution(target: Any, isa_circuit: Any = None) -> float:
    """rep_delay plus the ISA circuit's duration on the device (where the target has both)."""
    rep = getattr(target, "default_rep_delay", None) or _DEFAULT_REP_DELAY_S
    duration = 0.0
    if isa_circuit is not None and getattr(target, "target", None) is not None:
        try:
            bound = isa_circuit.assign_parameters(np.zeros(isa_circuit.num_parameters))
            duration = float(bound.estimate_duration(target.target, unit="s"))
        except Exception:  # a target without durations: rep_delay alone
            duration = 0.0
    return float(rep) + duration


@dataclasses.dataclass(frozen=True)
class CostEstimate:
    """What the work left would cost.

    Attributes:
        seconds: Estimated QPU seconds.
        source: ``"service dry run"`` or ``"offline model"``.
        overhead: The mitigation factor included.
        jobs: Jobs left to submit.
        executions: Circuit executions left (bindings x shots x overhead).
        remaining: The instance's remaining allocation in seconds (None: not reported).
    """

    seconds: float
    source: str
    overhead: float
    jobs: int
    executions: int
    remaining: float | None

    def summary(self) -> str:
        """One line for the console."""
        text = (
            f"about {self.seconds:.0f} QPU seconds for {self.jobs} job(s) "
            f"({self.source}; mitigation overhead x{self.overhead:g})"
        )
        if self.remaining is not None:
            text += f"; the instance has {self.remaining:.0f} s left"
        return text


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
            seconds_j = max(seconds_j, float(limit or _SERVICE_TIME_LIMIT_S))
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


def check_cost(
    estimate: CostEstimate,
    *,
    limit_s: float = DEFAULT_COST_LIMIT_S,
    approve: bool = False,
    confirm: Any = None,
) -> None:
    """Raise :class:`CostLimitError` above the limit unless approved or confirmed.

    ``confirm(estimate, why)`` is asked when given (an interactive prompt) and approves by
    returning True.
    """
    over = []
    if estimate.seconds > limit_s:
        over.append(f"above the limit of {limit_s:.0f} s")
    if estimate.remaining is not None and estimate.seconds > estimate.remaining:
        over.append(f"above the instance's remaining {estimate.remaining:.0f} s")
    if not over or approve:
        return
    why = " and ".join(over)
    if confirm is not None and confirm(estimate, why):
        return
    raise CostLimitError(
        f"{estimate.summary()}, {why}; nothing was submitted; pass --yes (Python: "
        "approve_cost=True) to submit, or raise --max-qpu-seconds"
    )
