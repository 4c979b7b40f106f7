"""The averaged two-copy chain as a matrix-product state: exact moments at any n.

Braccia, Bermejo, Cincio and Cerezo (Quantum Mach. Intell. 2024, arXiv 2403.01706) compute
second moments of local random circuits with tensor networks. The idea fits the pair
propagation of :mod:`bp_qiskit.core.propagation`: averaged over uniform angles, one gate maps
the coefficients of Pauli pairs (P_a, P_b) linearly, so

- every qubit carries a 16-dimensional pair index (each copy's letter I, X, Z or Y);
- each gate is a 16 x 16 (one qubit) or 256 x 256 (two neighbouring qubits) matrix, built here
  from the same rules the pair propagation applies (:func:`gate_matrix`);
- the observable's pair state is a matrix-product state, each copy's MPS side by side: the
  global projector ``|0..0><0..0|`` is a product, ``(I + Z)/2`` on every qubit (bond
  dimension 1); the local cost, a sum of one-qubit terms, has bond 2 per copy;
- back-propagating through the circuit is applying those matrices to the state, with an SVD
  after every two-qubit gate that keeps singular values above a relative cutoff, up to a
  largest bond dimension; the weight it discards is reported;
- the moment is the contraction with the initial product state.

Pure numpy: the contractions are three einsums and one SVD (or, for large diagonal ones, one
Gram eigendecomposition) per two-qubit gate, on bond dimensions of tens. quimb's MPS given
the same chain is 4 to 6 times slower from n = 10 and faster only at n = 8
(``benchmarks/bench_tn_vs_quimb.py``, quoted in docs/predictions.md), so numpy it is.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .propagation import (
    Clifford,
    Pauli,
    Program,
    Rotation,
    _anticommutes,
    _branch,
    _conjugate,
    gate_mask,
)

__all__ = [
    "NetworkMoment",
    "diagonal",
    "gate_matrix",
    "network_first_moment",
    "network_second_moment",
    "supported",
]

# Letter index of one qubit's Pauli from its (x, z) bits: I = 0, X = 1, Z = 2, Y = 3.
_LETTERS = ((0, 0), (1, 0), (0, 1), (1, 1))


@dataclasses.dataclass(frozen=True)
class NetworkMoment:
    """A second moment from the network.

    Attributes:
        value: E[(dC)^2] (or E[C^2]); 0.0 where it underflows a float (n = 1000).
        log10: log10 of its magnitude, which does not underflow (None for 0).
        truncation: The largest relative weight (sum of discarded squared singular values
            over the total) one SVD dropped; 0 when nothing was cut.
        max_bond: The largest bond dimension the state needed.
    """

    value: float
    log10: float | None
    truncation: float
    max_bond: int


def _qubits(gate: Rotation | Clifford) -> list[int]:
    mask = gate_mask(gate)
    return [q for q in range(mask.bit_length()) if mask >> q & 1]


def supported(program: Program) -> bool:
    """Every gate acts on one qubit or on two neighbouring ones (a chain)."""
    for gate in program.gates:
        qs = _qubits(gate)
        if len(qs) > 2 or (len(qs) == 2 and qs[1] - qs[0] != 1):
            return False
    return True


def _local(p: Pauli, q: int) -> int:
    x, z = p[0] >> q & 1, p[1] >> q & 1
    return _LETTERS.index((x, z))


def _pauli_of(letters: Sequence[int]) -> Pauli:
    x = z = 0
    for q, i in enumerate(letters):
        lx, lz = _LETTERS[i]
        x |= lx << q
        z |= lz << q
    return (x, z)


def gate_matrix(gate: Rotation | Clifford, first: int) -> NDArray[np.float64]:
    """The gate's map on the pair coefficients of its k qubits (first, first + 1, ...).

    Row index: the output pair, column: the input pair; a pair's index is 16-ary over the
    qubits (qubit ``first`` most significant), each digit ``4 * letter_a + letter_b``. The
    rules are those of :func:`~bp_qiskit.core.propagation.exact_second_moment`, applied to one
    basis pair at a time.
    """
    return _gate_matrix(_relabel(gate, first), len(_qubits(gate)))


def _relabel(gate: Rotation | Clifford, first: int) -> Rotation | Clifford:
    if isinstance(gate, Clifford):
        return dataclasses.replace(gate, a=gate.a - first, b=gate.b - first)
    return dataclasses.replace(
        gate, generators=tuple((x >> first, z >> first) for x, z in gate.generators)
    )


@functools.lru_cache(maxsize=4096)
def _gate_matrix(gate: Rotation | Clifford, k: int) -> NDArray[np.float64]:
    dim = 16**k
    out = np.zeros((dim, dim))
    support = (1 << k) - 1
    for index, digits in enumerate(itertools.product(range(16), repeat=k)):
        pa = _pauli_of([d // 4 for d in digits])
        pb = _pauli_of([d % 4 for d in digits])
        w = 1.0
        if gate.noise:
            for p in (pa, pb):
                if (p[0] | p[1]) & support:
                    w *= 1.0 - gate.noise
        for (qa, qb), c in _transitions(gate, pa, pb):
            out[_index(qa, qb, k), index] += c * w
    return out


def _index(pa: Pauli, pb: Pauli, k: int) -> int:
    index = 0
    for q in range(k):
        index = index * 16 + 4 * _local(pa, q) + _local(pb, q)
    return index


def _transitions(
    gate: Rotation | Clifford, pa: Pauli, pb: Pauli
) -> list[tuple[tuple[Pauli, Pauli], float]]:
    if isinstance(gate, Clifford):
        sa, qa = _conjugate(pa, gate)
        sb, qb = _conjugate(pb, gate)
        return [((qa, qb), float(sa * sb))]
    share = 1.0 / len(gate.generators)
    out: list[tuple[tuple[Pauli, Pauli], float]] = []
    for g in gate.generators:
        ca, cb = _anticommutes(pa, g), _anticommutes(pb, g)
        if not gate.differentiated and not ca and not cb:
            out.append(((pa, pb), share))
        if gate.averaged or not (ca and cb):
            continue
        out.append(((pa, pb), 0.5 * share))
        sa, ra = _branch(pa, g)
        sb, rb = _branch(pb, g)
        out.append(((ra, rb), 0.5 * share * sa * sb))
    return out


def _copy_mps(program: Program) -> list[NDArray[np.float64]]:
    """The observable of one copy as an MPS over the letters I, X, Z, Y of each qubit.

    The projector is a product, ``(I + Z) / 2`` on every qubit; a sum of Pauli terms is a sum
    of products, compressed by SVD (a sum of one-qubit terms, the local cost, needs bond 2).
    """
    n = program.num_qubits
    if program.projector:
        v = np.array([0.5, 0.0, 0.5, 0.0])
        return [v.reshape(1, 4, 1).copy() for _ in range(n)]
    products = []
    for t in program.terms:
        sites = []
        for q in range(n):
            v = np.zeros(4)
            v[_local(t.pauli, q)] = 1.0
            sites.append(v)
        sites[0] = sites[0] * t.coeff
        products.append(sites)
    return _compress(_sum_of_products(products, n, 4))


def _pair_mps(program: Program) -> list[NDArray[np.float64]]:
    """The two copies' MPS, site by site: the pair index is 4 * letter_a + letter_b."""
    out = []
    for t in _copy_mps(program):
        dl, _, dr = t.shape
        out.append(np.einsum("aib,cjd->acijbd", t, t).reshape(dl * dl, 16, dr * dr))
    return out


def _compress(mps: list[NDArray[np.float64]], cutoff: float = 1e-14) -> list[NDArray[np.float64]]:
    """A left-to-right SVD sweep that drops singular values below ``cutoff`` (exact ones)."""
    out = list(mps)
    for q in range(len(out) - 1):
        dl, d, dr = out[q].shape
        u, s, vt = np.linalg.svd(out[q].reshape(dl * d, dr), full_matrices=False)
        keep = max(1, int(np.sum(s > cutoff * (s[0] if s.size else 1.0))))
        out[q] = u[:, :keep].reshape(dl, d, keep)
        out[q + 1] = np.einsum("ab,bjc->ajc", s[:keep, None] * vt[:keep], out[q + 1])
    return out


def diagonal(program: Program) -> bool:
    """The observable is one Pauli string, so the chain stays on pairs (P, P).

    Every gate of a :class:`Program` maps a pair (P, P) to pairs (Q, Q): a Clifford
    conjugates both copies alike, an averaged rotation's cross terms (cos theta sin theta)
    average to zero, and depolarising noise is diagonal. A one-string observable starts
    there, so each qubit needs the 4 letters of (P, P) instead of all 16 pairs: sites 4 times
    smaller, SVDs of 4 chi x 4 chi instead of 16 chi x 16 chi.
    """
    return not program.projector and len(program.terms) == 1


# The pair indices 4 * a + b with a == b: (I, I), (X, X), (Z, Z), (Y, Y).
_DIAGONAL = (0, 5, 10, 15)


@functools.lru_cache(maxsize=4096)
def _diagonal_matrix(gate: Rotation | Clifford, k: int) -> NDArray[np.float64]:
    sub = [
        sum(d * 16 ** (k - 1 - i) for i, d in enumerate(digits))
        for digits in itertools.product(_DIAGONAL, repeat=k)
    ]
    return np.ascontiguousarray(_gate_matrix(gate, k)[np.ix_(sub, sub)])


def network_second_moment(
    program: Program,
    *,
    max_bond: int = 256,
    cutoff: float = 1e-12,
    tolerance: float | None = None,
    reduce: bool = True,
) -> NetworkMoment | None:
    """E[(dC)^2] (or E[C^2]) by matrix-product-state propagation; None if not a chain.

    Each SVD keeps singular values above ``cutoff`` times the largest, at most ``max_bond``;
    ``program.projector`` is the global projector as a product (no terms listed). With
    ``tolerance``, the propagation stops (None) as soon as one SVD discards more than that
    share of the weight: a deep circuit then costs a few gates, not thousands of SVDs.
    A one-string observable runs on the diagonal pairs only (:func:`diagonal`), unless
    ``reduce`` is False (all 16 pairs: the same value, for checking the reduction).
    """
    if not supported(program):
        return None
    reduced = reduce and diagonal(program)
    d = 4 if reduced else 16
    mps = _pair_mps(program)
    if reduced:
        mps = [t[:, list(_DIAGONAL), :] for t in mps]
    truncation = 0.0
    largest = max(t.shape[2] for t in mps)
    for gate in reversed(program.gates):
        qs = _qubits(gate)
        relabelled = _relabel(gate, qs[0])
        matrix = (
            _diagonal_matrix(relabelled, len(qs)) if reduced else _gate_matrix(relabelled, len(qs))
        )
        if len(qs) == 1:
            mps[qs[0]] = np.einsum("ij,ajb->aib", matrix, mps[qs[0]])
            continue
        q = qs[0]
        left, right = mps[q], mps[q + 1]
        dl, dr = left.shape[0], right.shape[2]
        theta = np.einsum("aib,bjc->aijc", left, right).reshape(dl, d * d, dr)
        theta = np.einsum("ij,ajc->aic", matrix, theta).reshape(dl * d, d * dr)
        split = _gram_split if reduced and min(theta.shape) >= _GRAM_SIZE else _svd_split
        parts = split(theta, max_bond, cutoff)
        if parts is None:
            return NetworkMoment(0.0, None, truncation, largest)
        left_factor, right_factor, cut = parts
        truncation = max(truncation, cut)
        if tolerance is not None and truncation > tolerance:
            return None
        keep = left_factor.shape[1]
        mps[q] = left_factor.reshape(dl, d, keep)
        mps[q + 1] = right_factor.reshape(keep, d, dr)
        largest = max(largest, keep)
    return _contract(program, mps, reduced, truncation, largest)


def _contract(
    program: Program, mps: list[NDArray[np.float64]], reduced: bool, truncation: float, largest: int
) -> NetworkMoment:
    """The propagated chain contracted with the initial product state.

    Rescaled at every site: the global cost's moment at n = 1000 is about 10^-450, below the
    smallest float, so the value is carried as its log10 too.
    """
    vector, log10 = np.ones(1), 0.0
    for q, tensor in enumerate(mps):
        start = _initial(program.bloch[q])
        if reduced:
            start = start[list(_DIAGONAL)]
        vector = vector @ np.einsum("aib,i->ab", tensor, start)
        scale = float(np.max(np.abs(vector)))
        if scale == 0.0:
            return NetworkMoment(0.0, None, truncation, largest)
        vector, log10 = vector / scale, log10 + math.log10(scale)
    mantissa = float(vector[0])
    if mantissa == 0.0:
        return NetworkMoment(0.0, None, truncation, largest)
    log10 += math.log10(abs(mantissa))
    value = math.copysign(10.0**log10, mantissa) if log10 > -300 else 0.0
    return NetworkMoment(value, log10, truncation, largest)


def network_first_moment(program: Program, *, max_bond: int = 256) -> float | None:
    """E[C] by the same chain on one copy (4 letters per qubit); None if not a chain or cut.

    A string survives an averaged rotation only if it commutes with it (E[cos] = E[sin] = 0),
    as in :func:`~bp_qiskit.core.propagation.exact_first_moment`; with the global projector
    as a product this reaches any n. Exact or nothing: a cut returns None.
    """
    if not supported(program) or any(
        isinstance(g, Rotation) and g.differentiated for g in program.gates
    ):
        return None
    mps = _copy_mps(program)
    for gate in reversed(program.gates):
        qs = _qubits(gate)
        matrix = _copy_matrix(_relabel(gate, qs[0]), len(qs))
        if len(qs) == 1:
            mps[qs[0]] = np.einsum("ij,ajb->aib", matrix, mps[qs[0]])
            continue
        q = qs[0]
        dl, dr = mps[q].shape[0], mps[q + 1].shape[2]
        theta = np.einsum("aib,bjc->aijc", mps[q], mps[q + 1]).reshape(dl, 16, dr)
        theta = np.einsum("ij,ajc->aic", matrix, theta).reshape(dl * 4, 4 * dr)
        parts = _svd_split(theta, max_bond, 1e-14)
        if parts is None:
            return 0.0
        left, right, cut = parts
        if cut > 1e-20:
            return None
        mps[q], mps[q + 1] = left.reshape(dl, 4, -1), right.reshape(-1, 4, dr)
    vector = np.ones(1)
    for q, tensor in enumerate(mps):
        ex, ey, ez = program.bloch[q]
        vector = vector @ np.einsum("aib,i->ab", tensor, np.array([1.0, ex, ez, ey]))
    return float(vector[0])


@functools.lru_cache(maxsize=4096)
def _copy_matrix(gate: Rotation | Clifford, k: int) -> NDArray[np.float64]:
    """The gate's averaged map on one copy's strings of its k qubits (4-ary, like pairs)."""
    out = np.zeros((4**k, 4**k))
    support = (1 << k) - 1
    for index, digits in enumerate(itertools.product(range(4), repeat=k)):
        p = _pauli_of(digits)
        w = 1.0 - gate.noise if gate.noise and (p[0] | p[1]) & support else 1.0
        if isinstance(gate, Clifford):
            sign, image = _conjugate(p, gate)
            out[_copy_index(image, k), index] += sign * w
            continue
        share = sum(not _anticommutes(p, g) for g in gate.generators) / len(gate.generators)
        out[index, index] += share * w
    return out


def _copy_index(p: Pauli, k: int) -> int:
    index = 0
    for q in range(k):
        index = index * 4 + _local(p, q)
    return index


# From this matrix size on, a diagonal network splits by the eigenvectors of the smaller Gram
# matrix instead of an SVD: 2.7 times faster at 256 x 256 (np.linalg.eigh against
# np.linalg.svd on this machine). Its singular values below sqrt(eps) of the largest are
# noise, so it keeps those above _GRAM_FLOOR only: a cut of at most 1e-14 of the weight, far
# below what these deep chains cut anyway. The 16-pair network (global costs, whose values
# reach 1e-477) keeps the SVD.
_GRAM_SIZE = 128
_GRAM_FLOOR = 1e-14

Split = tuple[NDArray[np.float64], NDArray[np.float64], float]


def _svd_split(theta: NDArray[np.float64], max_bond: int, cutoff: float) -> Split | None:
    """Theta ~ left @ right at most ``max_bond`` wide, and the share of the weight cut."""
    u, s, vt = np.linalg.svd(theta, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        return None
    keep = int(min(max_bond, max(1, np.sum(s > cutoff * s[0]))))
    r = s / s[0]  # relative, so that tiny states (E[C] of a deep global cost) do not underflow
    cut = float(np.sum(r[keep:] ** 2)) / float(np.sum(r**2))
    root = np.sqrt(s[:keep])  # the norm shared by both sides: no site under- or overflows
    return u[:, :keep] * root, root[:, None] * vt[:keep], cut


def _gram_split(theta: NDArray[np.float64], max_bond: int, cutoff: float) -> Split | None:
    """:func:`_svd_split` by the eigenvectors of theta theta^T (or theta^T theta)."""
    wide = theta.shape[0] <= theta.shape[1]
    gram = theta @ theta.T if wide else theta.T @ theta
    w, v = np.linalg.eigh(gram)
    w, v = w[::-1], v[:, ::-1]
    if w.size == 0 or w[0] <= 0.0:
        return None
    floor = max(cutoff**2, _GRAM_FLOOR) * w[0]
    keep = int(min(max_bond, max(1, np.sum(w > floor))))
    cut = float(np.sum(np.clip(w[keep:], 0.0, None))) / float(np.sum(np.clip(w, 0.0, None)))
    basis = v[:, :keep]
    root = np.sqrt(w[:keep]) ** 0.5  # sqrt of the singular values
    if wide:  # theta = basis (basis^T theta)
        return basis * root, (basis.T @ theta) / root[:, None], cut
    return (theta @ basis) / root, root[:, None] * basis.T, cut


def _initial(bloch: tuple[float, float, float]) -> NDArray[np.float64]:
    """One qubit's initial state in pair space: <P_a> <P_b>."""
    ex, ey, ez = bloch
    e = np.array([1.0, ex, ez, ey])  # I, X, Z, Y
    return np.outer(e, e).ravel()


def _sum_of_products(
    products: list[list[NDArray[np.float64]]], n: int, d: int
) -> list[NDArray[np.float64]]:
    """An MPS for a sum of product states (bond dimension: the number of products)."""
    m = len(products)
    if n == 1:
        return [np.sum([p[0] for p in products], axis=0).reshape(1, d, 1)]
    if m == 1:
        return [v.reshape(1, d, 1) for v in products[0]]
    mps = []
    for q in range(n):
        if q == 0:
            t = np.stack([p[0] for p in products], axis=1).reshape(1, d, m)
        elif q == n - 1:
            t = np.stack([p[q] for p in products], axis=0).reshape(m, d, 1)
        else:
            t = np.zeros((m, d, m))
            for j, p in enumerate(products):
                t[j, :, j] = p[q]
        mps.append(t)
    return mps
