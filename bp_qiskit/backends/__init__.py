"""Backends: one :class:`Backend` protocol, a name registry, and the implementations.

Layer 2: imports :mod:`bp_qiskit.core` and :mod:`bp_qiskit.errors` only. Specs sit *above*
backends so that the spec can validate a backend name and its shots against the registry.
"""

from __future__ import annotations

from typing import Any

from .estimator import EstimatorBackend
from .protocol import (
    Backend,
    BackendNameError,
    Capabilities,
    CapabilityError,
    Evaluation,
    ExpectationTask,
    NotAttachableError,
    SharedTask,
)
from .registry import BACKEND_FORMS, REGISTRY, capabilities_of, make_backend, parse_backend_name

__all__ = [
    "BACKEND_FORMS",
    "REGISTRY",
    "AerEstimator",
    "Backend",
    "BackendNameError",
    "Capabilities",
    "CapabilityError",
    "EstimatorBackend",
    "Evaluation",
    "ExpectationTask",
    "NotAttachableError",
    "SharedTask",
    "capabilities_of",
    "make_backend",
    "parse_backend_name",
]


def __getattr__(name: str) -> Any:
    # AerEstimator imports qiskit-aer; loading a spec or printing --help should not.
    if name == "AerEstimator":
        from .aer import AerEstimator

        return AerEstimator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
