"""A spec's cell as a propagation :class:`~bp_qiskit.core.propagation.Program`.

The grammar's rotations with uniform angles, its Clifford entanglers, the product initial
state and the cost's Pauli terms (or the global projector), with device noise where a
backend brings it: what :mod:`bp_qiskit.execution.predict` propagates, and what it refuses
(:func:`unsupported`).
"""

from __future__ import annotations

import math

from ..core.gradients import spans_whole_turns
from ..core.grammar import RANDOM, Grammar
from ..core.observables import make_observable
from ..core.propagation import (
    Clifford,
    Program,
    Rotation,
    Term,
    pauli,
)
from ..core.tensor_network import (
    supported,
)
from ..errors import SpecError
from ..spec import StudySpec
from .device_noise import DeviceNoise, read_out
from .predict_circuit import EXACT_PROJECTOR_QUBITS, projector_terms, read_observable

__all__ = ["unsupported"]

_BLOCH = {"ry_pi4": (math.sin(math.pi / 4), 0.0, math.cos(math.pi / 4)), "h": (1.0, 0.0, 0.0),
          "none": (0.0, 0.0, 1.0)}  # fmt: skip


def unsupported(spec: StudySpec) -> str | None:
    """Why the spec's circuits are outside the predictor's assumptions, or None."""
    c = spec.circuit
    if c.ansatz == "identity_blocks":
        return "identity blocks: the angles are correlated at initialisation"
    if not spans_whole_turns(c.angles):
        return "angles that do not span whole turns (the averages need uniform angles)"
    return None


# The ansatzes without a grammar of their own whose layers are the default grammar's (McClean's
# random rotations and CZ ladder; identity blocks mirror them, and unsupported() says why
# their correlated angles get no prediction).
_DEFAULT_GRAMMAR_ANSATZE = ("seed", "mcclean", "identity_blocks")


def _grammar(spec: StudySpec) -> Grammar:
    """The cell's grammar; an ansatz the predictor cannot read is an error, not McClean's."""
    grammar = spec.circuit.grammar()
    if grammar is not None:
        return grammar
    if spec.circuit.ansatz in _DEFAULT_GRAMMAR_ANSATZE:
        return Grammar()
    raise SpecError(
        f"circuit.ansatz: got {spec.circuit.ansatz!r}, which the predictor cannot read; "
        f"allowed: a grammar preset, or {', '.join(_DEFAULT_GRAMMAR_ANSATZE)}"
    )


def _terms(spec: StudySpec, n: int) -> tuple[tuple[Term, ...], bool]:
    """The cost's Pauli terms (constants dropped); True for the global projector.

    Read from the observable the backend measures (:func:`~.predict_circuit.read_observable`),
    as a user's own circuit's is: nothing here knows a cost by its kind's name, and an
    unknown kind is :func:`~bp_qiskit.core.observables.make_observable`'s SpecError.
    """
    return read_observable(make_observable(spec.observable, n))


def _program(
    spec: StudySpec,
    n: int,
    layers: int,
    k: int | None,
    device: DeviceNoise | None = None,
    *,
    listed: bool = True,
) -> Program:
    """The cell's circuit; ``k`` is the differentiated parameter (None: no derivative).

    ``device``: the device's noise on the cell's physical qubits (:mod:`.device_noise`)
    instead of ``backend.options.depolarizing``. The global projector is listed as 2^n
    Z-strings up to EXACT_PROJECTOR_QUBITS, for exact propagation; with ``listed=False``
    a chain keeps it as a product, for the tensor network (microseconds, not seconds, at
    n = 8).
    """
    g = _grammar(spec)
    p1, p2 = spec.backend.options.get("depolarizing", (0.0, 0.0))
    if device is not None:
        p2 = max(device.pair, default=0.0)  # nonzero: the ladder keeps its order
    gates: list[Rotation | Clifford] = []
    index = 0
    for layer in range(layers):
        for gen in g.rotations:
            row = _rotation_row(g, gen, n, index, k, (p1, p2), device)
            index += len(row)
            if len(gen) == 2 and gen[0] == gen[1] and not p2:
                row = row[::2] + row[1::2]  # XX(0,1), XX(1,2), ... commute: see _bricks
            gates += row
        gates += _entangler(g.entangler, layer, n, p2, device)
    terms, projector = _terms(spec, n)
    if device is not None and spec.sampling.shots and not projector:
        terms = read_out(terms, device.readout)
    bloch = _initial_bloch(g.initial, n, p1, device)
    program = Program(n, tuple(gates), bloch, terms, projector=projector)
    if projector and n <= EXACT_PROJECTOR_QUBITS and (listed or not supported(program)):
        # Off a chain the network cannot take the product; exact propagation takes it listed.
        return Program(n, tuple(gates), bloch, projector_terms(n))
    return program


_XYZ = {"X": pauli("X", (0,)), "Y": pauli("Y", (0,)), "Z": pauli("Z", (0,))}


def _rotation_row(
    g: Grammar,
    gen: str,
    n: int,
    index: int,
    k: int | None,
    noise: tuple[float, float],
    device: DeviceNoise | None,
) -> list[Rotation]:
    """One generator's rotations across the qubits, parameters from ``index`` on."""
    p1, p2 = noise
    row: list[Rotation] = []
    for qubits in g.positions(gen, n):
        if gen == RANDOM:
            choices = tuple(
                (x << qubits[0], z << qubits[0]) for x, z in (_XYZ[p] for p in g.random_set)
            )
        else:
            choices = (pauli(gen, qubits),)
        p = p1 if len(qubits) == 1 else p2
        if device is not None:
            p = (
                device.rotation[qubits[0]]
                if len(qubits) == 1
                else device.pair[min(qubits)]
                if abs(qubits[0] - qubits[1]) == 1
                else p2
            )
        row.append(Rotation(choices, differentiated=index + len(row) == k, noise=p))
    return row


def _entangler(
    name: str, layer: int, n: int, p2: float, device: DeviceNoise | None
) -> list[Clifford]:
    """The layer's entangling Cliffords, each with its pair's noise."""

    def p_pair(q: int) -> float:
        return device.pair[q] if device is not None else p2

    if name == "cz_ladder":
        pairs = _bricks(n) if not p2 else range(n - 1)
        return [Clifford("cz", q, q + 1, p_pair(q)) for q in pairs]
    if name == "cx_chain":
        return [Clifford("cx", q, q + 1, p_pair(q)) for q in range(n - 1)]
    if name == "cz_brick":
        return [Clifford("cz", q, q + 1, p_pair(q)) for q in range(layer % 2, n - 1, 2)]
    if name == "none":
        return []
    # A new entangler must say what it does to Pauli strings here, not pass for "none".
    raise SpecError(
        f"circuit.entangler: got {name!r}, which the predictor cannot read; allowed: "
        "cz_ladder, cx_chain, cz_brick, none"
    )


def _initial_bloch(
    initial: str, n: int, p1: float, device: DeviceNoise | None
) -> tuple[tuple[float, float, float], ...]:
    """Each qubit's Bloch vector after the initial layer (its gates are noisy too)."""
    ex, ey, ez = _BLOCH[initial]
    shrinks = [1.0 - p1 if initial != "none" else 1.0] * n
    if device is not None and initial != "none":
        shrinks = [1.0 - p for p in device.rotation]
    return tuple((s * ex, s * ey, s * ez) for s in shrinks)


def _bricks(n: int) -> list[int]:
    """Neighbouring pairs (q, q+1) as even q then odd q.

    Where the gates on neighbouring pairs commute (CZ, and XX-type rotations) and carry no
    noise (a channel after one gate does not commute with the next), this is the same unitary
    as the ladder in order, and a light cone grows by one qubit a side per half layer instead
    of running down the whole ladder.
    """
    return [*range(0, n - 1, 2), *range(1, n - 1, 2)]
