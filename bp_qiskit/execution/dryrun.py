"""Dry runs: what a study would submit and what it would cost, without submitting anything."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..backends import parse_backend_name
from ..backends.devices import fake_backend
from ..backends.isa import IsaTranspiler
from ..backends.options import DEFAULT_OPTIMIZATION_LEVEL
from ..backends.timing import pub_price
from ..results import Cell
from ..spec import StudySpec
from .checks import check_resources
from .families import family_for, gradient_indices
from .jobs import plan_cells
from .kinds import kind_of
from .pricing import PER_JOB_S, mitigation_overhead, pack
from .remote import DEFAULT_JOB_SECONDS

__all__ = ["CellCost", "dry_run", "dry_run_group"]


@dataclasses.dataclass(frozen=True)
class CellCost:
    """What one cell would submit.

    Attributes:
        num_qubits, num_layers: The cell.
        depth: Depth of the (ISA, where a device is named) circuit.
        two_qubit_gates: Two-qubit gates in it.
        pubs: PUBs (one per job).
        bindings: Parameter sets bound: samples x parameters x 2 shifts.
        total_shots: bindings x shots per value.
        executions: total_shots x the mitigation overhead.
        qpu_seconds: Estimated QPU time: the offline model of :mod:`bp_qiskit.execution.cost`
            (2 s per job + executions x (rep_delay + circuit duration) on the device).
    """

    num_qubits: int
    num_layers: int
    depth: int
    two_qubit_gates: int
    pubs: int
    bindings: int
    total_shots: int
    executions: int
    qpu_seconds: float


def dry_run(spec: StudySpec, *, target: Any = None) -> list[CellCost]:
    """Cost every cell of ``spec``; ``target`` overrides the device used for transpilation.

    For ``fake:``/``aer:`` devices the fake backend is the target; for ``ibm:<backend>`` the
    caller passes the real backend (the CLI asks the service for it), or the fake backend of
    the same name when one exists.
    """
    check_resources(spec)
    target, isa = _target(spec, target)
    return [_cell_cost(spec, cell, [spec], target, isa) for cell in plan_cells(spec)]


def _target(spec: StudySpec, target: Any) -> tuple[Any, IsaTranspiler | None]:
    """The device to transpile for (the named fake device by default) and its transpiler."""
    _, device = parse_backend_name(spec.backend.name)
    if target is None and device:
        target = fake_backend(device.removeprefix("ibm_"))
    if target is None:
        return None, None
    level = spec.backend.options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
    layout = spec.backend.options.get("layout", "noise_aware")
    return target, IsaTranspiler(target, level, layout=layout)


def _cell_cost(
    spec: StudySpec,
    cell: Cell,
    siblings: Sequence[StudySpec],
    target: Any,
    isa: IsaTranspiler | None,
) -> CellCost:
    """What ``cell`` submits, each PUB measuring the observables of every sibling."""
    family = family_for(spec, cell)
    circuit = family.template
    if isa is not None:
        circuit = isa(circuit).circuit
    two_q = sum(1 for inst in circuit.data if inst.operation.num_qubits == 2)
    k = len(gradient_indices(spec, family))
    # What the study's kind submits: a budget study spends its budget per repetition
    # and shot count, not sampling.samples x sampling.shots.
    subs = kind_of(spec).submissions(spec, cell, k)
    shots = sum(b * s for b, s in subs)
    price = pub_price(
        target,
        circuit if isa is not None else None,
        [family_for(s, cell).observable for s in siblings],
        shots,
        overhead=mitigation_overhead(spec.backend.options),
    )
    return CellCost(
        num_qubits=cell.num_qubits,
        num_layers=cell.num_layers,
        depth=circuit.depth(),
        two_qubit_gates=two_q,
        pubs=len(subs),
        bindings=sum(b for b, _ in subs),
        total_shots=shots,
        executions=price.executions,
        qpu_seconds=len(subs) * PER_JOB_S + price.seconds,
    )


def dry_run_group(specs: Sequence[StudySpec], *, target: Any = None) -> tuple[float, int]:
    """QPU seconds and jobs of cost siblings run together, as the run submits them.

    Each PUB of the first spec carries every sibling's observable and runs once per
    measurement basis they need (once for diagonal costs); PUBs are packed into jobs of up
    to ``backend.options.job_seconds`` (:func:`~bp_qiskit.execution.pricing.pack`).
    """
    first = specs[0]
    target, isa = _target(first, target)
    prices: list[float] = []
    for cell in plan_cells(first):
        c = _cell_cost(first, cell, specs, target, isa)
        prices += [(c.qpu_seconds - c.pubs * PER_JOB_S) / max(1, c.pubs)] * c.pubs
    job_seconds = float(first.backend.options.get("job_seconds", DEFAULT_JOB_SECONDS))
    jobs = pack(prices, job_seconds)
    return sum(PER_JOB_S + sum(prices[i] for i in job) for job in jobs), len(jobs)
