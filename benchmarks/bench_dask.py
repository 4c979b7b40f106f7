"""Dask against serial, and against a process pool, on one McClean cell (n = 16, L = 50).

The same study (the gradient of the first angle, Z0 Z1, exact, 200 circuits in 8 jobs of 25)
run three ways, interleaved, each repeated: serially in this process; with
``--executor dask --workers 2`` (a LocalCluster, one thread per worker, Aer given half the
cores each); and with ``--workers 2`` (a process pool). The cluster start-up is counted, as
a user pays it. Reported: wall time per way, and the ratios to serial. The results are
checked to be the same bytes.

Run: ``python benchmarks/bench_dask.py [repeats]`` (17 minutes on 2 cores with 3).
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from bp_qiskit import StudySpec
from bp_qiskit.execution import collect, create_study, run_stored
from bp_qiskit.execution.executors import dask_executor
from bp_qiskit.store import InMemoryStore

SPEC = StudySpec.from_dict(
    {
        "study": {"name": "bench_dask", "seed": 16},
        "circuit": {"ansatz": "mcclean", "layers": 50, "qubits": [16]},
        "observable": {"kind": "zz"},
        "gradient": {"parameter": "first"},
        "sampling": {"samples": 200, "chunk": 25},
    }
)


def once(way: str) -> tuple[float, str]:
    """Run the study one way; return its wall time and its result."""
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    start = time.perf_counter()
    if way == "serial":
        run_stored(store, sid, progress=False)
    elif way == "dask":
        with dask_executor("dask", workers=2) as executor:
            run_stored(store, sid, progress=False, executor=executor)
    else:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=spawn) as pool:
            run_stored(store, sid, progress=False, executor=pool)
    seconds = time.perf_counter() - start
    return seconds, collect(store, sid).result.to_json()


def main(repeats: int) -> None:
    """Interleave the ways, print medians and ratios."""
    ways = ("serial", "dask", "processes")
    times: dict[str, list[float]] = {w: [] for w in ways}
    results = set()
    for _ in range(repeats):
        for way in ways:
            seconds, result = once(way)
            times[way].append(seconds)
            results.add(result)
    assert len(results) == 1, "the ways gave different results"
    base = statistics.median(times["serial"])
    for way in ways:
        med = statistics.median(times[way])
        print(
            f"{way:>9}: median {med:6.1f} s over {repeats} runs; serial / {way} = {base / med:.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
