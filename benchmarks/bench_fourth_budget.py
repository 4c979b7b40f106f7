"""Prediction compute: the four-copy budget, and a spec's cells shared over the cores.

``execution/predict.py`` gives each cell's exact fourth moment (the spread the z column holds a
measurement to) a budget of quadruples summed over gates, ``_FOURTH_WORK``; past it the cell
falls back on its sample's own spread. For each budget, interleaved over the rounds, every
cell of every shipped spec is predicted in this process (the prediction's compute, no
imports), and the cells that got an exact fourth moment are counted.

Then ``jobs/mcclean2018.toml``'s cells (the spec whose prediction takes longest for its run)
one after another against :func:`~bp_qiskit.execution.predict.predict_cells`, which shares
them over this process's cores, interleaved, with their values compared.

Run: ``python benchmarks/bench_fourth_budget.py [--rounds 3] [--budgets 10000 30000 100000]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bp_qiskit import StudySpec, load_spec
from bp_qiskit.execution import predict
from bp_qiskit.execution.jobs import plan_cells

ROOT = Path(__file__).resolve().parent.parent


def _cells() -> list[tuple[StudySpec, int, int]]:
    todo = []
    for path in sorted((ROOT / "jobs").glob("*.toml")):
        spec = load_spec(path)
        for one in spec.variants() if spec.more_observables else [spec]:
            todo += [(one, c.num_qubits, c.num_layers) for c in plan_cells(one)]
    return todo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    args = parser.parse_args()
    todo = _cells()
    times: dict[int, list[float]] = {b: [] for b in args.budgets}
    exact: dict[int, int] = {}
    original = predict._FOURTH_WORK
    try:
        for _ in range(args.rounds):
            for budget in args.budgets:
                predict._FOURTH_WORK = budget
                start = time.perf_counter()
                rows = [predict.predict_cell(s, n, k, seed=s.study.seed) for s, n, k in todo]
                times[budget].append(time.perf_counter() - start)
                exact[budget] = sum(p.contribution_sd is not None for p in rows)
    finally:
        predict._FOURTH_WORK = original
    print(f"{len(todo)} cells of the shipped specs, one thread, medians of {args.rounds} rounds")
    print(f"{'budget':>10} {'compute s':>10} {'exact E[g^4]':>13}")
    for budget in args.budgets:
        print(f"{budget:>10} {statistics.median(times[budget]):>10.2f} {exact[budget]:>13}")
    _threads(args.rounds)


def _threads(rounds: int) -> None:
    spec = load_spec(ROOT / "jobs" / "mcclean2018.toml")
    todo = [(spec, c.num_qubits, c.num_layers) for c in plan_cells(spec)]
    serial: list[float] = []
    shared: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        one = [predict.predict_cell(s, n, k, seed=s.study.seed) for s, n, k in todo]
        serial.append(time.perf_counter() - start)
        start = time.perf_counter()
        both = predict.predict_cells(todo)
        shared.append(time.perf_counter() - start)
        assert [p.grad_var for p in one] == [p.grad_var for p in both]
    a, b = statistics.median(serial), statistics.median(shared)
    print(f"mcclean2018, {len(todo)} cells: one after another {a:.2f} s, predict_cells "
          f"{b:.2f} s ({a / b:.2f}x), equal values")  # fmt: skip


if __name__ == "__main__":
    main()
