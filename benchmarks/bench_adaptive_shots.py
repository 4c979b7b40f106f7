"""Adaptive shot allocation against the planner's static optimum and against fixed N = 1000.

Workload: the seed circuit at n = 6 (|0..0><0..0| cost, last parameter), target relative
standard error 0.2 on the corrected gradient variance. Three strategies per seed:

- **adaptive**: a pilot of 100 circuits at N = 100, then re-planning after every round until
  the measured relative error reaches the target (``[adaptive]``);
- **fixed N = 1000**: the same loop with N held at 1000 (the old baseline);
- **static optimum**: one study at the (S*, N*) the planner computes from the exact seed
  model before anything runs (``bp-qiskit budget``). It needs no pilot, but it only reaches
  the target on average: its achieved relative error is reported too.

Each strategy's shots are counted exactly, and its modelled QPU time uses the documented
planning model ``S * per_circuit_s + shots * per_shot_s`` (1.0 s per circuit, 2.5e-4 s per
shot). The static optimum is planned for shots (per_circuit_s = 0, as adaptive plans) and,
separately, for QPU time. Reported: median and range over the seeds.
Run: ``python benchmarks/bench_adaptive_shots.py [--seeds 30]``.
"""

from __future__ import annotations

import argparse
import statistics

from bp_qiskit import StudySpec, run_study
from bp_qiskit.core.planning import optimal_plan, qpu_seconds, seed_circuit_model


def _summary(name: str, values: list[float], unit: str = "") -> str:
    return (
        f"{name:<34} median {statistics.median(values):>12.4g}{unit}  "
        f"range {min(values):.4g} .. {max(values):.4g}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, default=6)
    ap.add_argument("--target", type=float, default=0.2)
    ap.add_argument("--seeds", type=int, default=30, help="seeds 1..K")
    args = ap.parse_args()
    n, r = args.qubits, args.target
    model = seed_circuit_model(n)
    for_shots = optimal_plan(model, r, per_circuit_s=0.0)
    for_time = optimal_plan(model, r)
    print(f"seed circuit, n={n}, target relative error {r}, seeds 1..{args.seeds}")
    print(
        f"static optimum for shots: S={for_shots.samples}, N={for_shots.shots}; "
        f"for QPU time: S={for_time.samples}, N={for_time.shots}"
    )
    rows: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    for seed in range(1, args.seeds + 1):
        base = StudySpec.from_dict(
            {
                "study": {"name": "bench_adaptive", "seed": seed},
                "circuit": {"qubits": [n]},
                "sampling": {"shots": 100, "chunk": 100},
            }
        )
        targets = {"adaptive.target_rel_error": r, "adaptive.max_shots": 10**9}
        (ad,) = run_study(base.with_overrides(**targets), progress=False).adaptive
        fixed = base.with_overrides(**targets, **{"adaptive.fixed_shots": 1000})
        (fx,) = run_study(fixed, progress=False).adaptive
        for name, plan in (("static-shots", for_shots), ("static-time", for_time)):
            spec = base.with_overrides(
                **{"sampling.samples": plan.samples, "sampling.shots": plan.shots,
                   "sampling.chunk": min(plan.samples, 5000)}
            )  # fmt: skip
            (cell,) = run_study(spec, progress=False).result.cells
            add(f"{name} achieved rel. error", cell.grad_var_se / cell.grad_var)
            add(f"{name} shots", plan.total_shots)
            add(f"{name} QPU s", qpu_seconds(plan.samples, plan.total_shots))
        add("adaptive shots", ad.total_shots)
        add("adaptive QPU s", qpu_seconds(ad.samples, ad.total_shots))
        add("adaptive achieved rel. error", ad.rel_error)
        add("fixed-1000 shots", fx.total_shots)
        add("fixed-1000 QPU s", qpu_seconds(fx.samples, fx.total_shots))
        add("shots: adaptive / static-shots", ad.total_shots / for_shots.total_shots)
        add("shots: fixed-1000 / adaptive", fx.total_shots / ad.total_shots)
        add(
            "QPU s: adaptive / static-time",
            qpu_seconds(ad.samples, ad.total_shots) / for_time.qpu_seconds,
        )
        print(f"seed {seed}: adaptive {ad.total_shots} shots (S={ad.samples}, N={ad.final_shots})")
    for key, values in rows.items():
        print(_summary(key, values))


if __name__ == "__main__":
    main()
