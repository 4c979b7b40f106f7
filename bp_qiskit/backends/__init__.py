"""Estimator backends behind one interface, and their construction by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .aer import AerEstimator
from .base import EstimatorBackend, Evaluation, ExpectationTask
from .runtime import (
    BACKEND_FORMS,
    DEFAULT_OPTIMIZATION_LEVEL,
    BackendNameError,
    IBMService,
    IsaTranspiler,
    LocalService,
    RuntimeBackend,
    fake_backend,
    parse_backend_name,
)

__all__ = [
    "BACKEND_FORMS",
    "AerEstimator",
    "BackendNameError",
    "EstimatorBackend",
    "Evaluation",
    "ExpectationTask",
    "RuntimeBackend",
    "make_backend",
    "parse_backend_name",
]

# Tests and tools may replace this to inject a stand-in for QiskitRuntimeService.
SERVICE_FACTORY: Any = IBMService


def make_backend(
    name: str,
    *,
    options: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    **aer_options: Any,
) -> EstimatorBackend | RuntimeBackend:
    """Build the backend a spec's ``[backend] name`` refers to (see ``BACKEND_FORMS``)."""
    kind, device = parse_backend_name(name)
    if kind == "aer" and not device:
        return EstimatorBackend(
            lambda seed: AerEstimator(seed=seed, **aer_options),
            name=name,
            native_projectors=True,
            samples_shots=True,
        )
    if kind == "aer":
        from qiskit_aer import AerSimulator

        fake = fake_backend(device)
        # Density matrix: exact noisy expectations, and the exact noisy outcome distribution
        # for shots. Runtime parameter binding is off: ISA circuits carry parameter
        # expressions (rz(theta + pi)), which Aer can only bind before the run.
        sim = AerSimulator.from_backend(fake, method="density_matrix")
        level = dict(options or {}).get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
        return EstimatorBackend(
            lambda seed: AerEstimator(seed=seed, simulator=sim),
            name=name,
            native_projectors=True,
            samples_shots=True,
            transpiler=IsaTranspiler(fake, level),
        )
    if kind == "statevector":
        from qiskit.primitives import StatevectorEstimator

        return EstimatorBackend(lambda seed: StatevectorEstimator(seed=seed), name=name)
    if kind == "aer_estimator":
        from qiskit_aer.primitives import EstimatorV2

        opts = {"backend_options": {"runtime_parameter_bind_enable": True}}
        return EstimatorBackend(lambda seed: EstimatorV2(options=opts), name=name)
    service = LocalService() if kind == "fake" else SERVICE_FACTORY()
    return RuntimeBackend(service, device, options=options, tags=tags, name=name)
