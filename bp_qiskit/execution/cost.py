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
execution overhead of the mitigation asked for (:func:`mitigation_overhead`). Each PUB left
is built as the run builds it and priced by the backend's ``price``
(:func:`~bp_qiskit.backends.timing.pub_price`), then packed into jobs by
:func:`~bp_qiskit.execution.pricing.pack_pubs`, the function the run packs with: what
the gate prices is what the run submits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from ..backends import Backend, ExpectationTask
from ..backends.options import estimator_options
from ..backends.remote import PricedBackend, SharedTask
from ..spec import StudySpec
from ..store import BaseStore, JobRecord
from .jobs import JobBuilder, job_of, plan_cells, plan_jobs, record_for
from .pricing import (
    DEFAULT_COST_LIMIT_S,
    PER_JOB_S,
    SERVICE_TIME_LIMIT_S,
    CostEstimate,
    check_cost,
    mitigation_overhead,
    pack_pubs,
)
from .remote import DEFAULT_JOB_SECONDS

__all__ = [
    "DEFAULT_COST_LIMIT_S",
    "PER_JOB_S",
    "CostEstimate",
    "check_cost",
    "cost_siblings",
    "estimate_cost",
    "estimate_group_cost",
    "mitigation_overhead",
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
    backend: Backend,
    *,
    store: BaseStore | None = None,
    study_id: str | None = None,
) -> CostEstimate:
    """Estimate the QPU seconds a run of ``spec`` on ``backend`` (a RuntimeBackend) has left."""
    return estimate_group_cost(
        [spec], backend, store=store, study_ids=None if study_id is None else [study_id]
    )


def estimate_group_cost(
    specs: Sequence[StudySpec],
    backend: Backend,
    *,
    store: BaseStore | None = None,
    study_ids: Sequence[str] | None = None,
) -> CostEstimate:
    """The QPU seconds left for studies that run together and share their PUBs.

    ``specs`` are cost siblings (:func:`cost_siblings`: the same circuits and draws, another
    observable): each job key still needed by any of them is one PUB over the observables of
    those that need it, run ``measurement_bases`` times (once for diagonal costs), and PUBs
    are packed into jobs as the run packs them (``backend.options.job_seconds``).
    """
    if not isinstance(backend, PricedBackend):
        raise TypeError(
            f"backend {backend.name}: the cost gate prices a device backend (target, isa, pubs, "
            "service); this one has none"
        )
    spec = specs[0]
    overhead = mitigation_overhead(spec.backend.options)
    service = getattr(backend, "service", None)
    remaining = _remaining_allocation(service)
    ids: Sequence[str | None] = list(study_ids) if study_ids is not None else [None] * len(specs)
    if spec.adaptive is not None:
        parts = [
            _adaptive_cost(one, backend, store, sid, overhead, remaining)
            for one, sid in zip(specs, ids, strict=True)
        ]
        return CostEstimate(
            sum(p.seconds for p in parts),
            "offline model",
            overhead,
            sum(p.jobs for p in parts),
            sum(p.executions for p in parts),
            remaining,
        )
    builders = [JobBuilder(one) for one in specs]
    needed, timed_out = _needed(specs, store, ids)
    if not needed:
        return CostEstimate(0.0, "offline model", overhead, 0, 0, remaining)
    # Each PUB left is built as the run builds it (its bindings, shots and observables), and
    # priced and packed by the functions the run packs its jobs with.
    tasks = [_task(builders, members) for members in needed.values()]
    priced = [
        backend.price(t.circuit, t.observables, t.total_shots, overhead=overhead) for t in tasks
    ]
    # A job that ran past its time limit is priced at the limit it is sent with now: it has
    # already shown that it runs at least that long, whatever the model says.
    limit = float(spec.backend.options.get("max_execution_time") or SERVICE_TIME_LIMIT_S)
    prices = [
        max(p.seconds, limit) if any((j, r.key) in timed_out for j, r in members) else p.seconds
        for p, members in zip(priced, needed.values(), strict=True)
    ]
    job_seconds = float(spec.backend.options.get("job_seconds", DEFAULT_JOB_SECONDS))
    jobs = pack_pubs(tasks, prices, job_seconds)
    seconds = sum(PER_JOB_S + sum(prices[i] for i in job) for job in jobs)
    seconds, source = _scaled_by_service(
        spec, backend, service, tasks[0], seconds, PER_JOB_S + prices[0]
    )
    executions = sum(p.executions for p in priced)
    return CostEstimate(seconds, source, overhead, len(jobs), executions, remaining)


def _task(
    builders: Sequence[JobBuilder], members: Sequence[tuple[int, JobRecord]]
) -> ExpectationTask | SharedTask:
    """The PUB the run submits for a job key: one task over every member study's cost."""
    built = [builders[i].build(job_of(rec), shots=rec.shots_requested).task for i, rec in members]
    if len(built) == 1:
        return built[0]
    first = built[0]
    return SharedTask(first.circuit, tuple(t.observable for t in built), first.values, first.shots)


def _needed(
    specs: Sequence[StudySpec], store: BaseStore | None, ids: Sequence[str | None]
) -> tuple[dict[tuple[str, int], list[tuple[int, JobRecord]]], set[tuple[int, str]]]:
    """What is left to price, per job key and shot count.

    Returns every (study index, record) that still needs each job, and the (study index,
    key) of the jobs that already ran past their time limit.
    """
    needed: dict[tuple[str, int], list[tuple[int, JobRecord]]] = {}
    timed_out: set[tuple[int, str]] = set()
    for i, (one, sid) in enumerate(zip(specs, ids, strict=True)):
        for rec in _left(one, store, sid):
            needed.setdefault((rec.key, rec.shots_requested), []).append((i, rec))
        if store is not None and sid is not None:
            timed_out |= {(i, s.key) for s in store.get_submissions(sid) if s.cause == "timeout"}
    return needed, timed_out


def _scaled_by_service(
    spec: StudySpec,
    backend: PricedBackend,
    service: Any,
    first_task: ExpectationTask | SharedTask,
    seconds: float,
    first_model: float,
) -> tuple[float, str]:
    """The model's total, scaled by the service's dry run of the first PUB where it offers one.

    ``first_model`` is the model's price of the first PUB's job.
    """
    estimate = getattr(service, "estimate", None)
    if not callable(estimate):
        return seconds, "offline model"
    try:
        options = estimator_options(
            spec.backend.options, seed=None, tags=[], shots=first_task.shots
        )
        first = estimate(backend.target, backend.pubs([first_task]), options)
    except Exception:  # the service's dry run is optional; the model stands
        first = None
    if isinstance(first, (int, float)) and first > 0:
        # Scale the service's figure for one PUB by the model's ratio for all of them.
        return float(first) * seconds / first_model, "service dry run, scaled to every job"
    return seconds, "offline model"


def _adaptive_cost(
    spec: StudySpec,
    backend: PricedBackend,
    store: BaseStore | None,
    study_id: str | None,
    overhead: float,
    remaining: float | None,
) -> CostEstimate:
    """Worst case of an adaptive study: every cell spends its whole budget at pilot shots."""
    spent = sum(
        2 * (j.stop - j.start) * (j.shots_executed or 0)
        for j in (store.get_jobs(study_id) if store and study_id else [])
        if j.state.is_finished()
    )
    shots_left = max(0, spec.adaptive.max_shots * len(plan_cells(spec)) - spent)  # type: ignore[union-attr]
    pilot = spec.adaptive.fixed_shots or spec.sampling.shots  # type: ignore[union-attr]
    jobs = math.ceil(shots_left / max(1, 2 * pilot * spec.sampling.chunk))
    circuit, observable = JobBuilder(spec).cell_objects(plan_cells(spec)[-1])
    price = backend.price(circuit, [observable], shots_left, overhead=overhead)
    seconds = jobs * PER_JOB_S + price.seconds
    return CostEstimate(seconds, "offline model", overhead, jobs, price.executions, remaining)


def cost_siblings(specs: Sequence[StudySpec]) -> list[list[StudySpec]]:
    """The variants of a spec in groups that can share PUBs: equal but for the observable.

    The costs of ``[[observable]]`` draw the same circuits and angles (the same seed), so one
    PUB can estimate all of them; compared backends and the control ansatz cannot share.
    """
    groups: list[list[StudySpec]] = []
    for one in specs:
        for group in groups:
            if _shareable(group[0], one):
                group.append(one)
                break
        else:
            groups.append([one])
    return groups


def _shareable(a: StudySpec, b: StudySpec) -> bool:
    if a.adaptive is not None or b.adaptive is not None or a.budget is not None:
        return False
    return dataclasses.replace(b, observable=a.observable, study=a.study) == a
