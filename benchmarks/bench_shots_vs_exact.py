"""Cost of real sampled shots against exact evaluation on the seed workload, same process.

Seed workload (qubits 2..6, 200 circuits, last parameter, |0..0><0..0|) three ways:
exact; 1000 shots per shifted point drawn from Aer's exact outcome distribution
(the default ``sampler="auto"``); and 1000 shots through Aer's own measurement sampling
(``sampler="aer"``). Best of ``--repeats`` after a warm-up; ratios to the exact run.
Target: sampled shots at most 3x the exact run.
"""

from __future__ import annotations

import argparse
import time

from bp_qiskit import AerEstimator, EstimatorBackend, StudySpec, run_study
from bp_qiskit.backends.local import AER


def timed(spec: StudySpec, sampler: str, repeats: int) -> float:
    backend = EstimatorBackend(
        lambda seed: AerEstimator(seed=seed, sampler=sampler),
        name="aer",
        capabilities=AER,
    )
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_study(spec, backend=backend, progress=False)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    def spec(shots: int) -> StudySpec:
        return StudySpec.from_dict(
            {"study": {"name": "bench_shots"}, "sampling": {"samples": 200, "shots": shots}}
        )

    timed(spec(args.shots), "auto", 1)  # warm-up
    t_exact = timed(spec(0), "auto", args.repeats)
    t_auto = timed(spec(args.shots), "auto", args.repeats)
    t_aer = timed(spec(args.shots), "aer", args.repeats)
    print(f"seed workload, {args.shots} shots per shifted point, best of {args.repeats}")
    print(f"exact                         {t_exact:.3f} s   1.00x")
    print(f"shots, sampler='auto' (default) {t_auto:.3f} s   {t_auto / t_exact:.2f}x exact")
    print(f"shots, sampler='aer'          {t_aer:.3f} s   {t_aer / t_exact:.2f}x exact")


if __name__ == "__main__":
    main()
