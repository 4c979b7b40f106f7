"""ISA transpilation for a device target, once per logical circuit."""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable
from qiskit.transpiler import PassManager, generate_preset_pass_manager
from qiskit.transpiler.passes import VF2Layout

from .layout import device_chain, is_line
from .options import DEFAULT_OPTIMIZATION_LEVEL

__all__ = ["IsaTranspiler", "PreparedCircuit", "fingerprint", "native_rotations"]

# VF2Layout limits as at the preset level 3; seed -1: candidates in a fixed order, so the
# chosen placement (and with it every stored byte) is reproducible.
_VF2_SEED = -1
_VF2_CALL_LIMIT = 30_000_000
_VF2_TRIALS = 250_000


def native_rotations(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every ``u(θ, φ, λ)`` written as ``rz(λ) sx rz(θ + π) sx rz(φ + π)``.

    The product is exact up to a global phase (checked in the tests). The random-gate
    template's U gates carry parameter expressions, and qiskit's BasisTranslator searches for
    a U → {rz, sx, cx} rule symbolically: on CX-basis devices it took 3.9 s at n = 4, L = 6
    and over 60 s at L = 8. Written out first, nothing is left to translate. The cost: every
    random-gate cell, RZ cells included, runs 2 sx pulses on the device (docs/hardware.md).
    """
    if not any(inst.operation.name == "u" for inst in circuit.data):
        return circuit
    out = circuit.copy_empty_like()
    for inst in circuit.data:
        if inst.operation.name != "u":
            out.append(inst)
            continue
        theta, phi, lam = inst.operation.params
        (q,) = inst.qubits
        out.rz(lam, q)
        out.sx(q)
        out.rz(theta + math.pi, q)
        out.sx(q)
        out.rz(phi + math.pi, q)
    return out


def fingerprint(circuit: QuantumCircuit) -> tuple[Any, ...]:
    """The circuit's structure: gates, qubits, parameter names and expressions.

    Two circuits with equal fingerprints transpile to the same ISA circuit, and PUB values
    bind by position in ``circuit.parameters`` (sorted by name), so one ISA circuit serves
    both, although their Parameter objects differ.
    """
    index = {q: i for i, q in enumerate(circuit.qubits)}
    return (
        circuit.num_qubits,
        tuple(p.name for p in circuit.parameters),
        tuple(
            (
                inst.operation.name,
                tuple(index[q] for q in inst.qubits),
                tuple(str(p) for p in inst.operation.params),
            )
            for inst in circuit.data
        ),
    )


# One process-wide cache of ISA circuits: the cost gate, the run's own gate and the run
# each build a backend, and each used to transpile every template again (3 times per run).
_SHARED: collections.OrderedDict[tuple[Any, ...], PreparedCircuit] = collections.OrderedDict()
_SHARED_MAX = 256


@dataclasses.dataclass(frozen=True)
class PreparedCircuit:
    """An ISA circuit and its layout (for ``observable.apply_layout``)."""

    circuit: QuantumCircuit
    layout: Any


class IsaTranspiler:
    """Transpile logical circuits to ISA circuits for a target, once per circuit object.

    The preset pass manager keeps the circuit's Parameter objects, and PUB values bind by
    ``circuit.parameters`` order, so values computed for the logical circuit (including the
    parameter shifts) apply unchanged to the ISA circuit. That is checked on every circuit.
    Each object caches by circuit object; behind that, one process-wide cache keyed by the
    target and the circuit's :func:`fingerprint` transpiles each template once per process.


    Layout (``layout``):
        ``"noise_aware"`` (default): a circuit whose two-qubit gates form a line (every
        preset's CZ ladder) takes the first n qubits of the device's one chain
        (:func:`~bp_qiskit.backends.layout.device_chain`), so the cells of a sweep are nested.
        Any other circuit: VF2Layout places the circuit's interaction graph on the
        device's couplings, scoring candidate placements by the target's gate and readout
        errors, and the preset pass manager of ``optimization_level`` then runs with that
        initial layout. Only perfect placements (no SWAPs) are taken; when there is none the
        trivial layout is used and routing adds SWAPs as usual. ``"trivial"``: physical
        qubits 0..n-1. A list of ints pins the physical qubits: a circuit on n qubits uses
        the first n.
    """

    def __init__(
        self,
        target: Any,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        *,
        layout: str | list[int] = "noise_aware",
    ) -> None:
        self.target = target
        self.level = optimization_level
        self.layout = layout
        self.layout_method = layout if isinstance(layout, str) else "pinned"
        self._pms: dict[tuple[int, ...] | None, Any] = {}
        self._cache: dict[int, tuple[QuantumCircuit, PreparedCircuit]] = {}

    def initial_layout(self, circuit: QuantumCircuit) -> tuple[int, ...] | None:
        """The physical qubits chosen for ``circuit`` before routing (None: trivial)."""
        n = circuit.num_qubits
        if isinstance(self.layout, list):
            if len(self.layout) < n:
                raise ValueError(
                    f"backend.options.layout: pins {len(self.layout)} qubits; the circuit has {n}"
                )
            return tuple(self.layout[:n])
        if self.layout == "trivial":
            return None
        if is_line(circuit):
            # One chain per device: the cell on n qubits takes its first n (nested cells).
            chain = device_chain(self.target)
            if chain is not None and len(chain) >= n:
                return chain[:n]
        target = getattr(self.target, "target", self.target)
        vf2 = PassManager(
            [
                VF2Layout(
                    target=target,
                    seed=_VF2_SEED,
                    call_limit=_VF2_CALL_LIMIT,
                    max_trials=_VF2_TRIALS,
                )
            ]
        )
        vf2.run(circuit)
        found = vf2.property_set["layout"]
        if found is None:
            return None
        return tuple(int(found[q]) for q in circuit.qubits)

    def _pm(self, initial: tuple[int, ...] | None) -> Any:
        """The preset pass manager for one initial layout (None: trivial)."""
        if initial not in self._pms:
            self._pms[initial] = generate_preset_pass_manager(
                backend=self.target,
                optimization_level=self.level,
                initial_layout=list(initial) if initial is not None else None,
                layout_method="trivial" if initial is None else None,
            )
        return self._pms[initial]

    def __call__(self, circuit: QuantumCircuit) -> PreparedCircuit:
        """The ISA circuit and its layout."""
        key = id(circuit)
        if key not in self._cache:
            shared_key = (self._target_key(), fingerprint(circuit))
            prep = _SHARED.get(shared_key)
            if prep is None:
                isa = self._pm(self.initial_layout(circuit)).run(native_rotations(circuit))
                if [p.name for p in isa.parameters] != [p.name for p in circuit.parameters]:
                    raise RuntimeError("transpilation changed the circuit's parameters")
                prep = PreparedCircuit(isa, isa.layout)
                _SHARED[shared_key] = prep
                while len(_SHARED) > _SHARED_MAX:
                    _SHARED.popitem(last=False)
            # Keep the logical circuit alive so its id cannot be reused by another object.
            self._cache[key] = (circuit, prep)
        return self._cache[key][1]

    def _target_key(self) -> tuple[Any, ...]:
        target = self.target
        layout = tuple(self.layout) if isinstance(self.layout, list) else self.layout
        name = getattr(target, "name", None) or type(target).__name__
        return (
            type(target).__name__,
            name,
            getattr(target, "num_qubits", None),
            self.level,
            layout,
        )

    def physical_qubits(self, circuit: QuantumCircuit) -> list[int]:
        """The physical qubit each logical qubit of ``circuit`` ends on."""
        layout = self(circuit).layout
        if layout is None:
            return list(range(circuit.num_qubits))
        return [int(q) for q in layout.final_index_layout()]

    def map(
        self, circuit: QuantumCircuit, observable: SparseObservable
    ) -> tuple[QuantumCircuit, SparseObservable]:
        """ISA circuit and the observable on its physical qubits."""
        prep = self(circuit)
        return prep.circuit, observable.apply_layout(prep.layout)
