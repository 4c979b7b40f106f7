"""The bootstrap-t interval in cache-sized blocks against all resamples in one block.

``core.statistics.bootstrap_t_interval`` draws its resamples in blocks of
``_BOOTSTRAP_BLOCK`` values. Measured here on the seed study's shape (200 gradients, a third
exactly zero, 1000 resamples) and on 50 and 2000 gradients: the shipped block (2**15) against
the one block a 2**24 bound gives, in one process, interleaved, median of ``--repeats``. The
intervals are checked to be the same bits.

Run: ``python benchmarks/bench_bootstrap.py [--repeats 200]``.
"""

from __future__ import annotations

import argparse
import statistics as stats
import time

import numpy as np

from bp_qiskit.core import statistics

SHIPPED = statistics._BOOTSTRAP_BLOCK
ONE_BLOCK = 1 << 24


def _time(z: np.ndarray, block: int) -> tuple[float, tuple[float, float]]:
    statistics._BOOTSTRAP_BLOCK = block
    t0 = time.perf_counter()
    ci = statistics.bootstrap_t_interval(z, np.random.default_rng(7))
    return time.perf_counter() - t0, ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"{'gradients':>9} {'blocked ms':>11} {'one block ms':>13} {'speed-up':>9}")
    for s in (50, 200, 2000):
        z = np.random.default_rng(s).standard_normal(s) ** 2
        z[: s // 3] = 0.0
        blocked, whole = [], []
        for _ in range(args.repeats):
            tb, ci_b = _time(z, SHIPPED)
            tw, ci_w = _time(z, ONE_BLOCK)
            assert ci_b == ci_w, (ci_b, ci_w)
            blocked.append(tb)
            whole.append(tw)
        b, w = stats.median(blocked) * 1e3, stats.median(whole) * 1e3
        print(f"{s:>9} {b:>11.3f} {w:>13.3f} {w / b:>8.2f}x")
    statistics._BOOTSTRAP_BLOCK = SHIPPED


if __name__ == "__main__":
    main()
