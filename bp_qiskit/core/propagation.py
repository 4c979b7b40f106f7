"""The second moment of a cost and its gradient by Pauli propagation, without simulating states.

A *program* is a circuit of Pauli rotations exp(-i theta P / 2) with independent angles
uniform over whole turns (the generator P drawn uniformly from a set where the gate is
random), Clifford entanglers (CZ, CX) and a product initial state. In the Heisenberg picture
the observable's Pauli strings are propagated backwards:

- a Clifford maps a Pauli string to a Pauli string, with a sign;
- a rotation whose generator commutes with the string leaves it alone;
- one that anticommutes sends Q to cos(theta) Q + sin(theta) Q', Q' = -i Q P.

For the second moment take two copies (Q_a, Q_b) of the observable's terms. Averaging over
theta, E[cos^2] = E[sin^2] = 1/2 and E[cos] = E[sin] = E[cos sin] = 0, so a pair survives a
rotation only if both strings commute with it (weight 1) or both anticommute (weight 1/2 on
(Q_a, Q_b) and 1/2 on (Q_a', Q_b')). The derivative with respect to one rotation's angle
swaps cos and sin there, which leaves the anticommuting branch as it was and kills the
commuting one. Where the gate is drawn from a set, each choice has its own transitions and
they are averaged. At the start, a pair contributes <Q_a><Q_b> in the initial product state.
As E[dC/dtheta] = 0 (a derivative of a periodic function, averaged over its period),

    Var[dC/dtheta_k] = sum over pairs of weight(Q_a, Q_b) <Q_a> <Q_b>,

and Var[C] follows the same way without the kill, minus E[C]^2 (the first moment keeps only
the strings that commute with every rotation on their way).

Two algorithms:

- :func:`exact_second_moment`: the full distribution over pairs (a dictionary), exact to
  rounding. Its size grows with the number of surviving pairs: fine at small n or for few
  terms, hopeless for the global projector (4^n pairs) at large n.
- :func:`~bp_qiskit.core.path_sampling.sampled_second_moment`: Monte Carlo over paths. A
  pair of terms is drawn with probability proportional to ``|c_a c_b|``, each gate choice
  uniformly, each branch with probability 1/2; the path's sign and <Q_a><Q_b> is an
  unbiased estimate. O(paths x gates), vectorised over paths with 64-bit masks (n <= 64).
  When the variance is exponentially small most paths contribute 0; with none non-zero the
  result is an upper bound, never 0.

Pauli strings are Hermitian: (x, z) bit masks stand for i^(x.z) X^x Z^z, so (1, 1) on a
qubit is Y, and a sign is carried separately. Clifford conjugation follows the
Aaronson-Gottesman tableau rules, written once (:func:`_clifford_rule`) for one string or a
vector of them.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Clifford",
    "Moment",
    "Program",
    "Rotation",
    "Term",
    "exact_first_moment",
    "exact_second_moment",
    "gate_mask",
    "pauli",
]

Pauli = tuple[int, int]  # (x mask, z mask), Hermitian form
ONE_QUBIT_CLIFFORDS = ("h", "x", "y", "z")


def pauli(label: str, qubits: Sequence[int]) -> Pauli:
    """A Pauli string from letters on qubits: ``pauli("XZ", (0, 1))`` is X_0 Z_1."""
    x = z = 0
    for letter, q in zip(label, qubits, strict=True):
        if letter in "XY":
            x |= 1 << q
        if letter in "ZY":
            z |= 1 << q
    return (x, z)


@dataclasses.dataclass(frozen=True)
class Rotation:
    """exp(-i theta P / 2), theta uniform over whole turns, P uniform over ``generators``.

    ``noise``: a depolarising channel of that strength after the gate on its qubits.
    ``averaged``: theta is averaged in each copy on its own (the second moment of E_theta[C],
    which bounds the derivative's: see :func:`bp_qiskit.execution.predict_bound.projector_bound`);
    a pair then survives only if both strings commute with the generator.
    """

    generators: tuple[Pauli, ...]
    differentiated: bool = False
    noise: float = 0.0
    averaged: bool = False


@dataclasses.dataclass(frozen=True)
class Clifford:
    """``cz`` or ``cx`` on ``(a, b)`` (for ``cx``: control a, target b), optionally noisy.

    Or a self-inverse one-qubit Clifford ``h``, ``x``, ``y``, ``z`` on ``a`` (``b == a``).
    """

    name: str
    a: int
    b: int
    noise: float = 0.0


@dataclasses.dataclass(frozen=True)
class Term:
    """One Pauli term c * P of the observable (P in the Hermitian form)."""

    coeff: float
    pauli: Pauli


@dataclasses.dataclass(frozen=True)
class Program:
    """A circuit in time order, its initial product state and its observable.

    ``bloch[q]`` is the initial state's (<X>, <Y>, <Z>) on qubit q. ``projector``: the
    observable is ``|0...0><0...0|`` = 2^-n sum over all Z-strings, sampled rather than listed.
    """

    num_qubits: int
    gates: tuple[Rotation | Clifford, ...]
    bloch: tuple[tuple[float, float, float], ...]
    terms: tuple[Term, ...]
    projector: bool = False


@dataclasses.dataclass(frozen=True)
class Moment:
    """An estimate with its method: ``exact`` (se 0), ``monte_carlo`` or ``bound``.

    For ``bound``, ``value`` is 0 and ``upper_bound`` is a one-sided 95% bound.
    """

    value: float
    se: float
    method: str
    paths: int = 0
    upper_bound: float | None = None


# The Pauli algebra is written once, over bit masks: Python ints (any n: the exact and
# tensor-network propagations) or uint64 arrays of many strings at once (n <= 64: path
# sampling and the four-copy estimate), as NumPy 2 combines a uint64 array with a Python int
# bitwise without casting. The scalar and vector functions below only wrap these rules.
Bits = Any  # int, or NDArray[np.uint64] elementwise


def _phase(x: Bits, z: Bits, gx: Bits, gz: Bits, count: Any) -> Bits:
    """The phase e (mod 4) of (x, z)(gx, gz) = i^e (x ^ gx, z ^ gz); ``count``: a popcount."""
    nx, nz = x ^ gx, z ^ gz
    return (count(x & z) + count(gx & gz) + 2 * count(z & gx) - count(nx & nz)) % 4


def _odd(x: Bits, z: Bits, gx: Bits, gz: Bits, count: Any) -> Bits:
    """1 where the strings anticommute (odd symplectic product), else 0."""
    return (count(x & gz) + count(z & gx)) & 1


def _clifford_rule(x: Bits, z: Bits, gate: Clifford) -> tuple[Bits, Bits, Bits]:
    """G p G for the self-inverse H, X, Y, Z, CX, CZ: (minus, x', z'), minus 1 for a sign flip.

    The tableau rules (Aaronson-Gottesman); tests/test_predict.py and
    tests/test_predict_circuit.py check both wrappers against the gates' matrices on every
    Pauli string.
    """
    name = gate.name
    if name in ONE_QUBIT_CLIFFORDS:
        q = gate.a
        xq, zq = (x >> q) & 1, (z >> q) & 1
        if name == "h":
            swap = (xq ^ zq) << q
            return xq & zq, x ^ swap, z ^ swap
        # X flips Z and Y, Z flips X and Y, Y flips X and Z.
        return (zq if name == "x" else xq if name == "z" else xq ^ zq), x, z
    a, b = gate.a, gate.b
    xa, xb = (x >> a) & 1, (x >> b) & 1
    za, zb = (z >> a) & 1, (z >> b) & 1
    if name == "cx":  # control a, target b
        return xa & zb & (xb ^ za ^ 1), x ^ (xa << b), z ^ (zb << a)
    # CZ: z_a ^= x_b, z_b ^= x_a; minus where x_a x_b (z_a ^ z_b) (from H_b CX H_b).
    return xa & xb & (za ^ zb), x, z ^ ((xb << a) | (xa << b))


def _bit_count(v: int) -> int:
    return v.bit_count()


def _times(p: Pauli, g: Pauli) -> tuple[int, Pauli]:
    """The product p g as (e mod 4, r) with p g = i^e r and r Hermitian."""
    return _phase(*p, *g, _bit_count), (p[0] ^ g[0], p[1] ^ g[1])


def _anticommutes(p: Pauli, g: Pauli) -> bool:
    return bool(_odd(*p, *g, _bit_count))


def _branch(p: Pauli, g: Pauli) -> tuple[int, Pauli]:
    """-i p g for anticommuting p, g: a sign and a Hermitian string."""
    e, r = _times(p, g)
    return (1 if e == 1 else -1), r


def _conjugate(p: Pauli, gate: Clifford) -> tuple[int, Pauli]:
    """G p G (CZ and CX are self-inverse): a sign and the image."""
    minus, x, z = _clifford_rule(p[0], p[1], gate)
    return (-1 if minus else 1), (x, z)


def _expectation(p: Pauli, bloch: Sequence[tuple[float, float, float]]) -> float:
    """<p> in the initial product state."""
    value = 1.0
    x, z = p
    for q, (ex, ey, ez) in enumerate(bloch):
        xq, zq = x >> q & 1, z >> q & 1
        if xq and zq:
            value *= ey
        elif xq:
            value *= ex
        elif zq:
            value *= ez
        if value == 0.0:
            return 0.0
    return value


def exact_second_moment(
    program: Program, *, max_pairs: int = 2_000_000, max_work: int | None = None
) -> float | None:
    """E[(dC)^2] (or E[C^2] with no differentiated gate) by full pair propagation.

    The distribution over pairs is held as arrays (four 64-bit masks and a weight per pair,
    n <= 64) and merged after every gate. Returns None when it grows beyond ``max_pairs``
    (use sampling then), or when the pairs summed over the gates so far pass ``max_work``:
    a deep circuit keeps a moderate distribution through a thousand merges.
    """
    if program.num_qubits > 64:
        raise ValueError(f"num_qubits: got {program.num_qubits}; allowed: at most 64")
    px = np.array([t.pauli[0] for t in program.terms], dtype=np.uint64)
    pz = np.array([t.pauli[1] for t in program.terms], dtype=np.uint64)
    c = np.array([t.coeff for t in program.terms])
    xa, za = np.repeat(px, len(c)), np.repeat(pz, len(c))
    xb, zb = np.tile(px, len(c)), np.tile(pz, len(c))
    w = np.outer(c, c).ravel()
    xa, za, xb, zb, w = _merge(xa, za, xb, zb, w)
    work = 0
    for gate in reversed(program.gates):
        if gate.noise:
            w = w * _depolarized(xa, za, gate) * _depolarized(xb, zb, gate)
        if isinstance(gate, Clifford):
            w = w * _conjugate_many(xa, za, gate) * _conjugate_many(xb, zb, gate)
            xa, za, xb, zb, w = _merge(xa, za, xb, zb, w)
            continue
        share = 1.0 / len(gate.generators)
        parts = []
        for gx_, gz_ in gate.generators:
            gx = np.full(len(w), gx_, dtype=np.uint64)
            gz = np.full(len(w), gz_, dtype=np.uint64)
            ca, cb = _anticommute_many(xa, za, gx, gz), _anticommute_many(xb, zb, gx, gz)
            if not gate.differentiated:
                keep = ~ca & ~cb  # both commute: unchanged
                parts.append((xa[keep], za[keep], xb[keep], zb[keep], share * w[keep]))
            if gate.averaged:
                continue  # E[cos] = E[sin] = 0 in each copy: only commuting pairs survive
            both = ca & cb  # both anticommute: half stays, half branches
            parts.append((xa[both], za[both], xb[both], zb[both], 0.5 * share * w[both]))
            sa, nxa, nza = _branch_many(xa[both], za[both], gx[both], gz[both])
            sb, nxb, nzb = _branch_many(xb[both], zb[both], gx[both], gz[both])
            parts.append((nxa, nza, nxb, nzb, 0.5 * share * sa * sb * w[both]))
        # One commuting and one anticommuting: E[cos] = E[sin] = 0, the pair averages out.
        xa, za, xb, zb, w = _merge(*(np.concatenate(col) for col in zip(*parts, strict=True)))
        work += len(w)
        if len(w) > max_pairs or (max_work is not None and work > max_work):
            return None
    return float(
        np.sum(w * _expect_many(xa, za, program.bloch) * _expect_many(xb, zb, program.bloch))
    )


def _merge(
    xa: NDArray[np.uint64],
    za: NDArray[np.uint64],
    xb: NDArray[np.uint64],
    zb: NDArray[np.uint64],
    w: NDArray[np.float64],
) -> tuple[Any, Any, Any, Any, Any]:
    """Sum the weights of equal pairs and drop the zeros (the distribution stays small)."""
    if len(w) == 0:
        return xa, za, xb, zb, w
    if int((xa | za | xb | zb).max()) < 1 << 16:
        # Up to 16 qubits the four masks pack into one 64-bit integer, whose unique is an
        # integer sort: 2-3x faster than sorting opaque 32-byte keys.
        flat = xa | (za << np.uint64(16)) | (xb << np.uint64(32)) | (zb << np.uint64(48))
    else:
        # One 32-byte opaque key per pair: a 1-D unique is much faster than unique(axis=0).
        keys = np.ascontiguousarray(np.stack([xa, za, xb, zb], axis=1))
        flat = keys.view(np.dtype((np.void, 32))).ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=w, minlength=len(first))
    nonzero = summed != 0.0
    kept = first[nonzero]
    return xa[kept], za[kept], xb[kept], zb[kept], summed[nonzero]


def exact_first_moment(program: Program) -> float:
    """E[C]: a string survives a rotation only if it commutes with it (E[cos] = 0)."""
    state: dict[Pauli, float] = defaultdict(float)
    for t in program.terms:
        state[t.pauli] += t.coeff
    for gate in reversed(program.gates):
        new: dict[Pauli, float] = defaultdict(float)
        for p, w in state.items():
            if gate.noise and (p[0] | p[1]) & gate_mask(gate):
                w *= 1.0 - gate.noise
            if isinstance(gate, Clifford):
                s, q = _conjugate(p, gate)
                new[q] += s * w
            else:
                share = sum(not _anticommutes(p, g) for g in gate.generators)
                if share and not gate.differentiated:
                    new[p] += w * share / len(gate.generators)
        state = new
    return sum(w * _expectation(p, program.bloch) for p, w in state.items())


def gate_mask(gate: Rotation | Clifford) -> int:
    """The qubits a gate acts on, as a bit mask (a random rotation: every choice's qubits)."""
    if isinstance(gate, Clifford):
        return (1 << gate.a) | (1 << gate.b)
    mask = 0
    for x, z in gate.generators:
        mask |= x | z
    return mask


def _depolarized(
    x: NDArray[np.uint64], z: NDArray[np.uint64], gate: Rotation | Clifford
) -> NDArray[np.float64]:
    """The Heisenberg factor of the gate's depolarising channel on each string.

    The channel (1 - p) rho + p I / 2^k on the gate's k qubits keeps a Pauli string that is
    the identity there and shrinks every other one by (1 - p): it runs after the gate in
    time, so before its conjugation in back-propagation.
    """
    mask = np.uint64(gate_mask(gate))
    touched = ((x | z) & mask) != 0
    return np.where(touched, 1.0 - gate.noise, 1.0)


def _random_masks(rng: np.random.Generator, m: int, n: int) -> NDArray[np.uint64]:
    """Uniformly random n-bit masks, ``m`` of them."""
    bits = rng.integers(0, 2, size=(m, n), dtype=np.uint64)
    return (bits << np.arange(n, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def _popcount(v: NDArray[np.uint64]) -> NDArray[np.int64]:
    return np.bitwise_count(v).astype(np.int64)


def _anticommute_many(
    x: NDArray[np.uint64], z: NDArray[np.uint64], gx: NDArray[np.uint64], gz: NDArray[np.uint64]
) -> NDArray[np.bool_]:
    return np.asarray(_odd(x, z, gx, gz, _popcount), dtype=bool)


def _branch_many(
    x: NDArray[np.uint64], z: NDArray[np.uint64], gx: NDArray[np.uint64], gz: NDArray[np.uint64]
) -> tuple[NDArray[np.float64], NDArray[np.uint64], NDArray[np.uint64]]:
    e = _phase(x, z, gx, gz, _popcount)
    return np.where(e == 1, 1.0, -1.0), x ^ gx, z ^ gz


def _conjugate_many(
    x: NDArray[np.uint64], z: NDArray[np.uint64], gate: Clifford
) -> NDArray[np.float64]:
    """Conjugate in place by CZ, CX, H, X, Y or Z; returns the signs."""
    minus, x[...], z[...] = _clifford_rule(x, z, gate)
    return np.where(np.asarray(minus, dtype=bool), -1.0, 1.0)


def _expect_many(
    x: NDArray[np.uint64], z: NDArray[np.uint64], bloch: Sequence[tuple[float, float, float]]
) -> NDArray[np.float64]:
    value = np.ones(len(x))
    one = np.uint64(1)
    for q, (ex, ey, ez) in enumerate(bloch):
        xq = ((x >> np.uint64(q)) & one).astype(bool)
        zq = ((z >> np.uint64(q)) & one).astype(bool)
        value *= np.where(xq & zq, ey, np.where(xq, ex, np.where(zq, ez, 1.0)))
    return value
