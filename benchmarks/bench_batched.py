"""The vectorised numpy pass against Aer on small circuits, to place the switch between them.

Workload: McClean circuits, global cost, first parameter, 200 circuits, exact; n = 4..10 and
L = 1, 4, 10. Each size runs with every circuit forced through the numpy pass
(``bp_qiskit/backends/batched.py``) and forced through Aer, median of three, and prints Aer's
time over the numpy pass's with the circuit's gates x 2^n (``batched.worth_it`` switches at
``MAX_WORK``). Run: ``python benchmarks/bench_batched.py``.
"""

from __future__ import annotations

import statistics
import time

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import batched
from bp_qiskit.execution.families import family_for
from bp_qiskit.results import Cell


def main() -> None:
    print(f"{'n':>3} {'L':>3} {'gates x 2^n':>12} {'numpy s':>9} {'aer s':>9} {'aer / numpy':>12}")
    for n in (4, 6, 8, 10):
        for layers in (1, 4, 10):
            spec = StudySpec.from_dict(
                {
                    "circuit": {"ansatz": "mcclean", "layers": layers, "qubits": [n]},
                    "observable": {"kind": "global"},
                    "gradient": {"parameter": "first"},
                    "sampling": {"samples": 200},
                }
            )
            work = len(family_for(spec, Cell(n, layers)).template.data) * 2**n
            times: dict[str, list[float]] = {"numpy": [], "aer": []}
            for _ in range(3):
                for label, (max_qubits, max_work) in (
                    ("numpy", (20, 2**40)),
                    ("aer", (0, 0)),
                ):
                    batched.MAX_QUBITS, batched.MAX_WORK = max_qubits, max_work
                    start = time.perf_counter()
                    run_study(spec, progress=False)
                    times[label].append(time.perf_counter() - start)
            a, b = statistics.median(times["numpy"]), statistics.median(times["aer"])
            print(f"{n:>3} {layers:>3} {work:>12} {a:>9.3f} {b:>9.3f} {b / a:>11.2f}x")


if __name__ == "__main__":
    main()
