"""The offline model of QPU time: what one PUB costs (:func:`pub_price`), and its parts.

IBM's rule of thumb: about 2 s per job plus, per execution, rep_delay and the circuit's
duration. A PUB runs its shots once per measurement basis its observables need. The runtime
backend packs PUBs into jobs by :func:`pub_price`, and the cost gate, the dry run and
``gradient_variance`` price with the same function.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.quantum_info import SparseObservable

from ..core.observables import is_diagonal, to_pauli_op

__all__ = [
    "PubPrice",
    "measurement_bases",
    "pub_price",
    "reported_error",
    "seconds_per_execution",
]

_DEFAULT_REP_DELAY_S = 2.5e-4


def seconds_per_execution(target: Any, isa_circuit: Any = None) -> float:
    """rep_delay plus the ISA circuit's duration on the device (where the target has both)."""
    rep = getattr(target, "default_rep_delay", None) or _DEFAULT_REP_DELAY_S
    duration = 0.0
    if isa_circuit is not None and getattr(target, "target", None) is not None:
        try:
            bound = isa_circuit.assign_parameters(np.zeros(isa_circuit.num_parameters))
            duration = float(bound.estimate_duration(target.target, unit="s"))
        except Exception:  # a target without durations: rep_delay alone
            duration = 0.0
    return float(rep) + duration


@dataclasses.dataclass(frozen=True)
class PubPrice:
    """One PUB by the offline model: its executions and their QPU seconds (no job overhead)."""

    executions: int
    seconds: float


def pub_price(
    target: Any,
    isa_circuit: Any,
    observables: Sequence[SparseObservable],
    shots: int,
    *,
    overhead: float = 1.0,
) -> PubPrice:
    """The offline model of one PUB, the only place it is written.

    ``shots`` over every binding, measured once per basis the observables need, times the
    mitigation's ``overhead`` (executions per requested shot), each execution taking
    :func:`seconds_per_execution` on the ISA circuit. The runtime backend packs PUBs into jobs
    by it, and the cost gate, the dry run and ``gradient_variance`` price with it, so what is
    gated is what is packed.
    """
    executions = math.ceil(shots * measurement_bases(observables) * overhead)
    return PubPrice(executions, executions * seconds_per_execution(target, isa_circuit))


def measurement_bases(observables: Sequence[SparseObservable]) -> int:
    """Bases the estimator measures for a PUB over ``observables`` (qubit-wise commuting).

    Every shot is measured in one basis, so a PUB whose observables need b bases runs b times
    the executions of one. Diagonal observables (the global and local projectors, Z strings)
    share the computational basis: b = 1, so a second diagonal cost costs no QPU time.
    """
    if all(is_diagonal(obs) for obs in observables):
        return 1
    from qiskit.quantum_info import SparsePauliOp

    union = SparsePauliOp.sum([to_pauli_op(obs) for obs in observables]).simplify()
    return max(1, len(union.group_commuting(qubit_wise=True)))


def reported_error(
    target: Any, name: str, qargs: tuple[int, ...], *, missing: float = 0.0
) -> float:
    """The error the target reports for a gate on ``qargs``; ``missing`` where it has none."""
    try:
        props = target[name][qargs]
    except KeyError:
        return missing
    value = getattr(props, "error", None) if props is not None else None
    return float(value) if value is not None else 0.0
