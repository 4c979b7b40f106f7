"""Monte Carlo over Pauli paths: the second moment where exact propagation cannot go.

A pair of terms is drawn with probability proportional to ``|c_a c_b|``, each gate choice
uniformly, each branch with probability 1/2; the path's sign and <Q_a><Q_b> is an unbiased
estimate (the rules of :mod:`bp_qiskit.core.propagation`, sampled). Vectorised over paths
with 64-bit masks (n <= 64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .propagation import (
    Clifford,
    Moment,
    Program,
    _anticommute_many,
    _branch_many,
    _conjugate_many,
    _depolarized,
    _expect_many,
    _random_masks,
)

__all__ = ["sampled_second_moment"]


def _term_table(program: Program) -> tuple[Any, float, Any, Any, Any]:
    """The listed terms as arrays for path sampling.

    Returns the coefficients, their absolute sum, each term's drawing probability |c| / sum,
    and the x and z masks.
    """
    coeffs = np.array([t.coeff for t in program.terms])
    norm = float(np.sum(np.abs(coeffs)))
    tx = np.array([t.pauli[0] for t in program.terms], dtype=np.uint64)
    tz = np.array([t.pauli[1] for t in program.terms], dtype=np.uint64)
    return coeffs, norm, np.abs(coeffs) / norm, tx, tz


def sampled_second_moment(
    program: Program, paths: int, rng: np.random.Generator, *, chunk: int = 50_000
) -> Moment:
    """Monte Carlo estimate of the same second moment (n <= 64), vectorised over paths."""
    n = program.num_qubits
    if n > 64:
        raise ValueError(f"num_qubits: got {n}; allowed: at most 64 for path sampling")
    if program.projector:
        # 2^-n sum_S Z_S: every Z-string with probability 2^-n, coefficient sum 1.
        norm = 1.0
    else:
        coeffs, norm, probs, tx, tz = _term_table(program)
    total = total_sq = 0.0
    nonzero = 0
    done = 0
    while done < paths:
        m = min(chunk, paths - done)
        if program.projector:
            sign = np.ones(m)
            xa, xb = np.zeros(m, dtype=np.uint64), np.zeros(m, dtype=np.uint64)
            za, zb = _random_masks(rng, m, n), _random_masks(rng, m, n)
        else:
            ia = rng.choice(len(coeffs), size=m, p=probs)
            ib = rng.choice(len(coeffs), size=m, p=probs)
            sign = np.sign(coeffs[ia]) * np.sign(coeffs[ib])
            xa, za, xb, zb = tx[ia].copy(), tz[ia].copy(), tx[ib].copy(), tz[ib].copy()
        for gate in reversed(program.gates):
            if gate.noise:
                sign = sign * _depolarized(xa, za, gate) * _depolarized(xb, zb, gate)
            if isinstance(gate, Clifford):
                sa = _conjugate_many(xa, za, gate)
                sb = _conjugate_many(xb, zb, gate)
                sign = sign * sa * sb
                continue
            pick = rng.integers(0, len(gate.generators), size=m)
            gx = np.array([g[0] for g in gate.generators], dtype=np.uint64)[pick]
            gz = np.array([g[1] for g in gate.generators], dtype=np.uint64)[pick]
            ca = _anticommute_many(xa, za, gx, gz)
            cb = _anticommute_many(xb, zb, gx, gz)
            alive = (ca == cb) & (ca | (not gate.differentiated))
            if gate.averaged:
                alive &= ~ca
            sign = np.where(alive, sign, 0.0)
            flip = ca & cb & (rng.random(m) < 0.5)
            sa, nxa, nza = _branch_many(xa, za, gx, gz)
            sb, nxb, nzb = _branch_many(xb, zb, gx, gz)
            sign = np.where(flip, sign * sa * sb, sign)
            xa, za = np.where(flip, nxa, xa), np.where(flip, nza, za)
            xb, zb = np.where(flip, nxb, xb), np.where(flip, nzb, zb)
        values = sign * norm**2 * _expect_many(xa, za, program.bloch)
        values = values * _expect_many(xb, zb, program.bloch)
        total += float(values.sum())
        total_sq += float((values**2).sum())
        nonzero += int(np.count_nonzero(values))
        done += m
    mean = total / paths
    se = math.sqrt(max(total_sq / paths - mean**2, 0.0) / max(paths - 1, 1))
    if nonzero == 0:
        # No path reached the initial state with a non-zero weight: the value is below what
        # these paths resolve. Each path's |estimate| is at most norm^2, so with none of
        # `paths` non-zero the probability of a non-zero path is below 3 / paths (95%, the
        # rule of three), and the second moment below norm^2 * 3 / paths.
        return Moment(0.0, 0.0, "bound", paths, upper_bound=norm**2 * 3.0 / paths)
    return Moment(mean, se, "monte_carlo", paths)
