"""Predicting every shipped spec against measuring it, side by side in one run.

For each spec in ``jobs/`` that runs on this machine (all but the hardware one, which needs an
IBM account), two fresh processes per round, interleaved:

- ``bp-qiskit predict SPEC`` (every cell, every method as ``predict`` chooses it);
- ``bp-qiskit run SPEC --no-plot --no-predict --no-progress`` into a new store and folder:
  the measurement alone, since ``run`` predicts by default.

Reported: the median wall time of each over the rounds, and predict / run. A ratio below 1
means predicting the spec costs less than measuring it, the condition for ``run`` and
``report`` to show predictions by default. The methods column counts each cell's method.

Run: ``python benchmarks/bench_predict_vs_run.py [--rounds 3] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent / "bp-qiskit")
SKIP = {"ibm_hardware"}  # a QPU: needs an account, and is priced in docs/hardware.md


def _timed(args: list[str], cwd: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-400:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="spec names, e.g. mcclean2018")
    args = parser.parse_args()
    specs = [
        p
        for p in sorted((ROOT / "jobs").glob("*.toml"))
        if p.stem not in SKIP and (args.only is None or p.stem in args.only)
    ]
    times: dict[str, dict[str, list[float]]] = {p.stem: {"predict": [], "run": []} for p in specs}
    methods: dict[str, str] = {}
    for _ in range(args.rounds):
        for path in specs:
            with tempfile.TemporaryDirectory() as tmp:
                seconds, out = _timed([BIN, "predict", str(path), "--json"], tmp)
                times[path.stem]["predict"].append(seconds)
                counts = collections.Counter(p["method"] for p in json.loads(out))
                methods[path.stem] = ", ".join(f"{m} {c}" for m, c in sorted(counts.items()))
                seconds, _ = _timed(
                    # --no-predict: the measurement alone (run predicts by default).
                    [BIN, "run", str(path), "--no-plot", "--no-predict", "--no-progress", "--store",
                     f"{tmp}/s.sqlite", "--out", f"{tmp}/out"],
                    tmp,
                )  # fmt: skip
                times[path.stem]["run"].append(seconds)
    print(f"{'spec':<20} {'predict s':>10} {'run s':>8} {'predict/run':>12}  methods")
    slower = 0
    for name, t in times.items():
        p, r = statistics.median(t["predict"]), statistics.median(t["run"])
        slower += p >= r
        print(f"{name:<20} {p:>10.2f} {r:>8.2f} {p / r:>12.2f}  {methods[name]}")
    print(f"{len(times) - slower} of {len(times)} specs predict faster than they run "
          f"(medians of {args.rounds} interleaved rounds, whole processes)")  # fmt: skip


if __name__ == "__main__":
    main()
