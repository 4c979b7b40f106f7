"""What Aer saves for an exact value, and on which qubits it simulates it.

An observable's exact value is read from one or more saved quantities (:class:`Read`): a
Pauli expectation on the observable's own qubits, squared amplitudes, or a marginal's
probabilities. Reads whose light cones differ are run on those cones alone
(:func:`arrange`), so a local cost on a shallow circuit simulates a few qubits, not all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression
from qiskit.quantum_info import SparsePauliOp

from .aer_readout import ExactPlan

__all__ = [
    "Read",
    "active_qubits",
    "arrange",
    "has_expressions",
    "light_cone",
    "reads_for",
    "restrict_to_support",
]


@dataclasses.dataclass(frozen=True)
class Read:
    """One saved quantity of an observable: where it is saved, and how it is read."""

    index: int  # the observable it belongs to
    qubits: tuple[int, ...]  # the qubits it needs (its light cone starts here)
    kind: str  # "pauli", "amps" or "marg"
    data: Any  # the SparsePauliOp, the amplitude indices, or the marginal's table
    coeffs: NDArray[np.float64] | None = None

    def save(self, qc: QuantumCircuit, label: str, truncate: bool) -> None:
        """Add the save instruction to ``qc`` (on the observable's own qubits if ``truncate``)."""
        if self.kind == "pauli":
            support, reduced = restrict_to_support(self.data) if truncate else ([], self.data)
            if support:
                qc.save_expectation_value(reduced, support, label=label)
            else:
                qc.save_expectation_value(self.data, range(qc.num_qubits), label=label)
        elif self.kind == "amps":
            qc.save_amplitudes_squared(self.data, label=label)
        else:
            qc.save_probabilities(list(self.qubits), label=label)

    def value(self, saved: list[Any]) -> NDArray[np.float64]:
        """The observable's share of the value, from what Aer saved."""
        if self.kind == "pauli":
            return np.real(saved)
        if self.kind == "amps":
            return np.array(saved) @ self.coeffs
        return np.array(saved) @ self.data


def reads_for(plan: ExactPlan, index: int, n: int) -> list[Read]:
    """The observable's saved quantities.

    Pauli terms grouped by support, the all-qubit amplitudes, and each marginal.
    """
    reads = []
    if plan.pauli is not None:
        by_support: dict[tuple[int, ...], list[int]] = {}
        for k, label in enumerate(plan.pauli.paulis.to_labels()):
            support = tuple(q for q in range(n) if label[n - 1 - q] != "I")
            by_support.setdefault(support, []).append(k)
        for support, rows in by_support.items():
            reads.append(Read(index, support, "pauli", plan.pauli[rows]))
    if plan.amplitudes:
        reads.append(Read(index, tuple(range(n)), "amps", plan.amplitudes, plan.amplitude_coeffs))
    for qubits, table in plan.marginals:
        reads.append(Read(index, tuple(qubits), "marg", table))
    return reads


def light_cone(circuit: QuantumCircuit, qubits: Iterable[int]) -> frozenset[int]:
    """The qubits whose gates can reach ``qubits`` by the end of the circuit.

    Found backwards through every multi-qubit gate; Aer simulates no others when only
    ``qubits`` are saved.
    """
    cone = set(qubits)
    for inst in reversed(circuit.data):
        touched = {circuit.find_bit(q).index for q in inst.qubits}
        if len(touched) > 1 and touched & cone and inst.operation.name != "barrier":
            cone |= touched
    return frozenset(cone)


def arrange(circuit: QuantumCircuit, reads: list[Read]) -> list[tuple[list[Read], int]]:
    """One Aer run on the union of the light cones, or one run per distinct cone.

    Whichever simulates fewer amplitudes: ``[(reads, qubits simulated), ...]``.

    A sum of terms on different qubits (the local cost) at shallow depth has small cones but
    a union that covers the register: one run per cone then simulates 2^k amplitudes per
    term instead of 2^n for all. Equal cones share a run. Each run also costs a fixed Aer
    call, so splitting must save at least half (``benchmarks/bench_light_cone.py``).
    """
    if len(reads) < 2:
        width = len(light_cone(circuit, reads[0].qubits)) if reads else 0
        return [(reads, width)]
    cones: dict[frozenset[int], list[Read]] = {}
    for read in reads:
        cones.setdefault(light_cone(circuit, read.qubits), []).append(read)
    union = frozenset().union(*cones)
    split = sum(2 ** len(c) for c in cones)
    if len(cones) > 1 and 2 * split <= 2 ** len(union):
        return [(group, len(cone)) for cone, group in cones.items()]
    # In the plan's order: the sums then add up exactly as one run always did.
    return [(reads, len(union))]


def has_expressions(circuit: QuantumCircuit) -> bool:
    """Whether any gate angle is an expression of parameters rather than a parameter."""
    return any(
        isinstance(p, ParameterExpression) and not isinstance(p, Parameter)
        for inst in circuit.data
        for p in inst.operation.params
    )


def restrict_to_support(op: SparsePauliOp) -> tuple[list[int], SparsePauliOp]:
    """The qubits the operator acts on, and the operator on those qubits alone (same order)."""
    n = op.num_qubits
    support = sorted(
        {q for label in op.paulis.to_labels() for q in range(n) if label[n - 1 - q] != "I"}
    )
    labels = [
        "".join(label[n - 1 - q] for q in reversed(support)) for label in op.paulis.to_labels()
    ]
    return support, SparsePauliOp(labels, op.coeffs) if support else op


def active_qubits(circuit: QuantumCircuit) -> int:
    """Number of qubits that any instruction touches.

    Aer truncates the others (an ISA circuit spans the whole device), so memory is bounded by
    these.
    """
    return len({q for inst in circuit.data for q in inst.qubits})
