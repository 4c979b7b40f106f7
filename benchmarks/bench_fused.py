"""The fused numpy pass against Aer's statevector on wider circuits, to place its range.

Workload: McClean circuits, cost Z0 Z1 or global, first parameter, exact (the benchmark suite's
``mcclean_n*`` workloads); L = 10 and 50. Each size runs through ``run_study`` three ways in
turn: forced through the fused pass (``bp_qiskit/backends/fused.py``), through Aer, and,
where it fits, through the gate-by-gate numpy pass (``backends/batched.py``). It prints wall
and CPU seconds (``getrusage``, this process and its threads), and Aer's over the fused pass's.
``fused.worth_it`` switches at ``MIN_QUBITS`` and ``MAX_QUBITS``; the values must agree to
1e-12 (checked here too). Run: ``python benchmarks/bench_fused.py [--quick]``.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import numpy as np

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import batched, fused

# (n, L, samples, cost): Z0 Z1 at L = 10 reaches only some qubits (Aer then simulates those
# alone, and the fused pass is not used), so the wide rows take the global cost.
SIZES = [(8, 50, 100, "zz"), (9, 50, 100, "zz"), (10, 50, 100, "zz"), (11, 50, 100, "zz"),
         (12, 50, 100, "zz"), (14, 50, 100, "zz"), (16, 10, 40, "global"),
         (18, 10, 10, "global"), (20, 10, 4, "global"), (22, 10, 2, "global")]  # fmt: skip
QUICK = [(10, 50, 40, "zz"), (12, 50, 40, "zz"), (16, 10, 10, "global")]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _force(path: str) -> None:
    batched.MAX_QUBITS, batched.MAX_WORK = (20, 2**40) if path == "numpy" else (0, 0)
    fused.MIN_QUBITS, fused.MAX_QUBITS = (1, 30) if path == "fused" else (99, 0)


def _time(spec: StudySpec, path: str) -> tuple[float, float, Any]:
    _force(path)
    wall, cpu = time.perf_counter(), _cpu()
    outcome = run_study(spec, progress=False)
    grads = np.concatenate([np.asarray(d.grads) for d in outcome.data])
    return time.perf_counter() - wall, _cpu() - cpu, grads


def main() -> None:
    sizes = QUICK if "--quick" in sys.argv else SIZES
    print(f"{'n':>3} {'L':>3} {'S':>4} {'cost':>6} {'path':>6} {'wall s':>8} {'cpu s':>8} "
          f"{'aer/fused wall':>15} {'aer/fused cpu':>14} {'max |diff|':>11}")  # fmt: skip
    for n, layers, samples, cost in sizes:
        spec = StudySpec.from_dict(
            {
                "circuit": {"ansatz": "mcclean", "layers": layers, "qubits": [n]},
                "observable": {"kind": cost},
                "gradient": {"parameter": "first"},
                "sampling": {"samples": samples},
            }
        )
        paths = ["fused", "aer"] + (["numpy"] if n <= 10 else [])
        runs = {p: _time(spec, p) for p in paths}
        f_wall, f_cpu, f_grads = runs["fused"]
        for p in paths:
            wall, cpu, grads = runs[p]
            diff = float(np.max(np.abs(grads - f_grads)))
            ratio = f"{runs['aer'][0] / f_wall:>14.2f}x {runs['aer'][1] / f_cpu:>13.2f}x"
            print(f"{n:>3} {layers:>3} {samples:>4} {cost:>6} {p:>6} {wall:>8.2f} {cpu:>8.2f} "
                  f"{ratio if p == 'fused' else ' ' * 30} {diff:>11.1e}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
