"""Estimator backends behind one interface, and their construction by name."""

from __future__ import annotations

from typing import Any

from .aer import AerEstimator
from .base import EstimatorBackend, Evaluation, ExpectationTask

__all__ = ["AerEstimator", "EstimatorBackend", "Evaluation", "ExpectationTask", "make_backend"]


def make_backend(name: str, **options: Any) -> EstimatorBackend:
    """Build the backend a spec's ``[backend] name`` refers to.

    Allowed names: ``aer``, ``statevector``, ``aer_estimator``.
    """
    if name == "aer":
        return EstimatorBackend(
            lambda seed: AerEstimator(seed=seed, **options),
            name=name,
            native_projectors=True,
            samples_shots=True,
        )
    if name == "statevector":
        from qiskit.primitives import StatevectorEstimator

        return EstimatorBackend(lambda seed: StatevectorEstimator(seed=seed), name=name)
    if name == "aer_estimator":
        from qiskit_aer.primitives import EstimatorV2

        opts = {"backend_options": {"runtime_parameter_bind_enable": True}}
        return EstimatorBackend(lambda seed: EstimatorV2(options=opts), name=name)
    raise ValueError(f"backend.name: got {name!r}; allowed: aer, statevector, aer_estimator")
