"""Dry runs: what a study would submit and what it would cost, without submitting anything."""

from __future__ import annotations

import dataclasses
from typing import Any

from .backends.runtime import (
    DEFAULT_OPTIMIZATION_LEVEL,
    IsaTranspiler,
    fake_backend,
    parse_backend_name,
)
from .circuits import template_circuit
from .gradients import parameter_indices
from .planning import DEFAULT_PER_CIRCUIT_S, DEFAULT_PER_SHOT_S, qpu_seconds
from .spec import StudySpec
from .study import plan_cells, plan_jobs

__all__ = ["CellCost", "dry_run", "format_dry_run"]


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
        qpu_seconds: Estimated QPU time (model in ``docs/hardware.md``).
    """

    num_qubits: int
    num_layers: int
    depth: int
    two_qubit_gates: int
    pubs: int
    bindings: int
    total_shots: int
    qpu_seconds: float


def dry_run(
    spec: StudySpec,
    *,
    target: Any = None,
    per_shot_s: float = DEFAULT_PER_SHOT_S,
    per_circuit_s: float = DEFAULT_PER_CIRCUIT_S,
) -> list[CellCost]:
    """Cost every cell of ``spec``; ``target`` overrides the device used for transpilation.

    For ``fake:``/``aer:`` devices the fake backend is the target; for ``ibm:<backend>`` the
    caller passes the real backend (the CLI asks the service for it), or the fake backend of
    the same name when one exists.
    """
    _, device = parse_backend_name(spec.backend.name)
    if target is None and device:
        target = fake_backend(device.removeprefix("ibm_"))
    isa = None
    if target is not None:
        level = spec.backend.options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
        isa = IsaTranspiler(target, level)
    jobs = plan_jobs(spec)
    out = []
    for cell in plan_cells(spec):
        circuit = template_circuit(cell.num_qubits, cell.num_layers, ansatz=spec.circuit.ansatz)
        if isa is not None:
            circuit = isa(circuit).circuit
        two_q = sum(1 for inst in circuit.data if inst.operation.num_qubits == 2)
        k = len(parameter_indices(spec.gradient.parameter, cell.num_qubits * cell.num_layers))
        samples = spec.sampling.samples
        bindings = samples * k * 2
        shots = bindings * spec.sampling.shots
        out.append(
            CellCost(
                num_qubits=cell.num_qubits,
                num_layers=cell.num_layers,
                depth=circuit.depth(),
                two_qubit_gates=two_q,
                pubs=sum(1 for j in jobs if j.cell == cell),
                bindings=bindings,
                total_shots=shots,
                qpu_seconds=qpu_seconds(
                    samples * k, shots, per_shot_s=per_shot_s, per_circuit_s=per_circuit_s
                ),
            )
        )
    return out


def format_dry_run(spec: StudySpec, costs: list[CellCost]) -> str:
    """The table printed by ``bp-qiskit run --dry-run``."""
    head = (
        f"{'n':>3} {'L':>4} {'depth':>6} {'2q gates':>8} {'PUBs':>5} {'bindings':>9} "
        f"{'shots':>11} {'QPU s':>9}"
    )
    lines = [
        f"dry run of {spec.study.name} on {spec.backend.name}: nothing is submitted",
        head,
        "-" * len(head),
    ]
    for c in costs:
        lines.append(
            f"{c.num_qubits:>3} {c.num_layers:>4} {c.depth:>6} {c.two_qubit_gates:>8} "
            f"{c.pubs:>5} {c.bindings:>9} {c.total_shots:>11} {c.qpu_seconds:>9.1f}"
        )
    total_s = sum(c.qpu_seconds for c in costs)
    lines.append(
        f"total: {sum(c.pubs for c in costs)} PUBs, "
        f"{sum(c.total_shots for c in costs)} shots, about {total_s:.0f} QPU seconds"
    )
    return "\n".join(lines)
