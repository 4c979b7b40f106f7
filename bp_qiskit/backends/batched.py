"""Exact expectation values of a whole PUB in one vectorised numpy pass.

Why: for small circuits Aer's fixed cost per binding dominates, while a bare numpy
statevector holding every binding at once pays one call per gate. Here every binding of a
PUB is one row of a (B, 2^n) array and each gate is applied to all rows at once: one batched
2 x 2 (or 4 x 4) product per gate, whatever B is.

Aer stays the reference: :class:`~bp_qiskit.backends.aer.AerEstimator` uses this only for
noiseless statevector runs of small circuits (:func:`worth_it`) whose gates are all in the
table below, and falls back to Aer for anything else (:func:`evaluate` returns None).
``tests/test_batched.py`` checks it against Aer to 1e-12 on every built-in ansatz and cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression

from .aer_readout import ExactPlan

__all__ = ["MAX_QUBITS", "MAX_WORK", "evaluate", "worth_it"]

# Where the numpy pass beats Aer: its cost grows as gates x 2^n for every binding at once,
# Aer's as bindings x (a fixed cost + fused gates x 2^n). `python benchmarks/bench_batched.py`
# (McClean, global cost, 200 circuits) measured it 1.2x to 2.9x faster up to gates x 2^n =
# 3200, and 0.79x at 5888 (n = 8, L = 1); the switch lies between.
MAX_QUBITS = 10
MAX_WORK = 4096


def worth_it(circuit: QuantumCircuit) -> bool:
    """Whether this circuit is small enough for the numpy pass to beat Aer."""
    n = circuit.num_qubits
    return n <= MAX_QUBITS and len(circuit.data) * 2**n <= MAX_WORK


_Matrices = Callable[[list[NDArray[np.float64]]], NDArray[np.complex128]]


def _u(theta: NDArray[np.float64], phi: NDArray[np.float64], lam: NDArray[np.float64]) -> Any:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    out = np.empty((*theta.shape, 2, 2), dtype=complex)
    out[..., 0, 0] = c
    out[..., 0, 1] = -np.exp(1j * lam) * s
    out[..., 1, 0] = np.exp(1j * phi) * s
    out[..., 1, 1] = np.exp(1j * (phi + lam)) * c
    return out


def _rx(t: NDArray[np.float64]) -> NDArray[np.complex128]:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)


def _ry(t: NDArray[np.float64]) -> NDArray[np.complex128]:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _rz(t: NDArray[np.float64]) -> NDArray[np.complex128]:
    zero = np.zeros_like(t)
    e = np.exp(-0.5j * t)
    return np.stack([np.stack([e, zero], -1), np.stack([zero, np.conj(e)], -1)], -2)


def _p(t: NDArray[np.float64]) -> NDArray[np.complex128]:
    one, zero = np.ones_like(t, dtype=complex), np.zeros_like(t, dtype=complex)
    return np.stack([np.stack([one, zero], -1), np.stack([zero, np.exp(1j * t)], -1)], -2)


# Single-qubit gates whose angles may be parameters: name -> batched matrices.
_PARAMETRIC: dict[str, _Matrices] = {
    "u": lambda a: _u(a[0], a[1], a[2]),
    "u3": lambda a: _u(a[0], a[1], a[2]),
    "rx": lambda a: _rx(a[0]),
    "ry": lambda a: _ry(a[0]),
    "rz": lambda a: _rz(a[0]),
    "p": lambda a: _p(a[0]),
}
_PAULI = {
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]]),
    "z": np.diag([1.0, -1.0]).astype(complex),
}
# Two-qubit rotations exp(-i t/2 P x P): name -> the Pauli P.
_PAIR = {"rxx": "x", "ryy": "y", "rzz": "z"}


def _pair(letter: str, t: NDArray[np.float64]) -> NDArray[np.complex128]:
    pp = np.kron(_PAULI[letter], _PAULI[letter])
    c, s = np.cos(t / 2)[:, None, None], np.sin(t / 2)[:, None, None]
    return c * np.eye(4) - 1j * s * pp


_FIXED = frozenset({"h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg", "id", "cx", "cz",
                    "cy", "swap"})  # fmt: skip


def _angles(
    params: Sequence[object], columns: dict[Parameter, int], rows: NDArray[np.float64]
) -> list[NDArray[np.float64]] | None:
    """Each gate angle over the bindings, or None for an expression (Aer binds those)."""
    out = []
    for p in params:
        if isinstance(p, Parameter):
            out.append(rows[:, columns[p]])
        elif isinstance(p, ParameterExpression):
            return None
        else:
            out.append(np.full(rows.shape[0], float(p)))  # type: ignore[arg-type]
    return out


def _apply_one(psi: NDArray[np.complex128], m: NDArray[np.complex128], q: int, n: int) -> Any:
    """Apply a 2 x 2 matrix (one per row, or one for all) to qubit q of every row."""
    b = psi.shape[0]
    view = psi.reshape(b, 2 ** (n - 1 - q), 2, 2**q)
    if m.ndim == 2:
        return np.einsum("ij,bajc->baic", m, view).reshape(b, -1)
    return np.einsum("bij,bajc->baic", m, view).reshape(b, -1)


def _apply_two(
    psi: NDArray[np.complex128], m: NDArray[np.complex128], q0: int, q1: int, n: int
) -> Any:
    """Apply a 4 x 4 matrix (one per row, or one for all) to qubits (q0, q1).

    The matrix is in Qiskit's order: q0 is the low bit.
    """
    b = psi.shape[0]
    tensor = psi.reshape((b,) + (2,) * n)
    a0, a1 = n - q0, n - q1  # axis of each qubit (the last axis is qubit 0)
    moved = np.moveaxis(tensor, (a1, a0), (1, 2)).reshape(b, 4, -1)
    rule = "ij,bjr->bir" if m.ndim == 2 else "bij,bjr->bir"
    out = np.einsum(rule, m, moved).reshape((b, 2, 2) + (2,) * (n - 2))
    return np.moveaxis(out, (1, 2), (a1, a0)).reshape(b, -1)


def _apply_rotation(
    psi: NDArray[np.complex128], name: str, angles: list[Any], qubits: list[int], n: int
) -> NDArray[np.complex128]:
    """A one-qubit rotation or a two-qubit Pauli rotation, one angle per state."""
    if name in _PAIR:
        return _apply_two(psi, _pair(_PAIR[name], angles[0]), qubits[0], qubits[1], n)
    return _apply_one(psi, _PARAMETRIC[name](angles), qubits[0], n)


def _apply_fixed(
    psi: NDArray[np.complex128], op: Any, qubits: list[int], index: NDArray[Any], n: int
) -> NDArray[np.complex128]:
    """A fixed gate: CZ as a sign, any other by its matrix."""
    if op.name == "cz":
        both = ((index >> qubits[0]) & 1) & ((index >> qubits[1]) & 1)
        return psi * np.where(both, -1.0, 1.0)
    m = np.asarray(op.to_matrix(), dtype=complex)
    if len(qubits) == 1:
        return _apply_one(psi, m, qubits[0], n)
    return _apply_two(psi, m, qubits[0], qubits[1], n)


def evaluate(
    circuit: QuantumCircuit, plans: Sequence[ExactPlan], rows: NDArray[np.float64]
) -> NDArray[np.float64] | None:
    """``(observables, bindings)`` exact values, or None where Aer must do it.

    ``rows`` holds one binding per row, its columns in ``circuit.parameters`` order.
    """
    n = circuit.num_qubits
    if n > MAX_QUBITS:
        return None
    columns = {p: j for j, p in enumerate(circuit.parameters)}
    # Shared prefixes: rows whose angles agree on every gate so far have the same state, so
    # the pass holds one state per distinct prefix (``group[row]`` says which) and splits a
    # group only where a gate's angles differ. Both shifts of a sample share everything
    # before the shifted gate: for the last parameter (the seed study's) the pass does
    # about half the work; for the first, the same work as before. Each state is computed
    # by the same operations either way, so the values are the same bits.
    group = np.zeros(rows.shape[0], dtype=np.int64)
    rep = np.zeros(1, dtype=np.int64)  # a row of every group
    psi = np.zeros((1, 2**n), dtype=complex)
    psi[:, 0] = 1.0
    index = np.arange(2**n)
    for inst in circuit.data:
        op = inst.operation
        name = op.name
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if name == "barrier":
            continue
        if (name in _PARAMETRIC and len(qubits) == 1) or (name in _PAIR and len(qubits) == 2):
            angles = _angles(op.params, columns, rows)
            if angles is None:
                return None
            same = [a[rep] for a in angles]
            if all(np.array_equal(a, r[group]) for a, r in zip(angles, same, strict=True)):
                angles = same  # no group splits here (a fixed angle, or a shared one)
            else:
                group, rep, parents = _split(group, angles)
                psi = psi[parents]
                angles = [a[rep] for a in angles]
            psi = _apply_rotation(psi, name, angles, qubits, n)
        elif name == "cz" or name in _FIXED:
            psi = _apply_fixed(psi, op, qubits, index, n)
        else:
            return None
    return _read(psi, plans, n)[:, group]  # each distinct state's values, to every row


def _split(
    group: NDArray[np.int64], angles: list[NDArray[np.float64]]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Regroup the rows by (their state so far, this gate's angles).

    Returns each row's new group, a representative row of every new group, and the old
    state each new group continues from.
    """
    # Rows are compared by their angles' bits (as np.unique's byte comparison would: -0.0 and
    # 0.0 stay apart, since their states' signed zeros may differ), sorted by np.lexsort on
    # int64 views: half np.unique(axis=0)'s time, which sorts void records (400 rows).
    keys = np.stack([group, *(a.view(np.int64) for a in angles)], axis=1)
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    starts = np.empty(len(order), dtype=bool)
    starts[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=starts[1:])
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    first = order[starts]
    return inverse, first, group[first]


def _read(psi: NDArray[np.complex128], plans: Sequence[ExactPlan], n: int) -> Any:
    """The plans' values from the states, summed in the order Aer's reads are."""
    probs = np.abs(psi) ** 2
    out = np.zeros((len(plans), psi.shape[0]))
    index = np.arange(2**n)
    for i, plan in enumerate(plans):
        v = np.zeros(psi.shape[0])
        if plan.pauli is not None:
            for label, coeff in zip(plan.pauli.paulis.to_labels(), plan.pauli.coeffs, strict=True):
                v += float(np.real(coeff)) * _pauli_expectation(psi, probs, label, index, n)
        if plan.amplitudes:
            v += probs[:, plan.amplitudes] @ plan.amplitude_coeffs
        for qubits, table in plan.marginals:
            local = np.zeros(2**n, dtype=np.int64)
            for k, q in enumerate(qubits):
                local |= ((index >> q) & 1) << k
            marg = np.zeros((psi.shape[0], 2 ** len(qubits)))
            for value in range(2 ** len(qubits)):
                marg[:, value] = probs[:, local == value].sum(axis=1)
            v += marg @ table
        out[i] = plan.constant + v
    return out


def _pauli_expectation(
    psi: NDArray[np.complex128],
    probs: NDArray[np.float64],
    label: str,
    index: NDArray[np.int64],
    n: int,
) -> NDArray[np.float64]:
    """<psi|P|psi> for one Pauli label (Qiskit's order: the last letter is qubit 0)."""
    flip = 0
    sign = np.ones(2**n)
    phase = 1.0 + 0j
    for q in range(n):
        letter = label[n - 1 - q]
        bit = (index >> q) & 1
        if letter in "XY":
            flip |= 1 << q
        if letter in "ZY":
            sign = sign * (1 - 2 * bit)
        if letter == "Y":
            phase *= 1j
    if not flip:
        return probs @ sign
    # P|x> = phase * sign(x) |x ^ flip>, so <psi|P|psi> = sum_x conj(psi[x ^ flip]) phase
    # sign(x) psi[x]; Y = i X Z supplies the phase and the sign.
    return np.real(phase * np.einsum("bx,bx->b", np.conj(psi[:, index ^ flip]), sign * psi))
