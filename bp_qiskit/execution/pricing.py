"""Pricing QPU work and refusing what is over the limit: the pure part of the cost gate.

:mod:`bp_qiskit.execution.cost` prices whole studies with it, ``gradient_variance`` one
call, and the remote run packs its jobs with it (:func:`price_of`, :func:`pack_pubs`), so
what the gate prices is what the run submits. Kept apart so that all three can use it
without importing each other.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..backends import ExpectationTask
from ..backends.remote import PricedBackend, RemoteBackend, SharedTask
from ..backends.timing import PubPrice, measurement_bases, seconds_per_execution
from ..errors import CostLimitError

__all__ = [
    "DEFAULT_COST_LIMIT_S",
    "PER_JOB_S",
    "SERVICE_TIME_LIMIT_S",
    "CostEstimate",
    "check_cost",
    "measurement_bases",
    "mitigation_overhead",
    "pack",
    "pack_pubs",
    "price_of",
    "seconds_per_execution",
]

DEFAULT_COST_LIMIT_S = 600.0
PER_JOB_S = 2.0  # IBM's rule of thumb: about 2 s of overhead per (sub-)job
# The service's own max_execution_time where none is set: 3 hours (IBM's documented default).
SERVICE_TIME_LIMIT_S = 10_800.0

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


def check_cost(
    estimate: CostEstimate,
    *,
    limit_s: float | None = DEFAULT_COST_LIMIT_S,
    approve: bool = False,
    confirm: Any = None,
) -> None:
    """Raise :class:`CostLimitError` above the limit unless approved or confirmed.

    ``confirm(estimate, why)`` is asked when given (an interactive prompt) and approves by
    returning True. ``limit_s = None`` (the Python API's default) is no permission at all:
    only ``approve`` lets work through, so no script spends QPU time it did not ask for.
    """
    if limit_s is None:
        if approve or estimate.seconds == 0:
            return
        raise CostLimitError(
            f"{estimate.summary()}; nothing was submitted; on a QPU the Python API needs "
            "cost_limit_s= (the QPU seconds it may spend) or approve_cost=True"
        )
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


def pack(prices: Sequence[float], limit_s: float) -> list[list[int]]:
    """Which PUBs share a job: in order, a new job when the next PUB would pass ``limit_s``.

    A job's price is ``PER_JOB_S`` plus its PUBs'; ``limit_s = 0`` gives one PUB per job. IBM
    advises combining work into jobs of at least a minute: every job costs its overhead.
    """
    jobs: list[list[int]] = []
    spent = 0.0
    for i, price in enumerate(prices):
        if jobs and spent + price <= limit_s:
            jobs[-1].append(i)
            spent += price
        else:
            jobs.append([i])
            spent = PER_JOB_S + price
    return jobs


def price_of(
    backend: RemoteBackend | PricedBackend, task: ExpectationTask | SharedTask, overhead: float
) -> PubPrice:
    """The offline price of one PUB (``backend.price``: no job overhead)."""
    return backend.price(task.circuit, task.observables, task.total_shots, overhead=overhead)


def pack_pubs(
    tasks: Sequence[ExpectationTask | SharedTask], prices: Sequence[float], job_seconds: float
) -> list[list[int]]:
    """PUBs (their indices) as jobs, as the run submits them and the cost gate prices them.

    One job runs one shot count, so PUBs are packed (:func:`~.pricing.pack`) within each run
    of equal shots, up to ``job_seconds`` of offline price per job.
    """
    jobs: list[list[int]] = []
    for _, run in itertools.groupby(range(len(tasks)), key=lambda i: tasks[i].shots):
        idx = list(run)
        jobs += [[idx[j] for j in job] for job in pack([prices[i] for i in idx], job_seconds)]
    return jobs
