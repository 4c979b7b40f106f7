"""Seeded random parameterised circuits: the seed demo's, McClean's and Grant's.

Every ansatz starts with RY(pi/4) on every qubit and is a stack of L *rotation layers*. In a
rotation layer each qubit q gets one rotation RX, RY or RZ (gate code 0, 1, 2) with its own
angle; the angle of the rotation on qubit q in layer l is parameter index ``l * n + q``. Each
parameter enters exactly one single-Pauli rotation, which is what makes the two-term
parameter-shift rule exact.

Entanglers:
- ``seed`` / ``mcclean``: every rotation layer is followed by a CZ ladder CZ(q, q+1).
- ``identity_blocks`` (Grant et al. 2019): L is split into blocks of two halves of k layers;
  the first half is (rotations, CZ ladder) x k, the second half mirrors it in reverse,
  (CZ ladder, inverse rotations) x k. The mirrored rotations have the same gate type and their
  own *independent* parameters, initialised to minus the first half's angles, so the block is
  the identity at initialisation but not for every parameter value (a tied block would have
  all gradients exactly zero).

Two circuit forms are built:
- :func:`build_circuit` — the literal circuit for one gate sequence, with RX/RY/RZ gates and a
  ``theta`` ParameterVector. Readable; used for oracles and export.
- :func:`template_circuit` — one circuit per (ansatz, n, L) in which each rotation is a
  ``U(a, b, c)`` gate whose type is chosen by the *bound values*. All samples of a cell, with
  different gate sequences, then share one circuit and go into a single PUB. Per
  gate, RX(t) = U(t, -pi/2, pi/2), RY(t) = U(t, 0, 0) and RZ(t) = U(0, 0, t) up to a global
  phase, which no expectation value can see.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from .layers import layer_kinds, resolve_layers

__all__ = [
    "ANSATZE",
    "GATE_NAMES",
    "CircuitSamples",
    "build_circuit",
    "draw_samples",
    "layer_kinds",
    "resolve_layers",
    "template_circuit",
    "template_values",
]

ANSATZE = ("seed", "mcclean", "identity_blocks")
GATE_NAMES = ("rx", "ry", "rz")
RX, RY, RZ = 0, 1, 2
_INITIAL_RY = math.pi / 4


@dataclasses.dataclass(frozen=True)
class CircuitSamples:
    """A batch of random circuits of one cell.

    Attributes:
        gates: int8 array (S, L, n) of gate codes 0=RX, 1=RY, 2=RZ.
        params: float array (S, L*n); ``params[s, l*n + q]`` is the angle on qubit q, layer l.
    """

    gates: NDArray[np.int8]
    params: NDArray[np.float64]


def draw_samples(
    rng: np.random.Generator,
    num_samples: int,
    num_qubits: int,
    num_layers: int,
    *,
    ansatz: str = "mcclean",
    angles: tuple[float, float] = (0.0, 2 * math.pi),
    block_depth: int = 1,
) -> CircuitSamples:
    """Draw gate sequences and angles. Gates are drawn before angles, always in this order."""
    kinds = layer_kinds(ansatz, num_layers, block_depth)
    gates = rng.integers(0, 3, size=(num_samples, num_layers, num_qubits), dtype=np.int8)
    params = rng.uniform(angles[0], angles[1], size=(num_samples, num_layers, num_qubits))
    if ansatz == "identity_blocks":
        # In each block the second half undoes the first, in reverse order: layer b + k + j
        # has the gate types of layer b + k - 1 - j and their negated angles (RP(t)^-1 =
        # RP(-t)); with k = 1, layer 2b + 1 undoes layer 2b.
        k = block_depth
        for b in range(0, len(kinds), 2 * k):
            for j in range(k):
                gates[:, b + k + j] = gates[:, b + k - 1 - j]
                params[:, b + k + j] = -params[:, b + k - 1 - j]
    return CircuitSamples(gates=gates, params=params.reshape(num_samples, -1))


def _cz_ladder(qc: QuantumCircuit) -> None:
    for q in range(qc.num_qubits - 1):
        qc.cz(q, q + 1)


def build_circuit(
    gates: NDArray[np.int8], *, ansatz: str = "mcclean", block_depth: int = 1
) -> QuantumCircuit:
    """Build the literal circuit for one gate sequence ``gates`` of shape (L, n).

    The circuit's parameters are ``theta[0..L*n-1]`` in the documented layout.
    """
    gates = np.asarray(gates)
    num_layers, n = gates.shape
    theta = ParameterVector("theta", num_layers * n)
    qc = QuantumCircuit(n, name=f"{ansatz}_n{n}_L{num_layers}")
    for q in range(n):
        qc.ry(_INITIAL_RY, q)
    for layer, kind in enumerate(layer_kinds(ansatz, num_layers, block_depth)):
        if kind == "cr":
            _cz_ladder(qc)
        for q in range(n):
            getattr(qc, GATE_NAMES[int(gates[layer, q])])(theta[layer * n + q], q)
        if kind == "rc":
            _cz_ladder(qc)
    return qc


def template_circuit(
    num_qubits: int, num_layers: int, *, ansatz: str = "mcclean", block_depth: int = 1
) -> QuantumCircuit:
    """Build the shared circuit of a cell: one U gate per rotation, 3 parameters each.

    Its parameters are ``u[3k], u[3k+1], u[3k+2]`` for rotation k = l*n + q, so
    ``circuit.parameters`` (sorted ParameterVector-aware) is exactly the order that
    :func:`template_values` produces.
    """
    n = num_qubits
    u = ParameterVector("u", 3 * num_layers * n)
    qc = QuantumCircuit(n, name=f"{ansatz}_n{n}_L{num_layers}_template")
    for q in range(n):
        qc.ry(_INITIAL_RY, q)
    for layer, kind in enumerate(layer_kinds(ansatz, num_layers, block_depth)):
        if kind == "cr":
            _cz_ladder(qc)
        for q in range(n):
            k = layer * n + q
            qc.u(u[3 * k], u[3 * k + 1], u[3 * k + 2], q)
        if kind == "rc":
            _cz_ladder(qc)
    return qc


def template_values(gates: NDArray[np.int8], params: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map rotation angles to the template's U parameters.

    Args:
        gates: (S, L, n) gate codes.
        params: (S, ..., L*n) angles; any axes between the first and last are broadcast
            (e.g. the shift axes of a gradient PUB).

    Returns:
        (S, ..., 3*L*n) values, ``[theta, phi, lambda]`` per rotation.
    """
    s = gates.shape[0]
    codes = gates.reshape(s, *([1] * (params.ndim - 2)), -1)
    a = params
    zero = np.zeros_like(a)
    theta = np.where(codes == RZ, zero, a)
    phi = np.where(codes == RX, -math.pi / 2, zero)
    lam = np.where(codes == RX, math.pi / 2, np.where(codes == RZ, a, zero))
    return np.stack([theta, phi, lam], axis=-1).reshape(*a.shape[:-1], 3 * a.shape[-1])
