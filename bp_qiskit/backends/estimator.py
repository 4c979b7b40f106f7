"""The :class:`~bp_qiskit.backends.protocol.Backend` over any in-process ``BaseEstimatorV2``.

bp_qiskit's :class:`~bp_qiskit.backends.aer.AerEstimator`, qiskit's ``StatevectorEstimator``
and qiskit-aer's ``EstimatorV2`` are all reached through it. What differs between them is
declared in their :class:`~bp_qiskit.backends.protocol.Capabilities`: whether precision > 0
really samples shots (qiskit-aer's ``EstimatorV2`` adds Gaussian noise, so it is declared
exact-only), and whether projector letters may be passed unexpanded.

Estimators fix their seed at construction, so the backend holds a *factory*
``seed -> estimator``: each job passes its own seed, which keeps results independent of job
order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qiskit.primitives import BaseEstimatorV2

from ..core.observables import to_pauli_op
from .protocol import (
    Capabilities,
    Evaluation,
    ExpectationTask,
    NotAttachableError,
    OnSubmit,
    SharedTask,
    check_tasks,
    shots_to_precision,
)

__all__ = ["EstimatorBackend", "EstimatorFactory"]

EstimatorFactory = Callable[[int | None], BaseEstimatorV2]


class EstimatorBackend:
    """Evaluate expectation tasks on any in-process ``BaseEstimatorV2``.

    Args:
        estimator: An estimator instance, or a factory ``seed -> estimator``.
        name: Short name recorded with results.
        capabilities: What the estimator can do (default: exact only, Pauli observables).
        transpiler: Optional :class:`~bp_qiskit.backends.isa.IsaTranspiler`: circuits are
            mapped to ISA circuits for a device and observables follow their layout.
    """

    def __init__(
        self,
        estimator: BaseEstimatorV2 | EstimatorFactory,
        *,
        name: str,
        capabilities: Capabilities | None = None,
        transpiler: Any = None,
    ) -> None:
        self._factory: EstimatorFactory = (
            (lambda _seed: estimator) if isinstance(estimator, BaseEstimatorV2) else estimator
        )
        self.name = name
        self.capabilities = capabilities or Capabilities(exact=True, shots=False)
        self.transpiler = transpiler

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
        *,
        seed: int | None = None,
        on_submit: OnSubmit | None = None,
    ) -> list[Evaluation]:
        """Run all tasks as the PUBs of one estimator job.

        Args:
            tasks: The work; each becomes one PUB.
            seed: Seed for the estimator's shot sampling.
            on_submit: Called with the job id as soon as the job exists.
        """
        check_tasks(self, tasks)
        pubs = []
        for t in tasks:
            observables = t.observables if isinstance(t, SharedTask) else (t.observable,)
            circuit, mapped = t.circuit, list(observables)
            if self.transpiler is not None:
                prep = self.transpiler(circuit)
                circuit, mapped = prep.circuit, [o.apply_layout(prep.layout) for o in mapped]
            ops = [o if self.capabilities.native_projectors else to_pauli_op(o) for o in mapped]
            if isinstance(t, SharedTask):
                # One PUB over every observable, broadcast as (C, 1, ..., 1) against the values:
                # the estimator simulates the circuit once for all of them.
                ones = (1,) * (t.values.ndim - 1)
                array = np.empty((len(ops), *ones), dtype=object)
                for i, op in enumerate(ops):
                    array[(i, *(0 for _ in ones))] = op
                pubs.append((circuit, array, t.values, shots_to_precision(t.shots)))
            else:
                pubs.append((circuit, ops[0], t.values, shots_to_precision(t.shots)))
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

    def attach(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """In-process jobs end with the process: there is nothing to attach to."""
        raise NotAttachableError(f"{self.name}: job {job_id} ran in-process; nothing to attach")

    def close(self) -> None:
        """Nothing to release: in-process estimators hold no remote resources."""
