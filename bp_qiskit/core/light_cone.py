"""Light cones of a propagation program: only what can reach the observable is propagated.

Terms of the cost outside the forward light cone of the differentiated gate have zero
derivative; gates outside the backward light cone of the remaining terms act trivially on
every propagated string. Both cuts are exact, and they make a local cost on a shallow
circuit a small program at any n.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .propagation import Clifford, Program, Rotation, Term, gate_mask

__all__ = ["brick_order", "qubits_of", "reduce_to_light_cone", "relabelled", "support"]


def qubits_of(mask: int) -> set[int]:
    """The qubits set in a bit mask."""
    return {q for q in range(mask.bit_length()) if mask >> q & 1}


def support(gate: Rotation | Clifford) -> set[int]:
    """The qubits a gate acts on."""
    return qubits_of(gate_mask(gate))


def _term_support(t: Term) -> set[int]:
    return qubits_of(t.pauli[0] | t.pauli[1])


def reduce_to_light_cone(program: Program) -> Program:
    """Drop the terms with zero derivative and the gates that cannot matter; relabel qubits.

    Exact: a term outside the forward light cone of the differentiated gate commutes with it
    after back-propagation (zero derivative), and a gate outside the backward light cone of
    the remaining terms acts trivially on every propagated string. Without a differentiated
    gate (the cost's own moments) every term is kept and only the gates are cut.
    """
    start = next(
        (i for i, g in enumerate(program.gates) if isinstance(g, Rotation) and g.differentiated),
        None,
    )
    if start is None:
        terms = program.terms
    else:
        cone = support(program.gates[start])
        for gate in program.gates[start + 1 :]:
            s = support(gate)
            if len(s) > 1 and s & cone:
                cone |= s
        terms = tuple(t for t in program.terms if _term_support(t) & cone)
    live: set[int] = set()
    for t in terms:
        live |= _term_support(t)
    kept: list[Rotation | Clifford] = []
    for gate in reversed(program.gates):
        s = support(gate)
        if s & live:
            kept.append(gate)
            live |= s
    kept.reverse()
    return relabelled(program, kept, terms, live)


def relabelled(
    program: Program,
    gates: Sequence[Rotation | Clifford],
    terms: Sequence[Term],
    qubits: set[int],
) -> Program:
    """The sub-program on ``qubits`` (numbered in order) with the given gates and terms."""
    order = sorted(qubits)
    where = {q: i for i, q in enumerate(order)}

    def remap(mask: int) -> int:
        return sum(1 << where[q] for q in range(mask.bit_length()) if mask >> q & 1)

    out: list[Rotation | Clifford] = []
    for gate in gates:
        if isinstance(gate, Clifford):
            out.append(Clifford(gate.name, where[gate.a], where[gate.b], gate.noise))
        else:
            gens = tuple((remap(x), remap(z)) for x, z in gate.generators)
            out.append(dataclasses.replace(gate, generators=gens))
    return Program(
        len(order),
        tuple(out),
        tuple(program.bloch[q] for q in order),
        tuple(Term(t.coeff, (remap(t.pauli[0]), remap(t.pauli[1]))) for t in terms),
    )


def _pair_kind(gate: Rotation | Clifford) -> object | None:
    """The kind a gate may be reordered among, or None.

    A noiseless CZ, or a noiseless XX-, YY- or ZZ-rotation, on a neighbouring pair (q, q+1).
    """
    if gate.noise:
        return None
    if isinstance(gate, Clifford):
        return "cz" if gate.name == "cz" and gate.b - gate.a in (1, -1) else None
    if len(gate.generators) != 1 or gate.averaged:
        return None
    x, z = gate.generators[0]
    qubits = sorted(qubits_of(x | z))
    if len(qubits) != 2 or qubits[1] - qubits[0] != 1:
        return None
    a, b = qubits
    letters = tuple((x >> q & 1, z >> q & 1) for q in (a, b))
    return letters if letters[0] == letters[1] else None  # XX, YY or ZZ


def brick_order(gates: Sequence[Rotation | Clifford]) -> tuple[Rotation | Clifford, ...]:
    """Each run of noiseless gates of one kind on neighbouring pairs, as even then odd pairs.

    CZs commute with each other, and so do XX-type rotations with the same letters, so a
    run of them in ladder order (0, 1), (1, 2), ... is the same unitary as the even pairs
    followed by the odd ones; a light cone then grows by one qubit a side per half run
    instead of running down the whole ladder. A noisy gate keeps its place: a channel
    after one gate does not commute with the next.
    """
    out: list[Rotation | Clifford] = []
    i = 0
    while i < len(gates):
        kind = _pair_kind(gates[i])
        j = i + 1
        while kind is not None and j < len(gates) and _pair_kind(gates[j]) == kind:
            j += 1
        run = list(gates[i:j])
        if len(run) > 1:
            low = [min(support(g)) for g in run]
            run = [g for g, q in zip(run, low, strict=True) if q % 2 == 0] + [
                g for g, q in zip(run, low, strict=True) if q % 2 == 1
            ]
        out += run
        i = j
    return tuple(out)
