"""A spec's cell as a propagation :class:`~bp_qiskit.core.propagation.Program`.

Read from the circuit that runs: the cell's template and observable, as the backend gets
them, through the same reader as a user's own circuit (:mod:`.predict_circuit`), with the
noise of ``backend.options.depolarizing`` or of the device: what
:mod:`bp_qiskit.execution.predict` propagates, and what it refuses (:func:`unsupported`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..core.gradients import spans_whole_turns
from ..core.grammar import Grammar
from ..core.light_cone import brick_order, support
from ..core.observables import make_observable
from ..core.propagation import Clifford, Program, Rotation, Term
from ..core.tensor_network import supported
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .device_noise import DeviceNoise, read_out
from .families import family_for
from .predict_circuit import (
    EXACT_PROJECTOR_QUBITS,
    ReadProgram,
    projector_terms,
    read_observable,
    read_program,
)

__all__ = ["unsupported"]


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
    """The cell's circuit; ``k`` is the differentiated parameter (None: no derivative)."""
    return cell_programs(spec, n, layers, [k], device, listed=listed)[0]


def cell_programs(
    spec: StudySpec,
    n: int,
    layers: int,
    ks: Sequence[int | None],
    device: DeviceNoise | None = None,
    *,
    listed: bool = True,
) -> list[Program]:
    """The cell's circuit once per ``k`` in ``ks``: parameter k differentiated (None: none).

    Read once from the template the backend binds and the observable it measures
    (:func:`~.families.family_for`, :func:`~.predict_circuit.read_program`), as a user's own
    circuit is: the random positions' U gates by the family's :meth:`random_axes`, and
    nothing rebuilt from the grammar's names. Then each gate gets its noise:
    ``backend.options.depolarizing`` (p1 after each one-qubit gate and the initial layer, p2
    after each two-qubit gate), or ``device``'s on the cell's physical qubits
    (:mod:`.device_noise`). The global projector is listed as 2^n Z-strings up to
    EXACT_PROJECTOR_QUBITS, for exact propagation; with ``listed=False`` a chain keeps it
    as a product, for the tensor network (microseconds, not seconds, at n = 8).
    """
    family = family_for(spec, Cell(n, layers))
    read = read_program(family.template, family.observable, family.random_axes())
    p1, p2 = spec.backend.options.get("depolarizing", (0.0, 0.0))
    if device is not None:
        p2 = max(device.pair, default=0.0)  # nonzero: the ladder keeps its order
    gates: list[Rotation | Clifford] = []
    rotation_at: list[int] = []  # where the k-th rotation (parameter k) stands in gates
    for gate in read.program.gates:
        qubits = sorted(support(gate))
        if isinstance(gate, Rotation):
            rotation_at.append(len(gates))
            gates.append(dataclasses.replace(gate, noise=_rotation_noise(qubits, p1, p2, device)))
        elif len(qubits) == 2:
            gates.append(dataclasses.replace(gate, noise=_pair_noise(qubits, p2, device)))
        else:
            gates.append(dataclasses.replace(gate, noise=_rotation_noise(qubits, p1, p2, device)))
    terms, projector = read.program.terms, read.program.projector
    if device is not None and spec.sampling.shots and not projector:
        terms = read_out(terms, device.readout)
    bloch = _initial_bloch(read, p1, device)
    out = []
    for k in ks:
        marked = list(gates)
        if k is not None:
            rotation = gates[rotation_at[k]]
            assert isinstance(rotation, Rotation)
            marked[rotation_at[k]] = dataclasses.replace(rotation, differentiated=True)
        program = Program(n, brick_order(marked), bloch, terms, projector=projector)
        if projector and n <= EXACT_PROJECTOR_QUBITS and (listed or not supported(program)):
            # Off a chain the network cannot take the product; exact propagation takes it
            # listed.
            program = Program(n, program.gates, bloch, projector_terms(n))
        out.append(program)
    return out


def _rotation_noise(qubits: list[int], p1: float, p2: float, device: DeviceNoise | None) -> float:
    """A rotation's channel: its qubit's, or its pair's where the pair is neighbouring."""
    if len(qubits) == 1:
        return device.rotation[qubits[0]] if device is not None else p1
    return _pair_noise(qubits, p2, device)


def _pair_noise(qubits: list[int], p2: float, device: DeviceNoise | None) -> float:
    if device is not None and len(qubits) == 2 and qubits[1] - qubits[0] == 1:
        return device.pair[qubits[0]]
    return p2


def _initial_bloch(
    read: ReadProgram, p1: float, device: DeviceNoise | None
) -> tuple[tuple[float, float, float], ...]:
    """Each qubit's Bloch vector after the gates that prepared it (noisy too)."""
    out = []
    for q, (ex, ey, ez) in enumerate(read.program.bloch):
        prepared = bool(read.prep[q])
        shrink = (1.0 - (device.rotation[q] if device is not None else p1)) if prepared else 1.0
        out.append((shrink * ex, shrink * ey, shrink * ez))
    return tuple(out)
