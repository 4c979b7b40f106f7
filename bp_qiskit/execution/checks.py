"""Checks before compute: what can never succeed is refused before a study is recorded.

Each check names the cell and the limit, and raises :class:`~bp_qiskit.errors.SpecError`
(exit code 2 on the command line): an error that would recur on every attempt is never
retried, and the message never suggests ``resume``.

- A ``circuit.factory`` must import and build a circuit for every cell.
- A device (``aer:<device>``, ``fake:<device>``) must have at least n qubits.
- A simulator's memory: a statevector of n qubits takes 16 * 2^n bytes, a density matrix
  16 * 4^n, a matrix-product state what its bond dimensions allow (:func:`mps_bytes`, a
  bound from the circuit's two-qubit gates). Aer refuses to allocate more than
  ``max_memory_mb``, by default half the machine's memory, so that is the limit.
- ``backend.options.device = "GPU"`` needs an Aer built for GPUs.
- Qiskit's reference estimators (``statevector``, ``aer_estimator``) need the global
  projector as 2^n Pauli terms (counted on the observable): above :data:`MAX_PAULI_TERMS`
  they would take hours.
"""

from __future__ import annotations

import os

from qiskit import QuantumCircuit

from ..backends import capabilities_of, parse_backend_name
from ..backends.devices import fake_backend
from ..backends.local import check_aer_device
from ..backends.runtime import check_local_mode_width
from ..core.observables import make_observable, pauli_term_count
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .families import family_for, gradient_indices
from .jobs import plan_cells

__all__ = [
    "MAX_PAULI_TERMS",
    "check_resources",
    "memory_limit_bytes",
    "mps_bond_bits",
    "mps_bytes",
]

MAX_PAULI_TERMS = 2**14
_GIB = 2**30


# Operator Schmidt rank of the two-qubit gates across any cut: controlled gates and
# exp(-i theta P x P) have rank 2 (one bond bit); anything else is taken as rank 4 (two bits).
_RANK_TWO = frozenset({"cz", "cx", "cy", "ch", "crx", "cry", "crz", "cp", "rzz", "rxx", "ryy"})


def mps_bond_bits(circuit: QuantumCircuit) -> list[int]:
    """An upper bound on log2 of the bond dimension at each of the n - 1 cuts of a chain.

    Each two-qubit gate on qubits a < b can multiply the bond dimension at every cut between
    them by at most its operator Schmidt rank; no bond exceeds the smaller side's dimension,
    2^min(k, n - k). Aer's MPS keeps the qubits in this order and swaps for distant gates,
    which leaves the bound as it is.
    """
    n = circuit.num_qubits
    bits = [0] * max(0, n - 1)
    for inst in circuit.data:
        if len(inst.qubits) != 2:
            continue
        a, b = sorted(circuit.find_bit(q).index for q in inst.qubits)
        step = 1 if inst.operation.name in _RANK_TWO else 2
        for cut in range(a, b):
            bits[cut] += step
    return [min(bits[k], k + 1, n - k - 1) for k in range(len(bits))]


def mps_bytes(circuit: QuantumCircuit) -> tuple[int, list[int]]:
    """Bytes of the largest matrix-product state the circuit can reach, and the bond bits.

    Site i holds 2 x chi_left x chi_right complex amplitudes (16 bytes each).
    """
    bits = [0, *mps_bond_bits(circuit), 0]
    total = sum(32 << (bits[i] + bits[i + 1]) for i in range(circuit.num_qubits))
    return total, bits


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
    if kind == "aer" and spec.backend.options.get("device", "CPU") != "CPU":
        check_aer_device(spec.backend.options["device"])
    limit = memory_limit_bytes() if memory_bytes is None else memory_bytes
    size = None
    if kind in ("aer", "fake") and device:
        size = int(fake_backend(device).num_qubits)
        if kind == "fake":
            check_local_mode_width(spec.backend.name, device, size)
    for n in spec.circuit.qubits:
        depths = ", ".join(str(k) for k in spec.circuit.layer_counts(n))
        cell = f"n = {n}, L = {depths}"
        if size is not None and n > size:
            raise SpecError(
                f"circuit.qubits: the cell {cell} needs {n} qubits; {spec.backend.name} has {size}"
            )
        if kind == "ibm":
            continue  # the QPU's size is checked against the live backend when it is built
        if spec.backend.options.get("method", "statevector") == "matrix_product_state":
            _check_mps_memory(spec, n, limit)
            continue
        _check_dense_memory(spec, n, cell, limit, kind, device)
        _check_pauli_terms(spec, n, cell)


def _check_mps_memory(spec: StudySpec, n: int, limit: int) -> None:
    """Each depth's matrix-product state fits in ``limit`` at its largest bond dimension."""
    for depth in spec.circuit.layer_counts(n):
        family = family_for(spec, Cell(n, depth))
        need, bits = mps_bytes(family.template)
        if need > limit:
            raise SpecError(
                f"circuit.qubits: the cell n = {n}, L = {depth} can need "
                f"{need / _GIB:.1f} GiB for a matrix-product state (bond dimension up "
                f"to 2^{max(bits)}); the limit is {limit / _GIB:.1f} GiB (half this "
                "machine's memory, Aer's default); use fewer layers or qubits"
            )


def _check_dense_memory(
    spec: StudySpec, n: int, cell: str, limit: int, kind: str, device: str | None
) -> None:
    """The statevector (or, with noise, the density matrix) of n qubits fits in ``limit``."""
    if (kind == "aer" and device) or "depolarizing" in spec.backend.options:
        # Density matrix over the circuit's qubits (Aer truncates the idle ones).
        need, what = 16 * 4**n, "a density matrix"
    else:
        need, what = 16 * 2**n, "a statevector"
    if need > limit:
        hint = (
            "; backend.options.method = 'matrix_product_state' simulates shallow, wide circuits"
            if kind == "aer" and not device
            else ""
        )
        raise SpecError(
            f"circuit.qubits: the cell {cell} needs {need / _GIB:.1f} GiB for {what} on "
            f"{spec.backend.name}; the limit is {limit / _GIB:.1f} GiB (half this machine's "
            f"memory, Aer's default){hint}"
        )


def _check_pauli_terms(spec: StudySpec, n: int, cell: str) -> None:
    """Backends without native projectors expand projector letters into Pauli terms.

    Counted on the observable the backend would measure, not by the cost's name: the global
    projector is 2^n terms, and so is any cost with a projector letter on every qubit.
    """
    if capabilities_of(spec.backend.name).native_projectors:
        return
    count = pauli_term_count(make_observable(spec.observable, n))
    if count > MAX_PAULI_TERMS:
        size = f"2^{count.bit_length() - 1}" if count & (count - 1) == 0 else str(count)
        raise SpecError(
            f"circuit.qubits: the cell {cell} needs the observable as {size} Pauli terms on "
            f"{spec.backend.name} (at most {MAX_PAULI_TERMS}); use backend 'aer', which "
            "measures projectors natively"
        )
