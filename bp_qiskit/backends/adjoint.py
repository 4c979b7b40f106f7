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

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.quantum_info import SparseObservable

from ..errors import SpecError
from .blocks import apply_blocks, blocks
from .program import (
    MAX_QUBITS,
    AdjointProgram,
    _apply,
    _apply_one,
    _dagger,
    _forward,
    _Gate,
    _matrix,
    compile_circuit,
    final_states,
)
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

ADJOINT = "adjoint"

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


def _observable_times(obs: SparseObservable, psi: Any, n: int) -> Any:
    """O |psi> for every row, term by term (projector letters as 2 x 2 matrices)."""
    out = np.zeros_like(psi)
    for letters, indices, coeff in obs.to_sparse_list():
        term = psi
        for letter, q in zip(letters, indices, strict=True):
            term = _apply_one(term, _LETTERS[letter], q, n)
        out += coeff * term
    return out


# The backward sweep runs over the program's stages: a run of one-qubit gates is undone as
# Kronecker blocks (backends/blocks.py), and its gradients are read from one transition
# matrix per block; any other gate is its own stage. Before the stages, the whole study at
# n = 10, L = 50, every parameter, measured 0.6x lightning; after, 2.1x (docs/benchmarks.md).


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
