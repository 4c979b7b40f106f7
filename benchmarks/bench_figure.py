"""What the figure costs: ``bp-qiskit run`` on the seed study with and without ``variance.png``.

Whole processes, as users run them (interpreter start, imports, the study, its prediction,
the outputs), interleaved: round r runs both commands once before round r + 1. Prints the
medians and their ratio (issue 23's target: the process with its figure within 1.5x of
``--no-plot``), and, in this process, the figure's own parts: importing matplotlib and
drawing ``variance.png`` the first time.

Run: ``python benchmarks/bench_figure.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent / "bp-qiskit")
SPEC = str(ROOT / "jobs" / "seed_tutorial.toml")


def _process(extra: list[str], tmp: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [BIN, "run", SPEC, "--no-progress", "--store", str(tmp / "s.sqlite"),
         "--out", str(tmp / f"o{time.monotonic_ns()}"), *extra],
        check=True, stdout=subprocess.DEVNULL, cwd=tmp,
    )  # fmt: skip
    return time.perf_counter() - start


def _parts() -> tuple[float, float]:
    """(import s, first draw s) in a fresh interpreter, after the study ran."""
    code = (
        "import time; from pathlib import Path; from bp_qiskit import load_spec, run_study\n"
        f"out = run_study(load_spec({SPEC!r}), progress=False)\n"
        "t = time.perf_counter(); import bp_qiskit.report.plots as p\n"
        "t1 = time.perf_counter(); p.plot_variance(out.result, Path('f.png'))\n"
        "print(t1 - t, time.perf_counter() - t1)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        line = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp
        ).stdout.split()
    return float(line[0]), float(line[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"figure": [], "no-plot": []}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _process(["--no-plot"], tmp)  # warm the file cache and the font cache
        for _ in range(args.rounds):
            times["figure"].append(_process([], tmp))
            times["no-plot"].append(_process(["--no-plot"], tmp))
    fig, bare = statistics.median(times["figure"]), statistics.median(times["no-plot"])
    print(f"bp-qiskit run jobs/seed_tutorial.toml: {fig:.2f} s with its figure, "
          f"{bare:.2f} s with --no-plot: {fig / bare:.2f}x (median of {args.rounds})")  # fmt: skip
    imports, draw = _parts()
    print(f"the figure's parts: import matplotlib and the plots {imports:.2f} s, "
          f"first draw and PNG {draw:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
