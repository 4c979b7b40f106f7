"""Every gradient of an exact statevector PUB in one forward and one backward pass.

Why: the parameter-shift rule costs two circuits per differentiated parameter, so
``gradient.parameter = "all"`` at n = 14, L = 50 is 1,400 circuits per sample. The adjoint
(reverse-mode) method (Jones and Gacon 2020, arXiv 2009.02823) gets all of them from one
forward pass and one backward pass over the gates:

    psi = U_N ... U_1 |0>,  lam = O psi,  phi = psi
    for k = N .. 1:   phi <- U_k^dag phi;   dC/dv_k = 2 Re <lam| dU_k/dv_k phi>;
                      lam <- U_k^dag lam.

Each binding is one row of a (B, 2^n) array, as in the numpy pass of
:mod:`bp_qiskit.backends.batched`, whose gate kernels it shares.

It is exact, so it is used only for noiseless statevector tasks with ``shots == 0``
(:attr:`~bp_qiskit.backends.protocol.Capabilities.adjoint`). Parameter shift through the
Estimator stays the reference, and the only path with shots, noise or a QPU:
``tests/test_adjoint.py`` checks the two against each other to 1e-10 on every preset.

What it accepts (:func:`compile_circuit` returns None otherwise, and the caller shifts):
``u``/``u3``, ``rx``, ``ry``, ``rz``, ``p``, ``rxx``, ``ryy``, ``rzz`` with plain parameters,
each parameter in one gate slot; and the fixed gates of the numpy pass.
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
from qiskit.quantum_info import SparseObservable

from ..errors import SpecError
from .batched import _FIXED, _PAIR, _PARAMETRIC, _apply_two, _pair, _u
from .blocks import apply_blocks, blocks
from .protocol import Backend

__all__ = [
    "ADJOINT",
    "MAX_QUBITS",
    "AdjointProgram",
    "compile_circuit",
    "expectations",
    "final_states",
    "gradients",
    "wants_adjoint",
]

# The states are (B, 2^n) complex arrays, three of them at once: n = 20 with B = 16 is
# 0.8 GB. Above this, Aer's shift path holds one state per binding instead.
MAX_QUBITS = 20
ADJOINT = "adjoint"
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

# One letter of a SparseObservable term as a 2 x 2 matrix (projectors included).
_LETTERS = {
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
    "0": np.diag([1.0, 0.0]).astype(complex),
    "1": np.diag([0.0, 1.0]).astype(complex),
    "+": np.full((2, 2), 0.5, dtype=complex),
    "-": np.array([[0.5, -0.5], [-0.5, 0.5]], dtype=complex),
    "r": np.array([[0.5, -0.5j], [0.5j, 0.5]]),
    "l": np.array([[0.5, 0.5j], [-0.5j, 0.5]]),
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


def _observable_times(obs: SparseObservable, psi: Any, n: int) -> Any:
    """O |psi> for every row, term by term (projector letters as 2 x 2 matrices)."""
    out = np.zeros_like(psi)
    for letters, indices, coeff in obs.to_sparse_list():
        term = psi
        for letter, q in zip(letters, indices, strict=True):
            term = _apply_one(term, _LETTERS[letter], q, n)
        out += coeff * term
    return out


# The pass runs over stages (:func:`_stages`): a run of one-qubit gates is applied as one
# Kronecker product per block of qubits (the fused pass's kernel, backends/fused.py), and
# each of its gradients read from a 2 x 2 transition matrix of that qubit; any other gate is
# its own stage, as before. McClean at n = 10, L = 50, every parameter: the gate-by-gate
# pass this replaced took 3.5x as long (benchmarks/bench_adjoint.py, docs/benchmarks.md).


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


def expectations(
    program: AdjointProgram, observable: SparseObservable, rows: NDArray[np.float64]
) -> NDArray[np.float64]:
    """<O> at every binding (B,): the forward pass alone."""
    psi = final_states(program, rows)
    lam = _observable_times(observable, psi, program.num_qubits)
    return np.real(np.einsum("bx,bx->b", np.conj(psi), lam))


def _transitions(lam: Any, phi: Any, qubits: set[int], n: int) -> dict[int, Any]:
    """T_q[b, i, j] = sum over the other qubits of conj(lam[.. i ..]) phi[.. j ..], per qubit.

    One matrix product per block of qubits (the blocks of the fused pass): the block's
    d x d transition matrix, then each of its qubits' 2 x 2 one by a partial trace. One
    contraction per qubit instead took twice as long at n = 12.
    """
    b = phi.shape[0]
    lc = np.conj(lam)
    out: dict[int, Any] = {}
    top = n
    for size in blocks(n):
        mine = [q for q in range(top - 1, top - 1 - size, -1) if q in qubits]  # highest first
        top -= size
        if not mine:
            continue
        d, trail = 2**size, 2 ** (top)
        lv = lc.reshape(b, -1, d, trail).transpose(0, 2, 1, 3).reshape(b, d, -1)
        pv = phi.reshape(b, -1, d, trail).transpose(0, 2, 1, 3).reshape(b, d, -1)
        r = np.matmul(lv, pv.transpose(0, 2, 1))  # (b, d, d): R[I, J]
        for q in mine:
            k = top + size - 1 - q  # its axis in the block, highest qubit first
            hi, lo = 2**k, 2 ** (size - 1 - k)
            r6 = r.reshape(b, hi, 2, lo, hi, 2, lo)
            out[q] = np.einsum("bxiyxjy->bij", r6)
    return out


def _ones_gradients(
    ones: dict[int, list[_Gate]],
    mats: dict[int, list[Any]],
    lam: Any,
    phi: Any,
    rows: NDArray[np.float64],
    n: int,
    record: Any,
) -> None:
    """Each parameter's derivative in a stage of one-qubit gates (lam, phi: before it).

    With V_q = G_m ... G_1 the stage's product on qubit q, the derivative of the stage in
    gate j's angle is (x) V times V_q^-1 dV_q on q, and V_q^-1 dV_q = A^dag G_j^dag dG_j A
    with A = G_(j-1) ... G_1: so dC = 2 Re tr(M T), T the qubit's transition matrix.
    """
    live = {q for q, gates in ones.items() if any(c is not None for g in gates for c in g.columns)}
    ts = _transitions(lam, phi, live, n)
    for q in live:
        gates, t = ones[q], ts[q]
        before = None  # A: the product of this stage's earlier gates on q
        for gate, m in zip(gates, mats[q], strict=False):
            for slot, column in enumerate(gate.columns):
                if column is None or not record.wants(column):
                    continue
                local = np.matmul(_dagger(gate, m), _matrix(gate, rows, slot))
                if before is not None:
                    local = np.matmul(_dagger(gate, before), np.matmul(local, before))
                record.put(column, 2 * np.real(np.einsum("bij,bij->b", local, t)))
            before = m if before is None else np.matmul(m, before)


class _Record:
    """Where each wanted column's derivative goes."""

    def __init__(self, b: int, wanted: Sequence[int] | NDArray[np.int64]) -> None:
        self.where = {int(c): i for i, c in enumerate(wanted)}
        self.grads = np.zeros((b, len(self.where)))

    def wants(self, column: int) -> bool:
        return column in self.where

    def put(self, column: int, value: Any) -> None:
        self.grads[:, self.where[column]] = value


def gradients(
    program: AdjointProgram,
    observable: SparseObservable,
    rows: NDArray[np.float64],
    wanted: Sequence[int] | NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The cost (B,) and its partial derivatives in the ``wanted`` columns (B, len(wanted)).

    ``rows`` holds one binding per row, its columns in ``circuit.parameters`` order.
    """
    n = program.num_qubits
    record = _Record(rows.shape[0], wanted)
    psi, kept = _forward(program, rows)
    lam = _observable_times(observable, psi, n)
    cost = np.real(np.einsum("bx,bx->b", np.conj(psi), lam))
    phi = psi
    for (kind, what), mats in zip(reversed(program.stages), reversed(kept), strict=True):
        if kind == "ones":
            inverse = {q: _dagger(what[q][0], m[-1]) for q, m in mats.items()}
            phi = apply_blocks(phi, inverse, n)
            lam = apply_blocks(lam, inverse, n)
            _ones_gradients(what, mats, lam, phi, rows, n, record)
            continue
        inverse = _dagger(what, mats)
        phi = _apply(what, phi, inverse, n)
        for slot, column in enumerate(what.columns):
            if column is not None and record.wants(column):
                mu = _apply(what, phi, _matrix(what, rows, slot), n)
                record.put(column, 2 * np.real(np.einsum("bx,bx->b", np.conj(lam), mu)))
        lam = _apply(what, lam, inverse, n)
    return cost, record.grads


def wants_adjoint(
    method: str, shots: int, backend: Backend, *, field: str = "gradient.method"
) -> bool:
    """Whether a job may take the adjoint pass; ``adjoint`` where it cannot is an error.

    ``field`` names the setting in the error: the spec key, or ``gradient_variance``'s
    ``method`` argument.
    """
    if method == "shift":
        return False
    able = shots == 0 and backend.capabilities.adjoint
    if method == ADJOINT and not able:
        raise SpecError(
            f"{field}: got 'adjoint'; allowed: 'auto' or 'shift' here, because "
            f"backend {backend.name} with these options "
            + ("is not a noiseless CPU statevector" if shots == 0 else "samples shots")
        )
    return able
