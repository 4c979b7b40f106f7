"""Exact expectation values of wide circuits: one-qubit gates fused into Kronecker blocks.

The numpy pass of :mod:`bp_qiskit.backends.batched` applies every gate to the whole batch,
one gate at a time; past ten qubits its per-gate sweeps over 2^n amplitudes lose to Aer.
This pass keeps the batch but applies far fewer, denser operations: it is the forward sweep
that the adjoint pass also runs (:func:`~bp_qiskit.backends.program.final_states`), in which

- each run of one-qubit gates is applied as one Kronecker product per block of at most
  four neighbouring qubits (:mod:`bp_qiskit.backends.blocks`);
- each run of fixed diagonal gates (a CZ ladder) is one elementwise product;
- any other gate is applied on its own.

The bindings are split into chunks of a cache's size and shared out over the cores.
``python benchmarks/bench_fused.py`` measures it against Aer side by side at each width;
``tests/test_fused.py`` checks it against Aer to 1e-12 and against qiskit's Statevector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit

from .aer_readout import ExactPlan
from .batched import _read
from .blocks import map_over_cores
from .program import compile_circuit, final_states

__all__ = ["MAX_QUBITS", "MIN_QUBITS", "evaluate", "worth_it"]

# Where this pass beats Aer's statevector: from n = 9 (1.74x Aer's wall time, against 0.78x
# at n = 8) to n = 20 (2.95x); 0.98x at 22, where one binding's state (64 MiB) is far
# outside the caches (`python benchmarks/bench_fused.py`, quoted in docs/benchmarks.md).
MIN_QUBITS = 9
MAX_QUBITS = 20
_CHUNK_AMPLITUDES = 1 << 17  # amplitudes per chunk of bindings: 2 MiB, inside the caches


def worth_it(circuit: QuantumCircuit) -> bool:
    """Whether this circuit is wide enough for this pass and narrow enough to beat Aer."""
    return MIN_QUBITS <= circuit.num_qubits <= MAX_QUBITS


def evaluate(
    circuit: QuantumCircuit, plans: Sequence[ExactPlan], rows: NDArray[np.float64]
) -> NDArray[np.float64] | None:
    """``(observables, bindings)`` exact values, or None where Aer must do it.

    ``rows`` holds one binding per row, its columns in ``circuit.parameters`` order.
    """
    program = compile_circuit(circuit, distinct=False)
    if program is None:
        return None
    n = circuit.num_qubits
    per = max(1, _CHUNK_AMPLITUDES >> n)
    chunks = [rows[i : i + per] for i in range(0, rows.shape[0], per)]
    parts = map_over_cores(lambda chunk: _read(final_states(program, chunk), plans, n), chunks)
    return np.concatenate(parts, axis=1)
