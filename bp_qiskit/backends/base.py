"""The one interface in front of every Estimator V2: :class:`EstimatorBackend`.

Everything that evaluates circuits — bp_qiskit's :class:`~bp_qiskit.backends.aer.AerEstimator`,
qiskit's ``StatevectorEstimator``, qiskit-aer's ``EstimatorV2`` and, later, IBM Runtime — is
reached through :meth:`EstimatorBackend.evaluate`. It takes a list of
:class:`ExpectationTask` (circuit, observable, parameter array, shots) and returns one
:class:`Evaluation` per task with the values, their standard errors, the shots actually
executed and the job id. What differs between estimators is captured by two flags:

- ``native_projectors``: whether projector letters of a ``SparseObservable`` may be passed as
  they are; otherwise they are expanded into Pauli strings (exponential, guarded).
- ``samples_shots``: whether a precision > 0 really samples shots. Estimators that fake shot
  noise (qiskit-aer's ``EstimatorV2`` adds Gaussian noise) are declared exact-only, and asking
  them for shots is an error rather than a silently wrong statistic.

Estimators fix their seed at construction, so a backend holds a *factory* ``seed -> estimator``:
each job passes its own seed, which keeps results independent of job order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.quantum_info import SparseObservable

from ..observables import to_pauli_op
from .aer import shots_to_precision

__all__ = ["EstimatorBackend", "Evaluation", "ExpectationTask"]


@dataclasses.dataclass(frozen=True)
class ExpectationTask:
    """One PUB's worth of work: ``values`` has shape (..., num_parameters)."""

    circuit: QuantumCircuit
    observable: SparseObservable
    values: NDArray[np.float64]
    shots: int = 0


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


EstimatorFactory = Callable[[int | None], BaseEstimatorV2]


class EstimatorBackend:
    """Evaluate expectation tasks on any ``BaseEstimatorV2``.

    Args:
        estimator: An estimator instance, or a factory ``seed -> estimator``.
        name: Short name recorded with results.
        native_projectors: Pass projector terms through unexpanded.
        samples_shots: The estimator's precision > 0 samples real shots.
        transpiler: Optional ``IsaTranspiler``: circuits are mapped to ISA circuits for a
            device and observables follow their layout (``aer:<device>``).
    """

    def __init__(
        self,
        estimator: BaseEstimatorV2 | EstimatorFactory,
        *,
        name: str,
        native_projectors: bool = False,
        samples_shots: bool = False,
        transpiler: Any = None,
    ) -> None:
        self._factory: EstimatorFactory = (
            (lambda _seed: estimator) if isinstance(estimator, BaseEstimatorV2) else estimator
        )
        self.name = name
        self.native_projectors = native_projectors
        self.samples_shots = samples_shots
        self.transpiler = transpiler

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask],
        *,
        seed: int | None = None,
        on_submit: Callable[[str], None] | None = None,
    ) -> list[Evaluation]:
        """Run all tasks as the PUBs of one estimator job.

        Args:
            tasks: The work; each becomes one PUB.
            seed: Seed for the estimator's shot sampling.
            on_submit: Called with the job id as soon as the job exists (before waiting for
                results), so a store can persist it.
        """
        pubs = []
        for t in tasks:
            if t.shots and not self.samples_shots:
                raise ValueError(
                    f"shots: backend {self.name!r} evaluates exactly only; use shots = 0 or "
                    "the 'aer' backend"
                )
            circuit, obs = t.circuit, t.observable
            if self.transpiler is not None:
                circuit, obs = self.transpiler.map(circuit, obs)
            pauli = obs if self.native_projectors else to_pauli_op(obs)
            pubs.append((circuit, pauli, t.values, shots_to_precision(t.shots)))
        job = self._factory(seed).run(pubs)
        job_id = job.job_id()
        if on_submit is not None:
            on_submit(job_id)
        result = job.result()
        out = []
        for t, pub_result in zip(tasks, result, strict=True):
            meta = dict(pub_result.metadata)
            evs = np.asarray(pub_result.data.evs, dtype=float)
            stds = np.asarray(pub_result.data.stds, dtype=float)
            shots = int(meta.get("shots", t.shots)) if t.shots else 0
            if not t.shots:
                stds = np.zeros_like(evs)  # some estimators report a nominal std when exact
            out.append(Evaluation(evs, stds, shots, job_id, meta))
        return out
