"""A circuit as gate records and stages, and the forward sweep over them.

:func:`compile_circuit` reads a ``QuantumCircuit`` once into records (:class:`AdjointProgram`):
each gate with its angle slots (a template column or a constant), fixed gates with their
matrix, and each run of fixed diagonal gates as one diagonal. :attr:`AdjointProgram.stages`
groups them as the passes apply them: a run of one-qubit gates as Kronecker blocks
(:mod:`bp_qiskit.backends.blocks`), any other gate on its own. :func:`final_states` is the
forward sweep over every binding at once (one row of a (B, 2^n) array each). The adjoint
pass (:mod:`.adjoint`) adds the backward sweep; the fused pass (:mod:`.fused`) reads the
states.

What it accepts (:func:`compile_circuit` returns None otherwise): ``u``/``u3``, ``rx``,
``ry``, ``rz``, ``p``, ``rxx``, ``ryy``, ``rzz`` with plain parameters; and the fixed gates
of the numpy pass.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression

from .batched import _FIXED, _PAIR, _PARAMETRIC, _apply_two, _pair, _u
from .blocks import apply_blocks

__all__ = ["MAX_QUBITS", "AdjointProgram", "compile_circuit", "final_states"]

# The states are (B, 2^n) complex arrays, three of them at once: n = 20 with B = 16 is
# 0.8 GB. Above this, Aer's shift path holds one state per binding instead.
MAX_QUBITS = 20
_HALF_TURN = np.pi

# Fixed diagonal gates: name -> their diagonal from the bits of the qubits they act on.
_DIAGONAL = {
    "cz": lambda bits: 1.0 - 2.0 * (bits[0] & bits[1]),
    "z": lambda bits: 1.0 - 2.0 * bits[0],
    "s": lambda bits: np.where(bits[0], 1j, 1.0),
    "sdg": lambda bits: np.where(bits[0], -1j, 1.0),
    "t": lambda bits: np.where(bits[0], np.exp(0.25j * np.pi), 1.0),
    "tdg": lambda bits: np.where(bits[0], np.exp(-0.25j * np.pi), 1.0),
}


@dataclasses.dataclass(frozen=True)
class _Gate:
    """One instruction: its name, qubits, and each angle as a column index or a constant."""

    name: str
    qubits: tuple[int, ...]
    columns: tuple[int | None, ...]  # per angle slot: the template column, or None if fixed
    constants: tuple[float, ...]  # per angle slot: the value when fixed (0.0 otherwise)
    matrix: NDArray[np.complex128] | None = None  # fixed gates only
    diagonal: NDArray[Any] | None = None  # a run of fixed diagonal gates, 2^n (real if it can)


_Stage = tuple[str, Any]  # ("ones", {qubit: [gate, ...] in time order}) | ("gate", gate)


@dataclasses.dataclass(frozen=True)
class AdjointProgram:
    """A circuit compiled for the adjoint pass (:func:`compile_circuit`)."""

    num_qubits: int
    num_columns: int
    gates: tuple[_Gate, ...]

    @functools.cached_property
    def stages(self) -> list[_Stage]:
        """The gates as the passes apply them (:func:`_stages`), grouped once per program."""
        return _stages(self)


def compile_circuit(circuit: QuantumCircuit, *, distinct: bool = True) -> AdjointProgram | None:
    """The circuit as gate records, or None where the adjoint pass cannot run it.

    None for: a gate outside the table, an angle that is an expression, or (``distinct``,
    for gradients) a parameter in two slots (its shift would then move two gates, and the
    shift pairs would not be single columns). The fused pass, which only evaluates, passes
    ``distinct=False``.
    """
    n = circuit.num_qubits
    if n > MAX_QUBITS:
        return None
    columns = {p: j for j, p in enumerate(circuit.parameters)}
    seen: set[int] = set()
    gates: list[_Gate] = []
    run: list[tuple[str, tuple[int, ...]]] = []  # the fixed diagonal gates not yet placed
    for inst in circuit.data:
        op = inst.operation
        name = op.name
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        if name == "barrier":
            continue
        if name in _DIAGONAL:
            run.append((name, qubits))
            continue
        if run:
            gates.append(_Gate("diagonal", (), (), (), diagonal=_diagonal(run, n)))
            run = []
        if name in _FIXED and not op.params:
            gates.append(_Gate(name, qubits, (), (), np.asarray(op.to_matrix(), dtype=complex)))
            continue
        if not ((name in _PARAMETRIC and len(qubits) == 1) or (name in _PAIR and len(qubits) == 2)):
            return None
        slots = _angle_slots(op.params, columns, seen if distinct else set())
        if slots is None:
            return None
        gates.append(_Gate(name, qubits, *slots))
    if run:
        gates.append(_Gate("diagonal", (), (), (), diagonal=_diagonal(run, n)))
    return AdjointProgram(n, len(columns), tuple(gates))


def _diagonal(run: Sequence[tuple[str, tuple[int, ...]]], n: int) -> NDArray[Any]:
    """A run of fixed diagonal gates as one 2^n diagonal: real signs for a CZ ladder.

    Built once per run, not per gate: a ladder is the parity of its pairs' bits (one byte
    per amplitude), and only phases (s, t) need complex numbers. Per gate in complex, the
    diagonals of McClean's circuits at n = 20, L = 10 took longer than the pass itself.
    """
    index = np.arange(2**n)
    bits: dict[int, NDArray[np.uint8]] = {}

    def bit(q: int) -> NDArray[np.uint8]:
        if q not in bits:
            bits[q] = ((index >> q) & 1).astype(np.uint8)
        return bits[q]

    if all(name == "cz" for name, _ in run):
        parity = np.zeros(2**n, dtype=np.uint8)
        for _, (a, b) in run:
            parity ^= bit(a) & bit(b)
        return 1.0 - 2.0 * parity
    d = np.ones(2**n, dtype=complex)
    for name, qubits in run:
        d *= _DIAGONAL[name]([bit(q) for q in qubits])
    return d


def _angle_slots(
    params: Sequence[Any], columns: dict[Parameter, int], seen: set[int]
) -> tuple[tuple[int | None, ...], tuple[float, ...]] | None:
    """Each angle's column (None: a constant) and its constant, or None.

    None for an expression, or a parameter already in another slot (``seen`` is updated).
    """
    cols: list[int | None] = []
    consts: list[float] = []
    for p in params:
        if isinstance(p, Parameter):
            if columns[p] in seen:
                return None
            seen.add(columns[p])
            cols.append(columns[p])
            consts.append(0.0)
        elif isinstance(p, ParameterExpression):
            return None
        else:
            cols.append(None)
            consts.append(float(p))
    return tuple(cols), tuple(consts)


def _matrix(gate: _Gate, rows: NDArray[np.float64], slot: int | None = None) -> Any:
    """The gate's (B, 2, 2) or (B, 4, 4) matrices, or their derivative in one angle slot."""
    if gate.diagonal is not None:
        return gate.diagonal
    if gate.matrix is not None:
        return gate.matrix
    b = rows.shape[0]
    angles = [
        rows[:, c] if c is not None else np.full(b, v)
        for c, v in zip(gate.columns, gate.constants, strict=True)
    ]
    name = gate.name
    if name in ("u", "u3"):
        if slot is None:
            return _u(angles[0], angles[1], angles[2])
        if slot == 0:  # cos and sin of theta / 2: d/dtheta U(theta) = U(theta + pi) / 2
            return 0.5 * _u(angles[0] + _HALF_TURN, angles[1], angles[2])
        m = _u(angles[0], angles[1], angles[2])
        # U = P(phi) RY(theta) P(lambda) with P(a) = diag(1, e^{ia}): d/dphi multiplies row 1
        # by i, d/dlambda multiplies column 1 by i.
        out = np.zeros_like(m)
        if slot == 1:
            out[:, 1, :] = 1j * m[:, 1, :]
        else:
            out[:, :, 1] = 1j * m[:, :, 1]
        return out
    if name == "p":
        if slot is None:
            return _PARAMETRIC["p"](angles)
        out = np.zeros((b, 2, 2), dtype=complex)
        out[:, 1, 1] = 1j * np.exp(1j * angles[0])
        return out
    # exp(-i t P / 2) for a Pauli P: d/dt = -i P / 2 exp(..) = exp(-i (t + pi) P / 2) / 2.
    t = angles[0] if slot is None else angles[0] + _HALF_TURN
    scale = 1.0 if slot is None else 0.5
    if name in _PAIR:
        return scale * _pair(_PAIR[name], t)
    return scale * _PARAMETRIC[name]([t])


def _apply_one(psi: Any, m: Any, q: int, n: int) -> Any:
    """A 2 x 2 matrix (one per row, or one for all) on qubit q, as two axpy's per half.

    Elementwise products instead of an einsum: 3-5x faster on (B, 2^n) rows, since the
    contraction is only 2 long.
    """
    b = psi.shape[0]
    view = psi.reshape(b, 2 ** (n - 1 - q), 2, 2**q)
    v0, v1 = view[:, :, 0, :], view[:, :, 1, :]
    if m.ndim == 3:
        m = m[:, :, :, None, None]  # (b, 2, 2, 1, 1) against (b, a, c)
        m00, m01, m10, m11 = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    else:
        m00, m01, m10, m11 = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    out = np.empty_like(view)
    out[:, :, 0, :] = m00 * v0 + m01 * v1
    out[:, :, 1, :] = m10 * v0 + m11 * v1
    return out.reshape(b, -1)


def _apply(gate: _Gate, psi: Any, m: Any, n: int) -> Any:
    if gate.diagonal is not None:
        return psi * m
    if len(gate.qubits) == 1:
        return _apply_one(psi, m, gate.qubits[0], n)
    return _apply_two(psi, m, gate.qubits[0], gate.qubits[1], n)


def _dagger(gate: _Gate, m: Any) -> Any:
    if gate.diagonal is not None:
        return np.conj(m)
    return np.conj(np.swapaxes(m, -1, -2))


def _stages(program: AdjointProgram) -> list[_Stage]:
    stages: list[_Stage] = []
    for gate in program.gates:
        if gate.diagonal is None and len(gate.qubits) == 1:
            if not stages or stages[-1][0] != "ones":
                stages.append(("ones", {}))
            stages[-1][1].setdefault(gate.qubits[0], []).append(gate)
        else:
            stages.append(("gate", gate))
    return stages


def _products(ones: dict[int, list[_Gate]], rows: NDArray[np.float64]) -> dict[int, list[Any]]:
    """Per qubit: each gate's matrices, then (last) their product, later gates on the left."""
    out: dict[int, list[Any]] = {}
    for q, gates in ones.items():
        mats = [_matrix(g, rows) for g in gates]
        prod = mats[0]
        for m in mats[1:]:
            prod = np.matmul(m, prod)
        out[q] = [*mats, prod]
    return out


def _forward(
    program: AdjointProgram, rows: NDArray[np.float64], *, keep: bool = True
) -> tuple[Any, list[Any]]:
    """The final states, and every stage's matrices if ``keep`` (for the backward pass)."""
    n = program.num_qubits
    psi = np.zeros((rows.shape[0], 2**n), dtype=complex)
    psi[:, 0] = 1.0
    kept: list[Any] = []
    for kind, what in program.stages:
        if kind == "ones":
            mats = _products(what, rows)
            psi = apply_blocks(psi, {q: m[-1] for q, m in mats.items()}, n)
        else:
            mats = _matrix(what, rows)
            psi = _apply(what, psi, mats, n)
        if keep:
            kept.append(mats)
    return psi, kept


def final_states(program: AdjointProgram, rows: NDArray[np.float64]) -> NDArray[np.complex128]:
    """The (B, 2^n) states at every binding: the forward pass alone (the fused pass's)."""
    return _forward(program, rows, keep=False)[0]
