"""How :class:`~bp_qiskit.backends.aer.AerEstimator` reads observables off Aer's outputs.

Exact values: all-qubit projector terms are one squared amplitude, other diagonal terms come
from the marginal probabilities of their qubits, Pauli terms from ``save_expectation_value``
(:func:`exact_plan`). Shots: terms are grouped qubit-wise into measurement bases
(:func:`shot_groups`) and every observable is evaluated per shot, so the reported standard
error is the exact one of the sampled outcomes (:func:`counts_by_value`, :func:`moments`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.quantum_info import SparseObservable, SparsePauliOp

__all__ = [
    "MAX_MARGINAL_QUBITS",
    "ExactPlan",
    "ShotGroup",
    "confused",
    "counts_by_value",
    "exact_plan",
    "moments",
    "outcome_values",
    "readout_confusion",
    "shot_groups",
    "two_valued",
]

# Above this many qubits in one diagonal term we refuse marginal probabilities (2**k floats
# per binding) rather than allocate them silently.
MAX_MARGINAL_QUBITS = 20


@dataclasses.dataclass
class ExactPlan:
    """How to evaluate one observable exactly from Aer save instructions."""

    constant: float
    pauli: SparsePauliOp | None
    amplitudes: list[int]  # basis-state indices of all-qubit projector terms
    amplitude_coeffs: NDArray[np.float64]
    marginals: list[tuple[list[int], NDArray[np.float64]]]  # (qubits, value per outcome)


def _letter_values(letter: str, bits: NDArray[np.int64]) -> NDArray[np.float64]:
    if letter in "ZXY":
        return (1 - 2 * bits).astype(float)
    if letter == "0":
        return (1 - bits).astype(float)
    if letter == "1":
        return bits.astype(float)
    raise ValueError(f"observable: letter {letter!r} is not supported by AerEstimator")


def _term_table(label: str, num_k: int) -> NDArray[np.float64]:
    """Value of one term on each outcome of its own qubits (bit i of the index = i-th qubit)."""
    outcomes = np.arange(1 << num_k)
    vals = np.ones(1 << num_k)
    for i, letter in enumerate(label):
        vals *= _letter_values(letter, (outcomes >> i) & 1)
    return vals


def exact_plan(obs: SparseObservable) -> ExactPlan:
    """Split an observable into what each Aer save instruction can read exactly."""
    n = obs.num_qubits
    constant = 0.0
    paulis: list[tuple[str, list[int], complex]] = []
    amps: list[int] = []
    amp_coeffs: list[float] = []
    marginals: list[tuple[list[int], NDArray[np.float64]]] = []
    for label, qubits, coeff in obs.to_sparse_list():
        if abs(coeff.imag) > 1e-12:
            raise ValueError("observable: coefficients must be real (the observable is Hermitian)")
        c = float(coeff.real)
        letters = set(label)
        if not label:
            constant += c
        elif letters <= set("XYZ"):
            paulis.append((label, list(qubits), c))
        elif letters <= set("01") and len(qubits) == n:
            amps.append(
                sum(1 << q for q, letter in zip(qubits, label, strict=True) if letter == "1")
            )
            amp_coeffs.append(c)
        elif letters <= set("Z01") and len(qubits) <= MAX_MARGINAL_QUBITS:
            marginals.append((list(qubits), c * _term_table(label, len(qubits))))
        else:
            # A projector mixed with X/Y (rare): expand just this term into Paulis.
            term = SparseObservable.from_sparse_list([(label, qubits, c)], n).as_paulis()
            for plabel, pqubits, pc in term.to_sparse_list():
                if plabel:
                    paulis.append((plabel, list(pqubits), float(pc.real)))
                else:
                    constant += float(pc.real)
    pauli = SparsePauliOp.from_sparse_list(paulis, n).simplify(atol=0.0) if paulis else None
    return ExactPlan(constant, pauli, amps, np.array(amp_coeffs), marginals)


@dataclasses.dataclass
class ShotGroup:
    """Terms measured together in one basis setting."""

    basis: dict[int, str]  # qubit -> "X" / "Y" / "Z"
    terms: list[tuple[str, list[int], float]]


def shot_groups(obs: SparseObservable) -> tuple[float, list[ShotGroup]]:
    """Greedy qubit-wise-commuting grouping; projector letters and Z share the Z basis."""
    constant = 0.0
    groups: list[ShotGroup] = []
    for label, qubits, coeff in obs.to_sparse_list():
        if abs(coeff.imag) > 1e-12:
            raise ValueError("observable: coefficients must be real (the observable is Hermitian)")
        c = float(coeff.real)
        if not label:
            constant += c
            continue
        need = {
            q: ("Z" if letter in "Z01" else letter) for q, letter in zip(qubits, label, strict=True)
        }
        for g in groups:
            if all(g.basis.get(q, b) == b for q, b in need.items()):
                g.basis.update(need)
                g.terms.append((label, list(qubits), c))
                break
        else:
            groups.append(ShotGroup(dict(need), [(label, list(qubits), c)]))
    return constant, groups


def outcome_values(group: ShotGroup, outcomes: NDArray[np.int64]) -> NDArray[np.float64]:
    """Observable value (this group's terms) for each measured outcome integer."""
    total = np.zeros(len(outcomes))
    for label, qubits, c in group.terms:
        v = np.full(len(outcomes), c)
        for letter, q in zip(label, qubits, strict=True):
            v *= _letter_values(letter, (outcomes >> q) & 1)
        total += v
    return total


def two_valued(group: ShotGroup) -> tuple[float, float] | None:
    """(low, high) per-shot values if the group is one Pauli string or one projector term."""
    if len(group.terms) != 1:
        return None
    label, _, c = group.terms[0]
    if set(label) <= set("XYZ"):
        lo, hi = -abs(c), abs(c)
    elif set(label) <= set("01"):
        lo, hi = min(0.0, c), max(0.0, c)
    else:
        return None
    return (lo, hi) if hi > lo else None


def counts_by_value(
    group: ShotGroup, datas: list[Any]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Aer counts (hex outcome keys) -> counts per distinct observable value, per binding."""
    keys: list[int] = []
    counts: list[int] = []
    owner: list[int] = []
    for b, d in enumerate(datas):
        for k, c in d["counts"].items():
            keys.append(int(k, 16))
            counts.append(c)
            owner.append(b)
    f = outcome_values(group, np.array(keys, dtype=np.int64))
    values, col = np.unique(f, return_inverse=True)
    out = np.zeros((len(datas), len(values)))
    np.add.at(out, (np.array(owner), col), np.array(counts, dtype=float))
    return out, values


def moments(
    counts: NDArray[np.float64], values: NDArray[np.float64], shots: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and variance-of-the-mean per binding from counts of per-shot values."""
    total = counts.sum(axis=1)
    if np.any(total != shots):
        raise RuntimeError(f"sampled {total.min()}..{total.max()} shots, expected {shots}")
    mean = counts @ values / shots
    if shots < 2:
        return mean, np.full(len(mean), np.nan)
    # Unbiased single-shot variance s^2, then the variance of the mean s^2 / N.
    s_sq = np.maximum(counts @ values**2 - shots * mean**2, 0.0) / (shots - 1)
    return mean, s_sq / shots


def readout_confusion(noise_model: Any) -> dict[int, NDArray[np.float64]]:
    """Each qubit's readout error in ``noise_model``: ``M[i, j] = P(read j | state i)``.

    Why the sampler needs it: Aer applies readout errors to ``measure`` instructions only,
    and the binomial and multinomial routes draw from exact probabilities, which have none;
    without this a device's readout error reached a study with shots on one route and not
    on the others. Read from the model's public ``to_dict``; a correlated (multi-qubit)
    readout error is refused, since per-qubit matrices cannot hold it.
    """
    if noise_model is None:
        return {}
    out: dict[int, NDArray[np.float64]] = {}
    for error in noise_model.to_dict().get("errors", []):
        if error.get("type") != "roerror":
            continue
        qubit_sets = error.get("gate_qubits") or []
        matrix = np.asarray(error["probabilities"], dtype=float)
        if matrix.shape != (2, 2) or not qubit_sets:
            raise ValueError(
                "noise_model: a readout error on all or several qubits at once; allowed: one "
                "2 x 2 readout error per qubit"
            )
        for (q,) in qubit_sets:
            out[int(q)] = matrix
    return out


def confused(
    probs: NDArray[np.float64], qubits: list[int], confusion: dict[int, NDArray[np.float64]]
) -> NDArray[np.float64]:
    """(B, 2^k) outcome probabilities on ``qubits`` (bit i: qubits[i]) after readout errors."""
    k = len(qubits)
    b = probs.shape[0]
    # axis 1 + (k - 1 - i) holds bit i: C order puts the highest bit first
    tensor = probs.reshape((b,) + (2,) * k)
    for i, q in enumerate(qubits):
        m = confusion.get(q)
        if m is None:
            continue
        axis = 1 + (k - 1 - i)
        tensor = np.moveaxis(np.tensordot(tensor, m, axes=([axis], [0])), -1, axis)
    return tensor.reshape(b, -1)
