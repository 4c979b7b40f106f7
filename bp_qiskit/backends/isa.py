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


    Layout (``layout``):
        ``"noise_aware"`` (default): the layout stage of the level-3 preset pass manager
        (VF2Layout scores candidate placements by the target's gate and readout errors) in
        front of the stages of ``optimization_level``. The layout stage only places qubits,
        so the parameters are untouched; its cost is close to the level-0 figure (measured in
        ``benchmarks/layout.py``). ``"trivial"``: physical qubits 0..n-1. A list of ints pins
        the physical qubits: a circuit on n qubits uses the first n.
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
        self._pms: dict[int, Any] = {}
        self._cache: dict[int, tuple[QuantumCircuit, PreparedCircuit]] = {}

    def _pm(self, num_qubits: int) -> Any:
        """The pass manager for circuits of ``num_qubits`` (pinned layouts depend on it)."""
        key = num_qubits if isinstance(self.layout, list) else 0
        if key not in self._pms:
            if isinstance(self.layout, list):
                if len(self.layout) < num_qubits:
                    raise ValueError(
                        f"backend.options.layout: pins {len(self.layout)} qubits; the circuit "
                        f"has {num_qubits}"
                    )
                pm = generate_preset_pass_manager(
                    backend=self.target,
                    optimization_level=self.level,
                    initial_layout=self.layout[:num_qubits],
                )
            else:
                method = "trivial" if self.layout == "trivial" else None
                pm = generate_preset_pass_manager(
                    backend=self.target, optimization_level=self.level, layout_method=method
                )
                if self.layout == "noise_aware" and self.level < 3:
                    pm.layout = generate_preset_pass_manager(
                        backend=self.target, optimization_level=3
                    ).layout
            self._pms[key] = pm
        return self._pms[key]

    def __call__(self, circuit: QuantumCircuit) -> PreparedCircuit:
        """The ISA circuit and its layout."""
        key = id(circuit)
        if key not in self._cache:
            isa = self._pm(circuit.num_qubits).run(circuit)
            if [p.name for p in isa.parameters] != [p.name for p in circuit.parameters]:
                raise RuntimeError("transpilation changed the circuit's parameters")
            # Keep the logical circuit alive so its id cannot be reused by another object.
            self._cache[key] = (circuit, PreparedCircuit(isa, isa.layout))
        return self._cache[key][1]

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
