"""Adaptive shot allocation against a fixed 1000 shots per point, in total shots.

Workload: the seed circuit at n = 6 (|0..0><0..0| cost, last parameter), target relative
standard error 0.2 on the corrected gradient variance. Both strategies run the same loop
(pilot of 100 circuits, then add circuits until the target is reached); the adaptive one also
moves N to the planner's optimum, the baseline keeps N = 1000. The count of executed shots is
deterministic for a seed, so the ratio is exact for that seed; it is printed for several seeds.
Run: ``python benchmarks/bench_adaptive_shots.py``.
"""

from __future__ import annotations

import argparse

from bp_qiskit import StudySpec, run_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, default=6)
    ap.add_argument("--target", type=float, default=0.2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    print(f"seed circuit, n={args.qubits}, target relative error {args.target}")
    print(
        f"{'seed':>5} {'adaptive shots':>15} {'(S, N)':>12} {'fixed-1000 shots':>17} "
        f"{'(S)':>6} {'ratio':>7}"
    )
    ratios = []
    for seed in args.seeds:
        spec = StudySpec.from_dict(
            {
                "study": {"name": "bench_adaptive", "seed": seed},
                "circuit": {"qubits": [args.qubits]},
                "sampling": {"shots": 100, "chunk": 100},
            }
        )
        targets = {"adaptive.target_rel_error": args.target, "adaptive.max_shots": 10**9}
        (ad,) = run_study(spec.with_overrides(**targets), progress=False).adaptive
        fixed = spec.with_overrides(**targets, **{"adaptive.fixed_shots": 1000})
        (fx,) = run_study(fixed, progress=False).adaptive
        assert ad.reached and fx.reached
        ratio = fx.total_shots / ad.total_shots
        ratios.append(ratio)
        print(
            f"{seed:>5} {ad.total_shots:>15} {f'({ad.samples}, {ad.final_shots})':>12} "
            f"{fx.total_shots:>17} {fx.samples:>6} {ratio:>6.1f}x"
        )
    print(f"fewer shots with adaptive allocation: {min(ratios):.1f}x to {max(ratios):.1f}x")


if __name__ == "__main__":
    main()
