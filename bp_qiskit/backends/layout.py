"""One chain of physical qubits per device, so every cell of a study sits on the same qubits.

A sweep over n compares cells: if the cell at n = 4 runs on qubits 96..99 and the cell at
n = 5 on 136..140, the slope mixes qubit quality into the physics. For circuits whose
two-qubit gates form a line (the CZ ladders of every preset), :func:`device_chain` gives one
canonical path through the coupling graph, chosen once from the calibration: the cell on n
qubits uses its first n, so the chain for n + 1 extends the chain for n.

The first ``HEAD`` qubits are the path with the smallest total error (each qubit's readout
and 1-qubit errors, each edge's 2-qubit gate error), found by beam search; the chain then
grows depth first from its end, best neighbour first, backtracking out of dead ends within a
budget. It is a pure function of the target's errors:
the same device and calibration give the same chain in every process.
"""

from __future__ import annotations

import functools
from typing import Any

from qiskit import QuantumCircuit

from .timing import reported_error

__all__ = ["CHAIN_LENGTH", "device_chain", "is_line"]

# The chain covers at most this many qubits; wider line circuits use VF2 placement.
CHAIN_LENGTH = 64
_BUDGET = 200_000  # DFS expansions before giving up (then VF2 places each cell)
HEAD = 8  # the first qubits, chosen jointly by beam search
_BEAM = 400


def is_line(circuit: QuantumCircuit) -> bool:
    """Whether every two-qubit gate acts on logical neighbours (i, i + 1)."""
    for inst in circuit.data:
        if inst.operation.num_qubits == 2:
            a, b = (circuit.find_bit(q).index for q in inst.qubits)
            if abs(a - b) != 1:
                return False
        elif inst.operation.num_qubits > 2:
            return False
    return True


def _two_qubit_gate(target: Any) -> str | None:
    for name in ("cz", "ecr", "cx"):
        if name in target.operation_names:
            return name
    return None


def device_chain(backend: Any) -> tuple[int, ...] | None:
    """The device's canonical chain of physical qubits (None: no coupling map or no path)."""
    target = getattr(backend, "target", backend)
    key = (getattr(backend, "name", None) or type(backend).__name__, target.num_qubits)
    return _chain(key, target)


@functools.lru_cache(maxsize=32)
def _chain_cached(
    key: tuple[Any, ...],
    edges: frozenset[tuple[int, int]],
    scores: tuple[float, ...],
    edge_errors: tuple[tuple[tuple[int, int], float], ...],
) -> tuple[int, ...] | None:
    neighbours: dict[int, list[int]] = {q: [] for q in range(len(scores))}
    err = dict(edge_errors)
    for a, b in edges:
        neighbours[a].append(b)
    for q, ns in neighbours.items():
        ranked = sorted((err.get((q, b), 1.0) + scores[b], b) for b in ns)
        ns[:] = [b for _, b in ranked]
    head = _best_head(neighbours, err, scores)
    # The longest chain up to CHAIN_LENGTH that starts with the best head: a small device with
    # branches (FakeLagosV2's H shape) has no path through all its qubits.
    for length in range(min(CHAIN_LENGTH, len(scores)), 1, -1):
        budget = [_BUDGET]
        starts = [head] + [[q] for q in sorted(range(len(scores)), key=lambda q: (scores[q], q))]
        for start in starts:
            path = _extend(list(start), set(start), length, neighbours, budget)
            if path is not None:
                return tuple(path)
            if budget[0] <= 0:
                break
    return None


def _best_head(
    neighbours: dict[int, list[int]], err: dict[tuple[int, int], float], scores: tuple[float, ...]
) -> list[int]:
    """The best path of HEAD qubits by total error (qubits and edges), by beam search.

    The small cells of a sweep run on the chain's first qubits, so those are chosen jointly
    rather than greedily.
    """
    beam = [(scores[q], [q]) for q in range(len(scores))]
    for _ in range(min(HEAD, len(scores)) - 1):
        grown = [
            (total + err.get((path[-1], b), 1.0) + scores[b], [*path, b])
            for total, path in beam
            for b in neighbours[path[-1]]
            if b not in path
        ]
        if not grown:
            break
        grown.sort(key=lambda item: (item[0], item[1]))
        beam = grown[:_BEAM]
    return min(beam, key=lambda item: (item[0], item[1]))[1]


def _extend(
    path: list[int],
    used: set[int],
    length: int,
    neighbours: dict[int, list[int]],
    budget: list[int],
) -> list[int] | None:
    if len(path) == length:
        return path
    for nxt in neighbours[path[-1]]:
        if nxt in used:
            continue
        budget[0] -= 1
        if budget[0] <= 0:
            return None
        used.add(nxt)
        path.append(nxt)
        found = _extend(path, used, length, neighbours, budget)
        if found is not None:
            return found
        path.pop()
        used.discard(nxt)
    return None


def _chain(key: tuple[Any, ...], target: Any) -> tuple[int, ...] | None:
    gate = _two_qubit_gate(target)
    if gate is None:
        return None
    edges: set[tuple[int, int]] = set()
    edge_errors: dict[tuple[int, int], float] = {}
    for qargs in target[gate]:
        if qargs is None or len(qargs) != 2:
            continue
        a, b = qargs
        e = reported_error(target, gate, (a, b), missing=1.0)
        for x, y in ((a, b), (b, a)):
            edges.add((x, y))
            edge_errors[(x, y)] = min(e, edge_errors.get((x, y), 1.0))
    if not edges:
        return None
    one = "sx" if "sx" in target.operation_names else None
    scores = tuple(
        reported_error(target, "measure", (q,), missing=1.0)
        + (reported_error(target, one, (q,), missing=1.0) if one else 0.0)
        for q in range(target.num_qubits)
    )
    return _chain_cached(key, frozenset(edges), scores, tuple(sorted(edge_errors.items())))
