"""Scale-out, measured: k workers with one Aer thread each, as a local pool and on Dask.

On 2 cores Aer already keeps both busy from one process, so a pool cannot beat serial there
(the last measurement: 0.97x). What a pool or a cluster buys is measured with the threads
pinned instead: every worker gets exactly one Aer thread (``OMP_NUM_THREADS = 1``), so k
workers use k cores and the only thing that varies is how many run at once.

The study: McClean at n = ``--qubits`` (12), L = 50, the gradient of the first angle, Z0 Z1,
exact, ``--samples`` (400) circuits in jobs of 25. For each executor (a process pool,
``--workers k``; a Dask LocalCluster, ``--executor dask``, its start-up counted, as a user
pays it) and each k in ``--workers`` (default 1 up to the core count), repeated and
interleaved. Reported per row: the median wall time, the speed-up and the efficiency against
the same executor with one worker, ``T_1 / (k T_k)``, and the overhead per job, the worker
seconds each job cost beyond its share of ``T_1``: ``(k T_k - T_1) / jobs``. The results of
every run are checked to be the same bytes.

A machine with more cores, or a Dask scheduler, gives its numbers with the same command
(``--workers 1,4,8,16``).

Run: ``python benchmarks/bench_dask.py [--repeats 2] [--workers 1,2] [--qubits 12]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bp_qiskit import StudySpec
from bp_qiskit.execution import collect, create_study, executors, run_stored
from bp_qiskit.store import InMemoryStore

CHUNK = 25


def _spec(n: int, samples: int) -> StudySpec:
    return StudySpec.from_dict(
        {
            "study": {"name": "bench_dask", "seed": 16},
            "circuit": {"ansatz": "mcclean", "layers": 50, "qubits": [n]},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": "first"},
            "sampling": {"samples": samples, "chunk": CHUNK},
        }
    )


def once(spec: StudySpec, executor: str, workers: int) -> tuple[float, str]:
    """Run the study on ``workers`` pinned workers; its wall time (start-up included)."""
    store = InMemoryStore()
    sid = create_study(store, spec)
    start = time.perf_counter()
    opened = (
        executors.local_pool(workers)
        if executor == "local"
        else executors.dask_executor("dask", workers=workers)
    )
    with opened as pool:  # a pool of one is still a pool: the same start-up and shipping
        run_stored(store, sid, progress=False, executor=pool)
    seconds = time.perf_counter() - start
    return seconds, collect(store, sid).result.to_json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 2}")
    parser.add_argument("--qubits", type=int, default=12)
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    counts = [int(k) for k in args.workers.split(",")]
    spec = _spec(args.qubits, args.samples)
    jobs = -(-args.samples // CHUNK)
    # Pinned: one Aer thread per worker, whatever the core count (the pool's initializer
    # and the cluster read this in the parent when they start their workers).
    executors.aer_threads = lambda workers: 1  # type: ignore[assignment]
    # And k = 1, which runs in this process: the fused numpy pass shares its bindings over
    # OMP_NUM_THREADS threads (all cores when unset), which made "one worker" two threads.
    os.environ["OMP_NUM_THREADS"] = "1"
    ways = [(e, k) for e in ("local", "dask") for k in counts]
    times: dict[tuple[str, int], list[float]] = {w: [] for w in ways}
    results = set()
    for _ in range(args.repeats):
        for executor, k in ways:
            seconds, result = once(spec, executor, k)
            times[executor, k].append(seconds)
            results.add(result)
    assert len(results) == 1, "the ways gave different results"
    print(f"McClean n = {args.qubits}, L = 50, {args.samples} circuits in {jobs} jobs; "
          f"one Aer thread per worker; {os.cpu_count()} cores; "
          f"median of {args.repeats}")  # fmt: skip
    print(f"{'executor':>8} {'k':>3} {'wall s':>8} {'speed-up':>9} {'efficiency':>11} "
          f"{'overhead/job s':>15}")  # fmt: skip
    for executor in ("local", "dask"):
        one = statistics.median(times[executor, counts[0]]) * counts[0]
        for k in counts:
            t = statistics.median(times[executor, k])
            name = "pool" if executor == "local" else "dask"
            print(f"{name:>8} {k:>3} {t:>8.1f} {one / t:>8.2f}x {one / (k * t):>10.0%} "
                  f"{(k * t - one) / jobs:>15.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
