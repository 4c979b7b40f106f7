"""Shared prefixes in the numpy pass: the shifted pair of a late parameter computed once up to it.

The numpy pass (``bp_qiskit/backends/batched.py``) holds one state per distinct prefix of
angles, so both shifts of a sample share every gate before the shifted one. Measured here on
the pass alone, for the first, a middle and the last parameter, against the same pass with
every row its own state (``_split`` replaced by the identity: the pass as it was), in one
process, interleaved, median of ``--repeats``. The values are checked to be the same bits.

Workloads: the seed study's largest cell (n = 6, L = 1, global cost) and McClean n = 6, L = 4
(Z0 Z1), 200 circuits each, exact.

Run: ``python benchmarks/bench_prefix.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from bp_qiskit import StudySpec
from bp_qiskit.backends import batched
from bp_qiskit.backends.aer_readout import exact_plan
from bp_qiskit.execution.jobs import JobBuilder, plan_jobs

SHARED = batched._split


def _unshared(group: Any, angles: Any) -> Any:
    rows = np.arange(len(angles[0]))
    return rows, rows, group


def _task(ansatz: str, layers: int, cost: str, parameter: Any) -> Any:
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": ansatz, "layers": layers, "qubits": [6]},
            "observable": {"kind": cost},
            "gradient": {"parameter": parameter},
            "sampling": {"samples": 200},
        }
    )
    (job,) = plan_jobs(spec)
    task = JobBuilder(spec).build(job).task
    return (
        task.circuit,
        [exact_plan(task.observable)],
        task.values.reshape(-1, task.values.shape[-1]),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'workload':>18} {'parameter':>9} {'shared ms':>10} {'unshared ms':>12} {'saving':>7}")
    for name, ansatz, layers, cost in (("seed n=6", "seed", 1, "global"),
                                       ("mcclean n=6 L=4", "mcclean", 4, "zz")):  # fmt: skip
        width = 6 * layers
        for label, parameter in (("first", "first"), ("middle", width // 2), ("last", "last")):
            circuit, plans, rows = _task(ansatz, layers, cost, parameter)
            times: dict[str, list[float]] = {"shared": [], "unshared": []}
            out = {}
            for _ in range(args.repeats):
                for mode, split in (("shared", SHARED), ("unshared", _unshared)):
                    batched._split = split
                    start = time.perf_counter()
                    out[mode] = batched.evaluate(circuit, plans, rows)
                    times[mode].append(time.perf_counter() - start)
            batched._split = SHARED
            assert out["shared"] is not None and out["unshared"] is not None
            assert np.array_equal(out["shared"], out["unshared"]), "different bits"
            a = statistics.median(times["shared"]) * 1e3
            b = statistics.median(times["unshared"]) * 1e3
            print(f"{name:>18} {label:>9} {a:>10.2f} {b:>12.2f} {b / a:>6.2f}x")


if __name__ == "__main__":
    main()
