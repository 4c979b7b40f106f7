"""Checks before compute: what can never succeed is refused before a study is recorded.

Each check names the cell and the limit, and raises :class:`~bp_qiskit.errors.SpecError`
(exit code 2 on the command line): an error that would recur on every attempt is never
retried, and the message never suggests ``resume``.

- A ``circuit.factory`` must import and build a circuit for every cell.
- A device (``aer:<device>``, ``fake:<device>``) must have at least n qubits.
- A simulator's memory: a statevector of n qubits takes 16 * 2^n bytes, a density matrix
  16 * 4^n. Aer refuses to allocate more than ``max_memory_mb``, by default half the
  machine's memory, so that is the limit.
- Qiskit's reference estimators (``statevector``, ``aer_estimator``) need the global
  projector as 2^n Pauli terms: above :data:`MAX_PAULI_TERMS` they would take hours.
"""

from __future__ import annotations

import os

from ..backends import parse_backend_name
from ..backends.devices import fake_backend
from ..errors import SpecError
from ..spec import StudySpec
from .families import family_for, gradient_indices
from .jobs import plan_cells

__all__ = ["MAX_PAULI_TERMS", "check_resources", "memory_limit_bytes"]

MAX_PAULI_TERMS = 2**14
_GIB = 2**30


def memory_limit_bytes() -> int:
    """What Aer allows itself by default: half of the machine's physical memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return 2**62
    return int(total // 2)


def check_resources(spec: StudySpec, *, memory_bytes: int | None = None) -> None:
    """Raise SpecError for the first cell the backend cannot run."""
    if spec.circuit.factory:
        # The user's factory is called for every cell now (and cached): an import error, a
        # wrong return or an out-of-range gradient.parameter fails here, not in a job.
        for planned in plan_cells(spec):
            gradient_indices(spec, family_for(spec, planned))
    kind, device = parse_backend_name(spec.backend.name)
    limit = memory_limit_bytes() if memory_bytes is None else memory_bytes
    size = None
    if kind in ("aer", "fake") and device:
        size = int(fake_backend(device).num_qubits)
    for n in spec.circuit.qubits:
        depths = ", ".join(str(k) for k in spec.circuit.layer_counts(n))
        cell = f"n = {n}, L = {depths}"
        if size is not None and n > size:
            raise SpecError(
                f"circuit.qubits: the cell {cell} needs {n} qubits; {spec.backend.name} has {size}"
            )
        if kind == "ibm":
            continue  # the QPU's size is checked against the live backend when it is built
        if kind == "aer" and device:
            # Density matrix over the circuit's qubits (Aer truncates the idle ones).
            need, what = 16 * 4**n, "a density matrix"
        else:
            need, what = 16 * 2**n, "a statevector"
        if need > limit:
            raise SpecError(
                f"circuit.qubits: the cell {cell} needs {need / _GIB:.1f} GiB for {what} on "
                f"{spec.backend.name}; the limit is {limit / _GIB:.1f} GiB (half this machine's "
                "memory, Aer's default)"
            )
        if (
            spec.backend.name in ("statevector", "aer_estimator")
            and spec.observable.kind == "global"
            and 2**n > MAX_PAULI_TERMS
        ):
            raise SpecError(
                f"circuit.qubits: the cell {cell} needs the global projector as 2^{n} Pauli "
                f"terms on {spec.backend.name} (at most {MAX_PAULI_TERMS}); use backend 'aer', "
                "which measures projectors natively"
            )
