"""Saving a Pauli cost on its own qubits against saving it on all n, in the same run.

Workload: McClean circuits (L = 10), cost Z0 Z1, gradient of the first parameter, exact
expectation values on Aer. The reference is bp_qiskit's previous path, the expectation value
saved over all n qubits, which stops Aer from dropping the qubits outside the cost's light
cone; the new path saves it on the cost's own qubits. Runs alternate, the median of three is
reported per size, and the variances must agree (checked). Run:
``python benchmarks/bench_light_cone.py``.
"""

from __future__ import annotations

import statistics
import time

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import aer_reads

SIZES = ((12, 50), (16, 20), (18, 10))  # (n, samples)


def time_cell(spec: StudySpec) -> tuple[float, float]:
    """Seconds to run a one-cell study, and its variance."""
    start = time.perf_counter()
    (cell,) = run_study(spec, progress=False).result.cells
    return time.perf_counter() - start, cell.grad_var


def main() -> None:
    own = aer_reads.restrict_to_support
    print(f"{'n':>3} {'samples':>8} {'all n qubits s':>15} {'own qubits s':>13} {'speed-up':>9}")
    for n, samples in SIZES:
        spec = StudySpec.from_dict(
            {
                "study": {"seed": 3},
                "circuit": {"ansatz": "mcclean", "layers": 10, "qubits": [n]},
                "observable": {"kind": "zz"},
                "gradient": {"parameter": "first"},
                "sampling": {"samples": samples, "chunk": samples},
            }
        )
        full_t, own_t = [], []
        for _ in range(3):
            aer_reads.restrict_to_support = lambda op: ([], op)  # type: ignore[assignment]
            t_full, v_full = time_cell(spec)
            aer_reads.restrict_to_support = own
            t_own, v_own = time_cell(spec)
            assert abs(v_full - v_own) <= 1e-12 * abs(v_full)
            full_t.append(t_full)
            own_t.append(t_own)
        a, b = statistics.median(full_t), statistics.median(own_t)
        print(f"{n:>3} {samples:>8} {a:>15.3f} {b:>13.3f} {a / b:>8.1f}x")


if __name__ == "__main__":
    main()
