"""The fourth moment E[(dC)^4], exactly or by sampled paths, by propagating four copies.

The shot planner's Var(g^2) = E[g^4] - Var(g)^2 (``alpha``) comes from here: the same
Heisenberg rules as the second moment (:mod:`bp_qiskit.core.propagation`), with four
strings.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from .path_sampling import _term_table
from .propagation import (
    Clifford,
    Moment,
    Pauli,
    Program,
    Rotation,
    _anticommute_many,
    _anticommutes,
    _branch,
    _branch_many,
    _conjugate,
    _conjugate_many,
    _depolarized,
    _expect_many,
    _expectation,
    gate_mask,
)

__all__ = ["exact_fourth_moment", "sampled_fourth_moment"]

# E over theta of a product of four factors cos or sin, by how many are sin (even counts only;
# odd counts average to 0): E[cos^4] = E[sin^4] = 3/8, E[cos^2 sin^2] = 1/8.
_FOUR = {0: 3 / 8, 2: 1 / 8, 4: 3 / 8}
_Quad = tuple[Pauli, Pauli, Pauli, Pauli]


def exact_fourth_moment(
    program: Program, *, max_states: int = 200_000, max_work: int | None = None
) -> float | None:
    """E[(dC)^4] (or E[C^4] with no differentiated gate) by propagating four copies.

    The same Heisenberg rules as the second moment, with four strings: a rotation keeps a
    quadruple only if an even number of its strings anticommute with the generator. With two
    anticommuting, both stay or both branch (1/2 each); with four, each even pattern of
    branches has weight E[cos^(4-b) sin^b] (3/8, 1/8, 3/8 for b = 0, 2, 4). The derivative
    kills any quadruple with a commuting string and swaps cos and sin in the others, which
    leaves these weights unchanged (an even number of sines, so the signs cancel). Held in a
    dictionary: small programs only (the planner's Var(g^2) = E[g^4] - Var(g)^2). None when
    more than ``max_states`` quadruples survive, or when the quadruples summed over gates pass
    ``max_work`` (a deep circuit on few qubits holds few states for many gates).
    """
    state = _initial_quadruples(program, max_states)
    if state is None:
        return None
    work = 0
    for gate in reversed(program.gates):
        work += len(state)
        if max_work is not None and work > max_work:
            return None
        state = _four_copy_step(state, gate)
        if len(state) > max_states:
            return None
    return sum(
        w * math.prod(_expectation(p, program.bloch) for p in quad) for quad, w in state.items()
    )


def _initial_quadruples(program: Program, max_states: int) -> dict[_Quad, float] | None:
    """The observable's four copies: every quadruple of its terms, by its coefficients."""
    state: dict[_Quad, float] = defaultdict(float)
    for quad in itertools.product(program.terms, repeat=4):
        key = (quad[0].pauli, quad[1].pauli, quad[2].pauli, quad[3].pauli)
        state[key] += quad[0].coeff * quad[1].coeff * quad[2].coeff * quad[3].coeff
        if len(state) > max_states:
            return None
    return state


def _four_copy_step(state: dict[_Quad, float], gate: Rotation | Clifford) -> dict[_Quad, float]:
    """One gate in the Heisenberg picture, on the four-copy distribution."""
    new: dict[_Quad, float] = defaultdict(float)
    mask = gate_mask(gate)
    for quad, w in state.items():
        if gate.noise:
            for p in quad:
                if (p[0] | p[1]) & mask:
                    w *= 1.0 - gate.noise
        if isinstance(gate, Clifford):
            images = [_conjugate(p, gate) for p in quad]
            sign = math.prod(s for s, _ in images)
            new[(images[0][1], images[1][1], images[2][1], images[3][1])] += sign * w
            continue
        share = w / len(gate.generators)
        for gen in gate.generators:
            _rotate_quadruple(new, quad, share, gen, gate)
    return {k: v for k, v in new.items() if v != 0.0}


def _rotate_quadruple(
    new: dict[_Quad, float], quad: _Quad, share: float, gen: Pauli, gate: Rotation
) -> None:
    """Add one quadruple's images under a rotation about ``gen`` (averaged over its angle)."""
    odd = [_anticommutes(p, gen) for p in quad]
    count = sum(odd)
    if count % 2 or (gate.differentiated and count < 4) or (gate.averaged and count):
        return
    if count == 0:
        new[quad] += share
        return
    branched = [_branch(p, gen) if o else (1, p) for p, o in zip(quad, odd, strict=True)]
    idx = [i for i in range(4) if odd[i]]
    for pattern in range(1 << count):
        flips = pattern.bit_count()
        if flips % 2:
            continue
        weight = (0.5 if count == 2 else _FOUR[flips]) * share
        out = list(quad)
        for j, i in enumerate(idx):
            if pattern >> j & 1:
                weight *= branched[i][0]
                out[i] = branched[i][1]
        new[(out[0], out[1], out[2], out[3])] += weight


# With four anticommuting strings, the even branch patterns (bit i: string i branches) and
# their sampling probabilities, proportional to the weights 3/8 (none, all) and 1/8 (pairs);
# the weights sum to 3/2, the factor each sampled path carries.
_PATTERNS = np.array([0b0000, 0b1111, 0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100])
_PATTERN_P = np.array([3, 3, 1, 1, 1, 1, 1, 1]) / 12


def sampled_fourth_moment(
    program: Program, paths: int, rng: np.random.Generator, *, chunk: int = 50_000
) -> Moment:
    """Monte Carlo estimate of E[(dC)^4] (n <= 64).

    The four-copy rules of :func:`exact_fourth_moment`, sampled: a quadruple of terms by
    ``|c_a c_b c_c c_d|``, a gate choice uniformly, with two anticommuting strings both stay or
    both branch (1/2 each), with four an even pattern by its weight (the path then carries
    the total 3/2).
    """
    if program.projector or program.num_qubits > 64:
        raise ValueError("program: the four-copy sampler takes listed terms on at most 64 qubits")
    coeffs, norm, probs, tx, tz = _term_table(program)
    total = total_sq = 0.0
    done = 0
    while done < paths:
        m = min(chunk, paths - done)
        picks = [rng.choice(len(coeffs), size=m, p=probs) for _ in range(4)]
        sign = np.prod([np.sign(coeffs[i]) for i in picks], axis=0)
        xs = [tx[i].copy() for i in picks]
        zs = [tz[i].copy() for i in picks]
        for gate in reversed(program.gates):
            if gate.noise:
                for x, z in zip(xs, zs, strict=True):
                    sign = sign * _depolarized(x, z, gate)
            if isinstance(gate, Clifford):
                for x, z in zip(xs, zs, strict=True):
                    sign = sign * _conjugate_many(x, z, gate)
                continue
            sign = _sample_rotation(xs, zs, sign, gate, rng)
        values = sign * norm**4
        for x, z in zip(xs, zs, strict=True):
            values = values * _expect_many(x, z, program.bloch)
        total += float(values.sum())
        total_sq += float((values**2).sum())
        done += m
    mean = total / paths
    se = math.sqrt(max(total_sq / paths - mean**2, 0.0) / max(paths - 1, 1))
    return Moment(mean, se, "monte_carlo", paths)


def _sample_rotation(
    xs: list[NDArray[np.uint64]],
    zs: list[NDArray[np.uint64]],
    sign: NDArray[np.float64],
    gate: Rotation,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """One averaged rotation on sampled quadruples: ``xs``, ``zs`` updated, the signs returned."""
    m = len(sign)
    pick = rng.integers(0, len(gate.generators), size=m)
    gx = np.array([g[0] for g in gate.generators], dtype=np.uint64)[pick]
    gz = np.array([g[1] for g in gate.generators], dtype=np.uint64)[pick]
    anti = np.stack([_anticommute_many(x, z, gx, gz) for x, z in zip(xs, zs, strict=True)])
    count = anti.sum(axis=0)
    alive = count % 2 == 0
    if gate.differentiated:
        alive &= count == 4
    if gate.averaged:
        alive &= count == 0
    sign = np.where(alive, sign, 0.0)
    # Two anticommuting: both branch with probability 1/2 (weight 1/2 each way).
    two = (count == 2) & (rng.random(m) < 0.5)
    four = count == 4
    pattern = _PATTERNS[rng.choice(len(_PATTERNS), size=m, p=_PATTERN_P)]
    sign = np.where(four, 1.5 * sign, sign)
    for i in range(4):
        flip = anti[i] & (two | (four & (pattern >> i & 1).astype(bool)))
        si, nx, nz = _branch_many(xs[i], zs[i], gx, gz)
        sign = np.where(flip, sign * si, sign)
        xs[i], zs[i] = np.where(flip, nx, xs[i]), np.where(flip, nz, zs[i])
    return sign
