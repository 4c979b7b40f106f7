"""The contract every backend meets: :class:`Backend`, its :class:`Capabilities`, its data.

A backend evaluates :class:`ExpectationTask` s (circuit, observable, parameter array, shots)
as the PUBs of *one* primitive job and returns one :class:`Evaluation` per task. The rules
below are what the run loop relies on; :mod:`bp_qiskit.testing.backend_contract` checks them
against every registered backend.

- ``evaluate`` returns ``evs`` and ``stds`` of shape ``values.shape[:-1]`` for every task, in
  task order. Exact evaluation (``shots == 0``) reports ``stds == 0`` and ``shots == 0``.
- A backend that cannot honour a task raises :class:`CapabilityError` *before* anything is
  submitted: exact-only backends refuse shots (a faked shot noise would be a silently wrong
  statistic), shot-only backends refuse exact evaluation.
- ``on_submit(job_id)`` is called once, as soon as the job exists and before its result is
  awaited, so the caller can persist the id (a QPU job must never be billed twice).
- The same tasks and the same ``seed`` give the same bytes.
- ``attach(job_id, tasks)`` collects a job submitted earlier, possibly by another process.
  It never submits. Backends whose jobs do not outlive the process (``capabilities.remote``
  false) raise :class:`NotAttachableError`.
- ``close()`` releases what the backend opened (a runtime batch or session); it is safe to
  call twice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from ..errors import BPQiskitError, SpecError

__all__ = [
    "Backend",
    "BackendNameError",
    "Capabilities",
    "CapabilityError",
    "Evaluation",
    "ExpectationTask",
    "NotAttachableError",
    "OnSubmit",
    "SharedTask",
    "precision_to_shots",
    "shots_to_precision",
]

OnSubmit = Callable[[str], None]


class BackendNameError(SpecError):
    """An unknown backend name, device or backend option (the message names the field)."""


class CapabilityError(BPQiskitError, ValueError):
    """A task asks for something the backend cannot do (shots on an exact-only backend)."""


class NotAttachableError(BPQiskitError, RuntimeError):
    """The backend's jobs live in this process only; there is nothing to re-attach to."""


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the spec is validated against these before anything runs.

    Attributes:
        exact: Evaluates ``shots == 0`` tasks exactly.
        shots: Samples real shots for ``shots > 0`` tasks (``stds`` from the outcomes).
        remote: Jobs run elsewhere and outlive this process; ``attach`` re-attaches by id.
        native_projectors: Projector letters of a ``SparseObservable`` need no Pauli expansion.
        parallel: Jobs may run in worker processes, each building its own backend from the
            name (in-process simulators). Runtime backends share one batch or session per
            run and report job ids to the store as they submit, so they run in this process.
        adjoint: A noiseless statevector: the exact gradients of a ``shots == 0`` task may be
            taken by the adjoint pass (:mod:`bp_qiskit.backends.adjoint`) in place of its
            shift pairs; they are the same numbers to rounding.
    """

    exact: bool
    shots: bool
    remote: bool = False
    native_projectors: bool = False
    parallel: bool = False
    adjoint: bool = False


@dataclasses.dataclass(frozen=True)
class ExpectationTask:
    """One PUB's worth of work: ``values`` has shape (..., num_parameters)."""

    circuit: QuantumCircuit
    observable: SparseObservable
    values: NDArray[np.float64]
    shots: int = 0

    @property
    def observables(self) -> tuple[SparseObservable, ...]:
        """The observables measured (one): what a PUB's price reads, as for a SharedTask."""
        return (self.observable,)

    @property
    def total_shots(self) -> int:
        """Shots over every binding of the PUB (0 in exact mode)."""
        return int(np.prod(self.values.shape[:-1])) * self.shots


@dataclasses.dataclass(frozen=True)
class SharedTask:
    """One PUB evaluated against several observables at once.

    The estimator broadcasts the observables (shape ``(C, 1, ..., 1)``) against the parameter
    values, so the evaluation's ``evs`` and ``stds`` gain a leading axis of length C, and every
    observable is estimated from the same shots: a second cost that is diagonal in the same
    basis as the first costs no QPU time, and the costs are paired shot by shot.
    """

    circuit: QuantumCircuit
    observables: tuple[SparseObservable, ...]
    values: NDArray[np.float64]
    shots: int = 0

    @property
    def total_shots(self) -> int:
        """Shots over every binding of the PUB, each measured for every observable."""
        return int(np.prod(self.values.shape[:-1])) * self.shots


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What came back for one task.

    Attributes:
        evs: Expectation values, shape ``values.shape[:-1]``.
        stds: Standard error of each value (0 for exact evaluation).
        shots: Shots executed per value, as reported by the estimator (0 = exact).
        job_id: The primitive job's id.
        metadata: The PUB result's metadata.
        usage_seconds: QPU seconds the service reports for the whole job (None if unknown).
    """

    evs: NDArray[np.float64]
    stds: NDArray[np.float64]
    shots: int
    job_id: str | None
    metadata: dict[str, Any]
    usage_seconds: float | None = None


@runtime_checkable
class Backend(Protocol):
    """Evaluates expectation tasks; see the module docstring for the contract."""

    name: str
    capabilities: Capabilities

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
        *,
        seed: int | None = None,
        on_submit: OnSubmit | None = None,
    ) -> list[Evaluation]:
        """Run all tasks as the PUBs of one job and wait for the result.

        A :class:`SharedTask` is one PUB over several observables: its evaluation's ``evs``
        and ``stds`` have a leading axis, one entry per observable.
        """
        ...

    def attach(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """Collect the job ``job_id`` that evaluated ``tasks``; never submits."""
        ...

    def close(self) -> None:
        """Release what the backend opened."""
        ...


def check_tasks(backend: Backend, tasks: Sequence[ExpectationTask | SharedTask]) -> None:
    """Raise :class:`CapabilityError` for a task the backend cannot honour."""
    caps = backend.capabilities
    for t in tasks:
        if t.shots and not caps.shots:
            raise CapabilityError(
                f"shots: backend {backend.name!r} evaluates exactly only; use shots = 0 or "
                "the 'aer' backend"
            )
        if not t.shots and not caps.exact:
            raise CapabilityError(
                f"shots: backend {backend.name!r} samples shots; set sampling.shots > 0"
            )


def shots_to_precision(shots: int) -> float:
    """Return the Estimator V2 precision that asks for ``shots`` shots (0 -> exact)."""
    return 0.0 if shots == 0 else 1.0 / math.sqrt(shots)


def precision_to_shots(precision: float) -> int:
    """Inverse of :func:`shots_to_precision` (rounded, so the round trip is exact)."""
    if precision < 0:
        raise ValueError(f"precision: got {precision}; allowed: >= 0")
    return 0 if precision == 0 else max(1, round(1.0 / precision**2))
