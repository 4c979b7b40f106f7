"""Declarative study specifications: frozen dataclasses loaded from TOML and validated.

A spec file has one table per section (``[study]``, ``[circuit]``, ``[observable]``,
``[gradient]``, ``[sampling]``, ``[backend]``, and at most one of ``[budget]`` /
``[adaptive]``). Sections are looked up in :data:`SECTIONS`, so a new section is one
dataclass and one registry entry; unknown sections and keys are rejected with the allowed
names.

Layer 3: imports the maths (:mod:`bp_qiskit.core`) for the names of ansätze and observables,
and the backend registry (:mod:`bp_qiskit.backends`) to validate backend names and shots.
"""

from __future__ import annotations

from ..core.circuits import ANSATZE
from ..core.observables import OBSERVABLES
from ..errors import SpecError
from .backend_section import BackendSpec
from .parsing import parse_angle, parse_qubits
from .sections import (
    AdaptiveSpec,
    BudgetSpec,
    CircuitSpec,
    GradientSpec,
    ObservableSpec,
    SamplingSpec,
    StudyInfo,
)
from .study import KIND_SECTIONS, OPTIONAL_SECTIONS, SECTIONS, StudySpec, load_spec

__all__ = [
    "ANSATZE",
    "KIND_SECTIONS",
    "OBSERVABLES",
    "OPTIONAL_SECTIONS",
    "SECTIONS",
    "AdaptiveSpec",
    "BackendSpec",
    "BudgetSpec",
    "CircuitSpec",
    "GradientSpec",
    "ObservableSpec",
    "SamplingSpec",
    "SpecError",
    "StudyInfo",
    "StudySpec",
    "load_spec",
    "parse_angle",
    "parse_qubits",
]
