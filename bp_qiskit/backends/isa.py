"""ISA transpilation for a device target, once per logical circuit."""

from __future__ import annotations

import dataclasses
from typing import Any

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable
from qiskit.transpiler import generate_preset_pass_manager

from .options import DEFAULT_OPTIMIZATION_LEVEL

__all__ = ["IsaTranspiler", "PreparedCircuit"]


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
    The cache lives with this object, which lives with one backend.
    """

    def __init__(self, target: Any, optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL) -> None:
        self.target = target
        self._pm = generate_preset_pass_manager(
            backend=target, optimization_level=optimization_level
        )
        self._cache: dict[int, tuple[QuantumCircuit, PreparedCircuit]] = {}

    def __call__(self, circuit: QuantumCircuit) -> PreparedCircuit:
        """The ISA circuit and its layout."""
        key = id(circuit)
        if key not in self._cache:
            isa = self._pm.run(circuit)
            if [p.name for p in isa.parameters] != [p.name for p in circuit.parameters]:
                raise RuntimeError("transpilation changed the circuit's parameters")
            # Keep the logical circuit alive so its id cannot be reused by another object.
            self._cache[key] = (circuit, PreparedCircuit(isa, isa.layout))
        return self._cache[key][1]

    def map(
        self, circuit: QuantumCircuit, observable: SparseObservable
    ) -> tuple[QuantumCircuit, SparseObservable]:
        """ISA circuit and the observable on its physical qubits."""
        prep = self(circuit)
        return prep.circuit, observable.apply_layout(prep.layout)
