"""The fourth moment E[(dC)^4], exactly or by sampled paths, by propagating four copies.

The shot planner's Var(g^2) = E[g^4] - Var(g)^2 (``alpha``) comes from here: the same
Heisenberg rules as the second moment (:mod:`bp_qiskit.core.propagation`), with four
strings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .path_sampling import _term_table
from .propagation import (
    Clifford,
    Moment,
    Program,
    Rotation,
    _anticommute_many,
    _branch_many,
    _conjugate_many,
    _depolarized,
    _expect_many,
)

__all__ = ["exact_fourth_moment", "sampled_fourth_moment"]

# E over theta of a product of four factors cos or sin, by how many are sin (even counts only;
# odd counts average to 0): E[cos^4] = E[sin^4] = 3/8, E[cos^2 sin^2] = 1/8.
_FOUR = {0: 3 / 8, 2: 1 / 8, 4: 3 / 8}


def exact_fourth_moment(
    program: Program, *, max_states: int = 200_000, max_work: int | None = None
) -> float | None:
    """E[(dC)^4] (or E[C^4] with no differentiated gate) by propagating four copies.

    The same Heisenberg rules as the second moment, with four strings: a rotation keeps a
    quadruple only if an even number of its strings anticommute with the generator. With two
    anticommuting, both stay or both branch (1/2 each); with four, each even pattern of
    branches has weight E[cos^(4-b) sin^b] (3/8, 1/8, 3/8 for b = 0, 2, 4). The derivative
    kills any quadruple with a commuting string and swaps cos and sin in the others, which
    leaves these weights unchanged (an even number of sines, so the signs cancel).

    The quadruples are held as arrays (eight 64-bit masks and a weight each, n <= 64) and
    merged after every rotation, as :func:`~bp_qiskit.core.propagation.exact_second_moment`
    holds pairs. None when more than ``max_states`` quadruples survive, when the quadruples
    summed over gates pass ``max_work`` (a deep circuit on few qubits holds few states for
    many gates), or beyond 64 qubits.
    """
    if program.num_qubits > 64 or program.projector:
        return None
    state = _initial_quadruples(program, max_states)
    if state is None:
        return None
    masks, w = state
    work = 0
    for gate in reversed(program.gates):
        work += len(w)
        if max_work is not None and work > max_work:
            return None
        masks, w = _step(masks, w, gate)
        if len(w) > max_states:
            return None
    values = w
    for x, z in masks:
        values = values * _expect_many(x, z, program.bloch)
    return float(np.sum(values))


_Masks = list[tuple[NDArray[np.uint64], NDArray[np.uint64]]]

# The even branch patterns of four anticommuting strings (bit i: string i branches) and
# their weights E[cos^(4-b) sin^b].
_EVEN = [
    (pattern, _FOUR[pattern.bit_count()]) for pattern in range(16) if pattern.bit_count() % 2 == 0
]


def _step(
    masks: _Masks, w: NDArray[np.float64], gate: Rotation | Clifford
) -> tuple[_Masks, NDArray[np.float64]]:
    """One gate in the Heisenberg picture, on the four-copy distribution."""
    if gate.noise:
        for x, z in masks:
            w = w * _depolarized(x, z, gate)
    if isinstance(gate, Clifford):
        # A Clifford maps strings one to one: no two quadruples meet, nothing to merge.
        for x, z in masks:
            w = w * _conjugate_many(x, z, gate)
        return masks, w
    return _merge_quadruples(*_rotate(masks, w, gate))


def _initial_quadruples(
    program: Program, max_states: int
) -> tuple[_Masks, NDArray[np.float64]] | None:
    """The observable's four copies: every quadruple of its terms, by its coefficients."""
    m = len(program.terms)
    if m**4 > 16 * max_states:  # merging cannot bring so many under the limit in practice
        return None
    px = np.array([t.pauli[0] for t in program.terms], dtype=np.uint64)
    pz = np.array([t.pauli[1] for t in program.terms], dtype=np.uint64)
    c = np.array([t.coeff for t in program.terms])
    index = np.indices((m,) * 4).reshape(4, -1)
    masks = [(px[i], pz[i]) for i in index]
    w = c[index[0]] * c[index[1]] * c[index[2]] * c[index[3]]
    masks, w = _merge_quadruples(masks, w)
    return None if len(w) > max_states else (masks, w)


def _rotate(
    masks: _Masks, w: NDArray[np.float64], gate: Rotation
) -> tuple[_Masks, NDArray[np.float64]]:
    """The quadruples' images under an averaged rotation, unmerged."""
    share = 1.0 / len(gate.generators)
    parts: list[tuple[_Masks, NDArray[np.float64]]] = []
    for gx_, gz_ in gate.generators:
        gx = np.full(len(w), gx_, dtype=np.uint64)
        gz = np.full(len(w), gz_, dtype=np.uint64)
        anti = [_anticommute_many(x, z, gx, gz) for x, z in masks]
        count = np.sum(anti, axis=0)
        branched = [_branch_many(x, z, gx, gz) for x, z in masks]
        if not gate.differentiated:
            keep = count == 0
            parts.append(([(x[keep], z[keep]) for x, z in masks], share * w[keep]))
        if gate.averaged:
            continue  # only quadruples that commute throughout survive
        if not gate.differentiated:
            two = count == 2  # both stay or both branch, 1/2 each
            parts.append(([(x[two], z[two]) for x, z in masks], 0.5 * share * w[two]))
            parts.append(_flipped(masks, branched, anti, two, 0.5 * share * w[two]))
        four = count == 4
        for pattern, weight in _EVEN:
            flips = [np.full(int(four.sum()), bool(pattern >> i & 1)) for i in range(4)]
            parts.append(_flipped(masks, branched, flips, four, weight * share * w[four]))
    columns = [
        (np.concatenate([m[i][0] for m, _ in parts]), np.concatenate([m[i][1] for m, _ in parts]))
        for i in range(4)
    ]
    return columns, np.concatenate([v for _, v in parts])


def _flipped(
    masks: _Masks,
    branched: list[tuple[NDArray[np.float64], NDArray[np.uint64], NDArray[np.uint64]]],
    flips: list[NDArray[np.bool_]],
    rows: NDArray[np.bool_],
    w: NDArray[np.float64],
) -> tuple[_Masks, NDArray[np.float64]]:
    """The ``rows`` with copy i replaced by its branch where ``flips[i]`` (signs into w)."""
    out: _Masks = []
    for (x, z), (sign, nx, nz), flip in zip(masks, branched, flips, strict=True):
        f = flip[rows] if len(flip) == len(rows) else flip
        out.append((np.where(f, nx[rows], x[rows]), np.where(f, nz[rows], z[rows])))
        w = np.where(f, w * sign[rows], w)
    return out, w


def _merge_quadruples(masks: _Masks, w: NDArray[np.float64]) -> tuple[_Masks, NDArray[np.float64]]:
    """Sum the weights of equal quadruples and drop the zeros."""
    if len(w) == 0:
        return masks, w
    columns = [v for pair in masks for v in pair]
    flat: NDArray[Any]
    if max(int(c.max()) for c in columns) < 1 << 8:
        # Up to 8 qubits the eight masks pack into one 64-bit integer: an integer sort.
        flat = columns[0].copy()
        for k, c in enumerate(columns[1:], start=1):
            flat |= c << np.uint64(8 * k)
    else:
        # One 64-byte opaque key per quadruple: a 1-D unique, not unique(axis=0).
        keys = np.ascontiguousarray(np.stack(columns, axis=1))
        flat = keys.view(np.dtype((np.void, 64))).ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=w, minlength=len(first))
    kept = first[summed != 0.0]
    return [(x[kept], z[kept]) for x, z in masks], summed[summed != 0.0]


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
