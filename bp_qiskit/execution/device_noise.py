"""A device's noise as the Pauli channels the predictor propagates, from its calibration.

For ``aer:<device>`` (and ``fake:``) cells the prediction runs on the qubits the cell's ISA
circuit actually uses (the device's chain, :mod:`bp_qiskit.backends.layout`), with a
depolarising channel after every gate whose strength comes from the target's reported gate
errors (the Pauli twirl of the real channel):

- a channel rho -> (1 - p) rho + p I / d has average gate infidelity r = p (d - 1) / d, so a
  reported error r is p = 2 r on one qubit and p = 4 r / 3 on two;
- a random rotation cell runs as rz sx rz sx rz: two sx pulses, 1 - (1 - 2 r_sx)^2;
- a CZ on a CX-basis device is H CX H: the CX's error and the sx of the two H's on the target;
- readout error e flips a measured bit; with shots, every Z on the qubit shrinks by 1 - 2e
  (an exact expectation, ``shots = 0``, reads the state without measuring).

What this leaves out is named in the prediction's note: thermal relaxation is not unital
(amplitude damping pulls towards |0>, a Pauli channel cannot), and Aer's model composes it
with the depolarising part rather than twirling it; idle qubits are not delayed in Aer's
simulation, so idling is left out on both sides.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..backends.devices import fake_backend
from ..backends.isa import IsaTranspiler
from ..backends.options import DEFAULT_OPTIMIZATION_LEVEL
from ..backends.timing import reported_error
from ..core.light_cone import qubits_of
from ..core.propagation import Clifford, Program, Rotation, Term
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .families import family_for

__all__ = ["DeviceNoise", "cell_device_noise", "device_noise", "read_out", "with_device_noise"]


@dataclasses.dataclass(frozen=True)
class DeviceNoise:
    """Per logical qubit and neighbouring pair of one cell: depolarising strengths.

    Attributes:
        physical: The physical qubit of each logical one.
        rotation: p after a random rotation cell on logical qubit q (two sx pulses).
        pair: p after the entangler on logical (q, q + 1).
        readout: The readout error of each logical qubit (applied with shots only).
        device: The fake device's name, for the note.
        pulse: p after one sx (or x) pulse on logical qubit q.
        native: p after the device's own two-qubit gate on logical (q, q + 1), without the
            basis change a CZ needs on a CX or ECR device.
        basis: That gate's name (``cz``, ``cx`` or ``ecr``).
        routed: Whether the transpiler moved qubits (SWAPs): the logical chain is then not
            the physical one, and a circuit read gate by gate does not run as read.
    """

    physical: tuple[int, ...]
    rotation: tuple[float, ...]
    pair: tuple[float, ...]
    readout: tuple[float, ...]
    device: str
    pulse: tuple[float, ...] = ()
    native: tuple[float, ...] = ()
    basis: str = "cz"
    routed: bool = False


def device_noise(device: str, circuit: Any, options: dict[str, Any]) -> DeviceNoise:
    """The noise of ``circuit``'s cell on ``device``, on the qubits its ISA circuit uses."""
    backend = fake_backend(device)
    target = backend.target
    level = options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
    isa = IsaTranspiler(backend, level, layout=options.get("layout", "noise_aware"))
    physical = tuple(isa.physical_qubits(circuit))
    layout = isa(circuit).layout
    routed = layout is not None and (
        list(layout.initial_index_layout(filter_ancillas=True)) != list(physical)
    )
    sx = [reported_error(target, "sx", (q,)) for q in physical]
    pulse = tuple(2.0 * r for r in sx)
    rotation = tuple(1.0 - (1.0 - 2.0 * r) ** 2 for r in sx)
    basis = next(g for g in ("cz", "ecr", "cx") if g in target.operation_names)
    pair, native = [], []
    for i in range(len(physical) - 1):
        a, b = physical[i], physical[i + 1]
        r = max(reported_error(target, basis, (a, b)), reported_error(target, basis, (b, a)))
        native.append(4.0 * r / 3.0)
        if basis == "cz":
            pair.append(4.0 * r / 3.0)
            continue
        # The basis change of the target (two H, one sx each) on top of the two-qubit gate.
        pair.append(1.0 - (1.0 - 4.0 * r / 3.0) * (1.0 - 2.0 * sx[i + 1]) ** 2)
    readout = tuple(reported_error(target, "measure", (q,)) for q in physical)
    return DeviceNoise(physical, rotation, tuple(pair), readout, type(backend).__name__,
                       pulse, tuple(native), basis, routed)  # fmt: skip


def read_out(terms: tuple[Term, ...], readout: tuple[float, ...]) -> tuple[Term, ...]:
    """Measured terms: a readout error e flips the bit, so each Z of a string shrinks by 1 - 2e."""
    return tuple(
        Term(t.coeff * math.prod(1 - 2 * readout[q] for q in qubits_of(t.pauli[1])), t.pauli)
        for t in terms
    )


def cell_device_noise(spec: StudySpec, n: int, layers: int) -> tuple[DeviceNoise | None, str]:
    """The named device's noise on the qubits a cell's circuit runs on, and the note saying so.

    (None, why) where the device has no calibration snapshot.
    """
    _, name = spec.backend.name.split(":", 1)
    if spec.backend.kind == "ibm":
        name = name.removeprefix("ibm_")
    try:
        template = family_for(spec, Cell(n, layers)).template
        noise = device_noise(name, template, dict(spec.backend.options))
    except SpecError:
        return None, "noiseless prediction: no calibration snapshot of this device"
    qubits = ", ".join(str(q) for q in noise.physical)
    return noise, (
        f"with the noise of {noise.device} on qubits {qubits}: depolarising channels from "
        "the reported gate and readout errors (thermal relaxation's pull to |0> left out)"
    )


# A read circuit's fixed one-qubit gates by what they cost on a device: diagonal ones are
# frame changes (virtual rz, no pulse), these take one sx or x pulse, and any other a general
# U, as rz sx rz sx rz (two pulses, like a random-rotation cell).
_FRAME_GATES = frozenset({"z", "s", "sdg", "t", "tdg", "rz", "p", "u1", "id"})
_ONE_PULSE_GATES = frozenset({"h", "x", "y", "sx", "sxdg"})


def with_device_noise(
    program: Program, prep: tuple[tuple[str, ...], ...], noise: DeviceNoise, *, measured: bool
) -> Program:
    """A circuit read gate by gate, with the device's channel after every gate as it compiles.

    The program is :func:`~.predict_circuit.read_program`'s; each gate gets the depolarising
    channel of what it becomes on the device:

    - rz is a frame change (no error); rx and ry take two sx pulses; a fixed h, x or y one;
    - the device's own two-qubit gate on a neighbouring logical pair (q, q + 1) its reported
      error; the other of cx and cz also the target's basis change (``noise.pair``);
    - a two-qubit rotation exp(-i t P P' / 2) two native gates around an rz, and two pulses
      per qubit whose letter is X or Y (the basis change there and back);
    - the preparing gates shrink each qubit's initial Bloch vector (a depolarising channel
      commutes with the unitaries after it); with ``measured``, readout as :func:`read_out`.

    Raises:
        SpecError: naming ``backend.name`` where the circuit does not run as read: the
            transpiler routed it (SWAPs), or a two-qubit gate joins logical qubits that are
            not neighbours on the device's chain.
    """
    if noise.routed:
        raise SpecError(
            f"backend.name: the transpiler routed the circuit on {noise.device} (SWAPs), so it "
            "does not run gate by gate as read; its device noise is not predicted"
        )
    gates = tuple(dataclasses.replace(g, noise=_gate_noise(g, noise)) for g in program.gates)
    bloch = tuple(
        tuple(v * math.prod(1.0 - _prep_noise(name, q, noise) for name in prep[q]) for v in b)
        for q, b in enumerate(program.bloch)
    )
    terms = program.terms
    if measured and not program.projector:
        terms = read_out(terms, noise.readout)
    return Program(program.num_qubits, gates, bloch, terms, program.projector)  # type: ignore[arg-type]


def _prep_noise(name: str, q: int, noise: DeviceNoise) -> float:
    if name in _FRAME_GATES:
        return 0.0
    return noise.pulse[q] if name in _ONE_PULSE_GATES else noise.rotation[q]


def _pair(a: int, b: int, noise: DeviceNoise) -> int:
    if abs(a - b) != 1:
        raise SpecError(
            f"backend.name: a two-qubit gate on logical qubits ({a}, {b}), not neighbours on "
            f"the chain of {noise.device} the circuit runs on; its device noise is not predicted"
        )
    return min(a, b)


def _gate_noise(gate: Rotation | Clifford, noise: DeviceNoise) -> float:
    if isinstance(gate, Clifford):
        if gate.a == gate.b:
            return 0.0 if gate.name == "z" else noise.pulse[gate.a]
        q = _pair(gate.a, gate.b, noise)
        return noise.native[q] if gate.name == noise.basis else noise.pair[q]
    ((x, z),) = gate.generators  # a read circuit's rotation has one generator
    qubits = sorted(qubits_of(x | z))
    if len(qubits) == 1:
        return 0.0 if not x else noise.rotation[qubits[0]]
    q = _pair(qubits[0], qubits[1], noise)
    kept = (1.0 - noise.native[q]) ** 2
    for p in qubits:
        if x >> p & 1:  # X or Y there: a basis change before and after
            kept *= (1.0 - noise.pulse[p]) ** 2
    return 1.0 - kept
