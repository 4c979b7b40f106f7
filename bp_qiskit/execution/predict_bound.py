"""A rigorous upper bound on Var[dC] for the global projector, from disjoint light cones.

Used by :mod:`bp_qiskit.execution.predict` where neither exact propagation nor the tensor
network reaches (docs/predictions.md, "The global cost beyond the network").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..core.light_cone import qubits_of, relabelled
from ..core.propagation import (
    Moment,
    Program,
    Rotation,
    Term,
    exact_first_moment,
    exact_second_moment,
    gate_mask,
)

__all__ = ["projector_bound"]

# Pairs one cone's exact propagation may hold (a 40th of the predictor's exact budget: a
# bound multiplies many cones).
_BOUND_PAIRS = 100_000


def _backward_cone(
    masks: Sequence[int], start: int, *, avoid: int = 0, limit: int = 64
) -> tuple[int, list[int]] | None:
    """The qubits (a mask) and gate indices whose gates can reach ``start``'s qubits.

    None when the cone meets ``avoid`` or grows beyond ``limit`` qubits (it is walked
    backwards through the gate masks and stops there: the block is useless then).
    """
    live = start
    kept: list[int] = []
    for i in range(len(masks) - 1, -1, -1):
        m = masks[i]
        if m & live:
            live |= m
            kept.append(i)
            if live & avoid or live.bit_count() > limit:
                return None
    kept.reverse()
    return live, kept


def projector_bound(program: Program, *, max_pairs: int = _BOUND_PAIRS) -> Moment:
    """A rigorous upper bound on Var[dC/dtheta] for the global projector, at any n.

    Why it holds. In the differentiated angle, C = a + r cos(theta - phi) with C >= 0, so
    r <= a = E_theta[C] and E_theta[(dC)^2] = r^2 / 2 <= a^2 / 2. The projector on all qubits
    lies below the projector P_S on any subset S (as operators), so a <= E_theta[C_S]. Take S
    as single qubits whose backward light cones are disjoint: C_S is then a product of
    factors with disjoint gates on a product state, independent, and

        Var[dC] <= (1/2) E[(E_theta C_D)^2] * prod_i E[C_{q_i}^2],

    each factor an exact propagation on its own cone (D: the differentiated gate's qubits;
    ``Rotation.averaged`` there). Where that propagation grows beyond ``max_pairs``, the
    factor is replaced by E[C_block] >= E[C_block^2] (as 0 <= C_block <= 1), an exact first
    moment. Dropping a block keeps the inequality, so blocks whose cone is wider than 64
    qubits are left out. Method ``bound``, or ``none`` when the differentiated gate's own
    cone is wider than that.
    """
    masks = [gate_mask(g) for g in program.gates]
    k = next(i for i, g in enumerate(program.gates) if isinstance(g, Rotation) and g.differentiated)
    gate_k = program.gates[k]
    assert isinstance(gate_k, Rotation)
    averaged = dataclasses.replace(gate_k, differentiated=False, averaged=True)
    cache: dict[Program, float] = {}

    def factor(start: int, qubits: int, gates: list[int]) -> float:
        """E[C_block^2] on the block's own cone (the derivative's gate averaged)."""
        sub = [averaged if i == k else program.gates[i] for i in gates]
        on = [q for q in range(start.bit_length()) if start >> q & 1]
        terms = [Term(2.0 ** -len(on), (0, z)) for z in _z_strings(on)]
        key = relabelled(program, sub, terms, qubits_of(qubits))
        if key not in cache:
            exact = exact_second_moment(key, max_pairs=max_pairs)
            # 0 <= C_block <= 1, so E[C_block^2] <= E[C_block]: a first moment, always cheap.
            cache[key] = exact if exact is not None else exact_first_moment(key)
        return cache[key]

    first = _backward_cone(masks, masks[k])
    if first is None:
        return Moment(0.0, 0.0, "none")
    used, gates = first
    bound = 0.5 * factor(masks[k], used, gates)
    q = 0
    # Below 1e-300 the bound would underflow to a bare 0: the blocks not yet multiplied in
    # are left out (which keeps the inequality).
    while q < program.num_qubits and bound > 1e-300:
        start_mask = 1 << q
        if start_mask & used:
            q += 1
            continue
        cone = _backward_cone(masks, start_mask, avoid=used)
        if cone is None:
            q += 1
            continue
        used |= cone[0]
        bound = max(bound * factor(start_mask, *cone), 1e-300)
        # The next block most likely starts a cone's width further on.
        q = cone[0].bit_length() + (q - (cone[0] & -cone[0]).bit_length() + 1)
    return Moment(0.0, 0.0, "bound", paths=0, upper_bound=bound)


def _z_strings(qubits: Sequence[int]) -> list[int]:
    """Every Z-string on the given qubits, as z masks (2^len of them)."""
    out = [0]
    for q in qubits:
        out += [z | 1 << q for z in out]
    return out
