"""The pair-chain tensor network in numpy against the same chain in quimb, side by side.

``bp_qiskit.core.tensor_network`` propagates the averaged two-copy chain as an MPS in plain
numpy. The issue asked for a well-kept library where it serves; this measures whether quimb
(``quimb.tensor.MatrixProductState.gate_``) would. Both get the same program: the same pair
MPS of the observable, the same gate matrices (``gate_matrix``, or their diagonal-pair blocks
for a one-string cost), the same bond limit and relative cutoff; each is contracted with the
same initial product state. quimb is timed with each of its split methods for a two-site gate
(``split``: one SVD of the two sites; ``reduce-split``: QR first, then the SVD of the small
core) and the faster one is reported: the strongest baseline, not the easiest.

Rows: McClean's ZZ cost at L = 50 (the diagonal pairs, 4 per qubit, bond 32: the shipped
mcclean2018 cells) and the global projector at L = 2 (all 16 pairs, cerezo2021's cells at
n = 16 and 100). Values are compared; times are medians of interleaved rounds (one call of
each per round), as ratios.

Run: ``python benchmarks/bench_tn_vs_quimb.py [--rounds 3]`` (needs quimb:
``pip install quimb``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import quimb.tensor as qtn

from bp_qiskit import load_spec
from bp_qiskit.core import tensor_network as tn
from bp_qiskit.core.light_cone import reduce_to_light_cone
from bp_qiskit.core.propagation import Program
from bp_qiskit.execution.predict_program import cell_programs

ROOT = Path(__file__).resolve().parent.parent
CUTOFF = 1e-12


def _cell_program(spec: Any, n: int, layers: int, k: int, device: None) -> Program:
    """Parameter k's program as predict_cell propagates it (reduced to its light cone)."""
    (program,) = cell_programs(spec, n, layers, [k], device, listed=False)
    return program if program.projector else reduce_to_light_cone(program)


def quimb_moment(program: Program, max_bond: int, contract: str) -> float:
    """The same chain through quimb's MPS: gate_ per gate, then the initial product state."""
    reduced = tn.diagonal(program)
    sites = tn._pair_mps(program)
    if reduced:
        sites = [t[:, list(tn._DIAGONAL), :] for t in sites]
    n = len(sites)
    arrays = [sites[0][0], *sites[1:-1], sites[-1][:, :, 0]] if n > 1 else [sites[0][0, :, 0]]
    psi = qtn.MatrixProductState(arrays, shape="lpr")
    for gate in reversed(program.gates):
        qs = tn._qubits(gate)
        local = tn._relabel(gate, qs[0])
        k = len(qs)
        matrix = tn._diagonal_matrix(local, k) if reduced else tn._gate_matrix(local, k)
        if k == 1:
            psi.gate_(matrix, qs[0], contract=True)
        else:
            psi.gate_(matrix, (qs[0], qs[0] + 1), contract=contract, max_bond=max_bond,
                      cutoff=CUTOFF, cutoff_mode="rel")  # fmt: skip
    starts = []
    for q in range(n):
        start = tn._initial(program.bloch[q])
        starts.append(start[list(tn._DIAGONAL)] if reduced else start)
    product = qtn.MPS_product_state(starts)
    # A plain contraction, no conjugate: every tensor of the chain is real.
    return float(psi @ product)


def _ours(program: Program, bond: int) -> float:
    result = tn.network_second_moment(program, max_bond=bond)
    assert result is not None
    return result.value


def _interleaved(
    fns: dict[str, Callable[[], float]], rounds: int
) -> dict[str, tuple[float, float]]:
    """Median time and value of each function, one call of each per round (load hits all)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    values: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), values[name]) for name in fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mcclean = load_spec(ROOT / "jobs" / "mcclean2018.toml")
    cerezo = load_spec(ROOT / "jobs" / "cerezo2021.toml")
    rows = [(f"mcclean zz n={n} L=50", _cell_program(mcclean, n, 50, 0, None), 32)
            for n in (8, 10, 12)]  # fmt: skip
    rows += [(f"global n={n} L=2", _cell_program(cerezo, n, 2, 0, None), 32) for n in (16, 100)]
    # The exactness check: a bond no SVD reaches, so both are exact and must agree to rounding.
    check = _cell_program(mcclean, 6, 50, 0, None)
    ours = tn.network_second_moment(check, max_bond=256)
    assert ours is not None and ours.truncation < 1e-20
    theirs = quimb_moment(check, 256, "split")
    print(f"exactness: McClean n = 6, L = 50 uncut: numpy {ours.value:.15e}, quimb {theirs:.15e}")
    print(f"{'cell':24} {'numpy s':>8} {'quimb s':>8} {'quimb/numpy':>12}  quimb method  rel diff")
    for name, program, bond in rows:
        fns: dict[str, Callable[[], float]] = {
            "numpy": partial(_ours, program, bond),
            "split": partial(quimb_moment, program, bond, "split"),
            "reduce-split": partial(quimb_moment, program, bond, "reduce-split"),
        }
        timed = _interleaved(fns, args.rounds)
        ours_t, ours_v = timed.pop("numpy")
        method, (best_t, best_v) = min(timed.items(), key=lambda item: item[1][0])
        rel = abs(best_v - ours_v) / abs(ours_v)
        print(
            f"{name:24} {ours_t:8.3f} {best_t:8.3f} {best_t / ours_t:12.2f}  {method:12}  {rel:.1e}"
        )


if __name__ == "__main__":
    main()
