"""Circuits from a small grammar: initial layer, rotation generators per layer, entangler.

A layer applies each generator of ``rotations`` in turn, then the entangler:

- a generator is a Pauli string of one or two letters (``"Y"``, ``"ZZ"``, ``"XY"``), applied
  as exp(-i theta P / 2) with its own angle at every position: a one-letter string on every
  qubit q, a two-letter string on every neighbouring pair (q, q+1), its first letter on q;
- ``"random"`` puts on every qubit one rotation drawn per sample from ``random_set``
  (McClean's random RX/RY/RZ is ``random_set = ("X", "Y", "Z")``);
- the entangler is ``cz_ladder`` (CZ(q, q+1) for every q), ``cz_brick`` (CZ on the pairs
  starting at q = l mod 2 in layer l: Cerezo et al.'s alternating layered ansatz),
  ``cx_chain`` (CX(q, q+1) in order) or ``none``.

The initial layer is ``ry_pi4`` (RY(pi/4) on every qubit, as in McClean et al.), ``h`` or
``none``. Every parameter enters exactly one Pauli rotation, so the two-term shift rule is
exact. Parameters are numbered layer by layer, generator by generator, position by position.

All samples of a cell bind into one template circuit: a ``"random"`` position is a U gate
whose type the bound values choose (RX(t) = U(t, -pi/2, pi/2), RY(t) = U(t, 0, 0),
RZ(t) = U(0, 0, t) up to a global phase); a fixed generator is its own rotation gate.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import PauliEvolutionGate
from qiskit.quantum_info import SparsePauliOp

from .circuits import CircuitSamples

__all__ = [
    "ENTANGLERS",
    "INITIAL_LAYERS",
    "PRESETS",
    "Grammar",
]

INITIAL_LAYERS = ("ry_pi4", "h", "none")
ENTANGLERS = ("cz_ladder", "cz_brick", "cx_chain", "none")
RANDOM = "random"
_ONE_QUBIT = {"X": "rx", "Y": "ry", "Z": "rz"}
_TWO_QUBIT = {"XX": "rxx", "YY": "ryy", "ZZ": "rzz"}


@dataclasses.dataclass(frozen=True)
class Grammar:
    """One ansatz of the grammar (see the module docstring)."""

    initial: str = "ry_pi4"
    rotations: tuple[str, ...] = (RANDOM,)
    random_set: tuple[str, ...] = ("X", "Y", "Z")
    entangler: str = "cz_ladder"

    def __post_init__(self) -> None:
        # Validation that needs no spec: the spec layer words its own errors around these.
        if self.initial not in INITIAL_LAYERS:
            raise ValueError(f"initial: got {self.initial!r}; allowed: {', '.join(INITIAL_LAYERS)}")
        if self.entangler not in ENTANGLERS:
            raise ValueError(f"entangler: got {self.entangler!r}; allowed: {', '.join(ENTANGLERS)}")
        if not self.rotations:
            raise ValueError("rotations: got []; allowed: at least one generator")
        for g in self.rotations:
            if g != RANDOM and (not 1 <= len(g) <= 2 or set(g) - set("XYZ")):
                raise ValueError(
                    f"rotations: got {g!r}; allowed: 'random' or a Pauli string of 1 or 2 "
                    "letters X, Y, Z (e.g. 'Z', 'XX')"
                )
        if list(self.rotations).count(RANDOM) > 1:
            raise ValueError("rotations: 'random' may appear once per layer")
        if (
            not self.random_set
            or set(self.random_set) - set("XYZ")
            or any(len(p) != 1 for p in self.random_set)
        ):
            raise ValueError(f"random_set: got {list(self.random_set)!r}; allowed: letters X, Y, Z")

    @property
    def has_random(self) -> bool:
        """Whether samples differ in gate types (``"random"`` among the rotations)."""
        return RANDOM in self.rotations

    def positions(self, generator: str, num_qubits: int) -> list[tuple[int, ...]]:
        """The qubits each application of a generator acts on."""
        width = 1 if generator == RANDOM else len(generator)
        return [tuple(range(q, q + width)) for q in range(num_qubits - width + 1)]

    def params_per_layer(self, num_qubits: int) -> int:
        """Parameters in one layer."""
        return sum(len(self.positions(g, num_qubits)) for g in self.rotations)

    def num_params(self, num_qubits: int, num_layers: int) -> int:
        """Parameters of the whole circuit."""
        return num_layers * self.params_per_layer(num_qubits)

    def _initial(self, qc: QuantumCircuit) -> None:
        for q in range(qc.num_qubits):
            if self.initial == "ry_pi4":
                qc.ry(math.pi / 4, q)
            elif self.initial == "h":
                qc.h(q)

    def _entangle(self, qc: QuantumCircuit, layer: int) -> None:
        n = qc.num_qubits
        if self.entangler == "cz_ladder":
            for q in range(n - 1):
                qc.cz(q, q + 1)
        elif self.entangler == "cx_chain":
            for q in range(n - 1):
                qc.cx(q, q + 1)
        elif self.entangler == "cz_brick":
            for q in range(layer % 2, n - 1, 2):
                qc.cz(q, q + 1)

    def template(self, num_qubits: int, num_layers: int) -> QuantumCircuit:
        """The cell's shared circuit; its parameters are in :meth:`values` order."""
        n = num_qubits
        per_layer = sum(
            len(self.positions(g, n)) * (3 if g == RANDOM else 1) for g in self.rotations
        )
        v = ParameterVector("v", per_layer * num_layers)
        qc = QuantumCircuit(n, name=f"grammar_n{n}_L{num_layers}")
        self._initial(qc)
        k = 0
        for layer in range(num_layers):
            for g in self.rotations:
                for qubits in self.positions(g, n):
                    if g == RANDOM:
                        qc.u(v[k], v[k + 1], v[k + 2], qubits[0])
                        k += 3
                        continue
                    _rotation(qc, g, v[k], qubits)
                    k += 1
            self._entangle(qc, layer)
        return qc

    def draw(
        self,
        rng: np.random.Generator,
        num_samples: int,
        num_qubits: int,
        num_layers: int,
        angles: tuple[float, float],
    ) -> CircuitSamples:
        """Gate codes (indices into ``random_set``) first, then every angle, in this order."""
        width = num_qubits if self.has_random else 0
        codes = rng.integers(
            0, len(self.random_set), size=(num_samples, num_layers, width), dtype=np.int8
        )
        params = rng.uniform(
            angles[0], angles[1], size=(num_samples, self.num_params(num_qubits, num_layers))
        )
        return CircuitSamples(codes, params)

    def values(
        self, codes: NDArray[np.int8], params: NDArray[np.float64], num_qubits: int
    ) -> NDArray[np.float64]:
        """Template values for angles of shape (S, ..., P) (middle axes broadcast)."""
        n = num_qubits
        s, p = params.shape[0], params.shape[-1]
        layers = p // self.params_per_layer(n)
        middle = params.shape[1:-1]
        columns: list[NDArray[np.float64]] = []
        k = 0
        for layer in range(layers):
            for g in self.rotations:
                for q, _ in enumerate(self.positions(g, n)):
                    a = params[..., k]
                    k += 1
                    if g != RANDOM:
                        columns.append(a)
                        continue
                    letter = np.array(self.random_set)[codes[:, layer, q]]
                    letter = letter.reshape(s, *([1] * len(middle)))
                    zero = np.zeros_like(a)
                    columns.append(np.where(letter == "Z", zero, a))
                    columns.append(np.where(letter == "X", -math.pi / 2, zero))
                    columns.append(
                        np.where(letter == "X", math.pi / 2, np.where(letter == "Z", a, zero))
                    )
        return np.stack(columns, axis=-1)

    def literal(
        self,
        codes: NDArray[np.int8],
        angles: NDArray[np.float64] | None = None,
        num_qubits: int | None = None,
    ) -> QuantumCircuit:
        """One sample's gate choices as a plain circuit (RX/RY/RZ at random positions).

        ``codes``: (L, n) indices into ``random_set`` (width 0 without ``"random"``). With
        ``angles``, the bound circuit; without, a ``theta`` ParameterVector in parameter
        order: the circuit the predictor can read (the template's U gates are chosen by
        their bound values, which no circuit reader sees).
        """
        layers = codes.shape[0]
        n = num_qubits if num_qubits is not None else codes.shape[1]
        theta: Any = (
            ParameterVector("theta", self.num_params(n, layers)) if angles is None else angles
        )
        qc = QuantumCircuit(n)
        self._initial(qc)
        k = 0
        for layer in range(layers):
            for g in self.rotations:
                for q, qubits in enumerate(self.positions(g, n)):
                    gen = self.random_set[int(codes[layer, q])] if g == RANDOM else g
                    angle = theta[k] if angles is None else float(theta[k])
                    _rotation(qc, gen, angle, qubits)
                    k += 1
            self._entangle(qc, layer)
        return qc


def _rotation(qc: QuantumCircuit, generator: str, angle: Any, qubits: tuple[int, ...]) -> None:
    """exp(-i angle P / 2), with the generator's first letter on ``qubits[0]``."""
    if len(generator) == 1:
        getattr(qc, _ONE_QUBIT[generator])(angle, qubits[0])
    elif generator in _TWO_QUBIT:
        getattr(qc, _TWO_QUBIT[generator])(angle, *qubits)
    else:
        # Qiskit labels read right to left: the last letter acts on the first qubit given.
        op = SparsePauliOp(generator[::-1])
        qc.append(PauliEvolutionGate(op, time=angle / 2), list(qubits))


# Named presets of the grammar. seed, mcclean and identity_blocks keep their own builders
# (core.circuits) so that their studies stay byte-for-byte what they were.
PRESETS: dict[str, Grammar] = {
    # Cerezo et al. 2021's warm-up: no entangler, so no plateau for local costs.
    "product": Grammar(initial="ry_pi4", rotations=(RANDOM,), entangler="none"),
    # RY then RZ on every qubit, then a CZ ladder.
    "hardware_efficient": Grammar(initial="none", rotations=("Y", "Z"), entangler="cz_ladder"),
    # Cerezo et al. 2021's alternating layered ansatz, with blocks of two qubits: RY on every
    # qubit, then CZ on pairs whose offset alternates with the layer.
    "alternating_layered": Grammar(initial="none", rotations=("Y",), entangler="cz_brick"),
    # Free-fermion (matchgate) layers: Z on every qubit, XX and YY on every neighbouring pair.
    "matchgate": Grammar(initial="h", rotations=("Z", "XX", "YY"), entangler="none"),
}
