"""Cost observables as :class:`~qiskit.quantum_info.SparseObservable`.

``SparseObservable`` can hold projector letters (``0`` = ``|0><0|``, ``1`` = ``|1><1|``), so
the global cost ``|0...0><0...0|`` is *one* term instead of the 2**n Pauli strings of its
expansion. qiskit's ``ObservablesArray`` accepts such terms in an Estimator PUB; bp_qiskit's
:class:`~bp_qiskit.backends.aer.AerEstimator` evaluates them directly (one amplitude, or one
computational-basis measurement with shots). For estimators that only take Pauli strings,
:func:`to_pauli_op` expands projectors; that is exponential in the number of projector
letters per term, so it refuses above :data:`MAX_EXPANSION_TERMS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from qiskit.quantum_info import SparseObservable, SparsePauliOp

from ..errors import SpecError

__all__ = [
    "MAX_EXPANSION_TERMS",
    "OBSERVABLES",
    "ObservableLike",
    "global_projector",
    "is_diagonal",
    "local_cost",
    "make_observable",
    "parse_pauli_term",
    "pauli_sum",
    "pauli_term_count",
    "to_pauli_op",
    "zz",
]

OBSERVABLES = ("global", "zz", "local", "pauli")
MAX_EXPANSION_TERMS = 1 << 16
_DIAGONAL_LETTERS = frozenset("Z01")


def global_projector(num_qubits: int) -> SparseObservable:
    """Return ``|0...0><0...0|`` as a single projector term."""
    return SparseObservable("0" * num_qubits)


def zz(num_qubits: int) -> SparseObservable:
    """Return Z0 Z1 (McClean's cost)."""
    if num_qubits < 2:
        raise ValueError(f"num_qubits: Z0 Z1 needs at least 2 qubits, got {num_qubits}")
    return SparseObservable.from_sparse_list([("ZZ", [0, 1], 1.0)], num_qubits)


def local_cost(num_qubits: int) -> SparseObservable:
    """Return the local cost observable (1/n) sum_j ``|0><0|_j`` of Cerezo et al."""
    terms = [("0", [j], 1.0 / num_qubits) for j in range(num_qubits)]
    return SparseObservable.from_sparse_list(terms, num_qubits)


def parse_pauli_term(label: str) -> list[tuple[str, int]]:
    """Parse ``"Z0 Z1"`` into ``[("Z", 0), ("Z", 1)]``.

    Raises:
        ValueError: for a token that is not a letter I/X/Y/Z and a qubit index, or a qubit
            named twice.
    """
    out: list[tuple[str, int]] = []
    for tok in label.split():
        m = re.fullmatch(r"([IXYZ])(\d+)", tok)
        if not m:
            raise ValueError(f"{label!r}: tokens like 'Z0', 'X3' separated by spaces")
        out.append((m.group(1), int(m.group(2))))
    qubits = [q for _, q in out]
    if len(set(qubits)) != len(qubits):
        raise ValueError(f"{label!r}: each qubit at most once per term")
    return out


def pauli_sum(terms: Sequence[str], coeffs: Sequence[float], num_qubits: int) -> SparseObservable:
    """Return sum_k coeffs[k] * P_k from sparse labels like ``"Z0 Z1"``."""
    if len(terms) != len(coeffs):
        raise ValueError(f"coeffs: expected {len(terms)} numbers, got {len(coeffs)}")
    sparse = []
    for label, c in zip(terms, coeffs, strict=True):
        toks = parse_pauli_term(label)
        if any(q >= num_qubits for _, q in toks):
            raise ValueError(f"terms: {label!r} acts outside {num_qubits} qubits")
        paulis = "".join(p for p, _ in toks)
        sparse.append((paulis, [q for _, q in toks], float(c)))
    return SparseObservable.from_sparse_list(sparse, num_qubits)


class ObservableLike(Protocol):
    """What :func:`make_observable` reads: the ``[observable]`` section has these fields.

    A protocol rather than the spec class itself, so the maths layer never imports specs.
    """

    @property
    def kind(self) -> str:
        """``global``, ``zz``, ``local`` or ``pauli``."""

    @property
    def terms(self) -> Sequence[str]:
        """Sparse Pauli labels (``pauli`` only)."""

    @property
    def coeffs(self) -> Sequence[float]:
        """One coefficient per term (``pauli`` only)."""


def make_observable(spec: ObservableLike, num_qubits: int) -> SparseObservable:
    """Build the observable a spec asks for at ``num_qubits``."""
    if spec.kind == "global":
        return global_projector(num_qubits)
    if spec.kind == "zz":
        return zz(num_qubits)
    if spec.kind == "local":
        return local_cost(num_qubits)
    if spec.kind == "pauli":
        return pauli_sum(spec.terms, spec.coeffs, num_qubits)
    # An unknown kind used to fall through to an empty Pauli sum: the zero operator, and
    # every gradient 0.
    raise SpecError(f"observable.kind: got {spec.kind!r}; allowed: {', '.join(OBSERVABLES)}")


def is_diagonal(obs: SparseObservable) -> bool:
    """True when every term is built from I, Z, 0 and 1 only (one Z-basis measurement)."""
    return all(set(label) <= _DIAGONAL_LETTERS for label, _, _ in obs.to_sparse_list())


def pauli_term_count(obs: SparseObservable) -> int:
    """How many Pauli strings the observable expands into: 2 per projector letter per term."""
    return sum(1 << sum(ch in "01+-rl" for ch in label) for label, _, _ in obs.to_sparse_list())


def to_pauli_op(obs: SparseObservable) -> SparsePauliOp:
    """Expand projector letters into Pauli strings (``0`` = (I+Z)/2, ``1`` = (I-Z)/2).

    Raises:
        ValueError: if the expansion would exceed :data:`MAX_EXPANSION_TERMS` terms.
    """
    total = pauli_term_count(obs)
    if total > MAX_EXPANSION_TERMS:
        raise ValueError(
            f"observable: expanding projectors gives {total} Pauli terms "
            f"(> {MAX_EXPANSION_TERMS}); use the 'aer' backend, which evaluates projectors "
            "directly"
        )
    paulis = obs.as_paulis()
    return SparsePauliOp.from_sparse_list(
        [(label, qubits, coeff) for label, qubits, coeff in paulis.to_sparse_list()],
        obs.num_qubits,
    ).simplify(atol=0.0)
