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
from typing import Any

from ..backends.devices import fake_backend
from ..backends.isa import IsaTranspiler
from ..backends.options import DEFAULT_OPTIMIZATION_LEVEL
from ..backends.timing import reported_error
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .families import family_for

__all__ = ["DeviceNoise", "cell_device_noise", "device_noise"]


@dataclasses.dataclass(frozen=True)
class DeviceNoise:
    """Per logical qubit and neighbouring pair of one cell: depolarising strengths.

    Attributes:
        physical: The physical qubit of each logical one.
        rotation: p after a random rotation cell on logical qubit q (two sx pulses).
        pair: p after the entangler on logical (q, q + 1).
        readout: The readout error of each logical qubit (applied with shots only).
        device: The fake device's name, for the note.
    """

    physical: tuple[int, ...]
    rotation: tuple[float, ...]
    pair: tuple[float, ...]
    readout: tuple[float, ...]
    device: str


def device_noise(device: str, circuit: Any, options: dict[str, Any]) -> DeviceNoise:
    """The noise of ``circuit``'s cell on ``device``, on the qubits its ISA circuit uses."""
    backend = fake_backend(device)
    target = backend.target
    level = options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
    isa = IsaTranspiler(backend, level, layout=options.get("layout", "noise_aware"))
    physical = tuple(isa.physical_qubits(circuit))
    sx = [reported_error(target, "sx", (q,)) for q in physical]
    rotation = tuple(1.0 - (1.0 - 2.0 * r) ** 2 for r in sx)
    pair = []
    for i in range(len(physical) - 1):
        a, b = physical[i], physical[i + 1]
        if "cz" in target.operation_names:
            r = max(reported_error(target, "cz", (a, b)), reported_error(target, "cz", (b, a)))
            pair.append(4.0 * r / 3.0)
            continue
        name = "ecr" if "ecr" in target.operation_names else "cx"
        r = max(reported_error(target, name, (a, b)), reported_error(target, name, (b, a)))
        # The basis change of the target (two H, one sx each) on top of the two-qubit gate.
        pair.append(1.0 - (1.0 - 4.0 * r / 3.0) * (1.0 - 2.0 * sx[i + 1]) ** 2)
    readout = tuple(reported_error(target, "measure", (q,)) for q in physical)
    return DeviceNoise(physical, rotation, tuple(pair), readout, type(backend).__name__)


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
