"""bp_qiskit: measure barren plateaus of parameterised circuits with Qiskit Estimator V2.

The public surface is small:

- :class:`StudySpec` / :func:`load_spec`: declarative study specs (TOML).
- :func:`run_study`: run a spec of any kind, get a :class:`StudyOutcome`.
- :func:`gradient_variance`: bring your own circuit and observable;
  :func:`predict_variance`: what theory expects for it, from the circuit itself.
- :mod:`bp_qiskit.core`: the pure building blocks (circuits, observables, gradients,
  statistics, planning).
- :class:`Backend` and :func:`make_backend`: the one protocol in front of every estimator;
  :class:`AerEstimator`: the batched Aer estimator with native projectors and real shots.
- :mod:`bp_qiskit.report`: tables, plots (returning matplotlib figures) and exports.

The package is layered; ``docs/architecture.md`` lists the layers and where to change what.
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import SpecError, StudyFailedError

# Where each public name lives. The root imports none of them until asked: Qiskit and Aer
# take most of a second to load, and ``bp-qiskit --help``, ``load_spec`` or the figure helper
# (report/render.py) need neither.
_LAZY = {
    "AerEstimator": "backends.aer",
    "Backend": "backends",
    "EstimatorBackend": "backends",
    "make_backend": "backends",
    "run_study": "execution",
    "GradientVariance": "execution.custom",
    "gradient_variance": "execution.custom",
    "CircuitPrediction": "execution.predict_circuit",
    "predict_variance": "execution.predict_circuit",
    "StudyOutcome": "results",
    "StudyResult": "results",
    "StudySpec": "spec",
    "load_spec": "spec",
}

if TYPE_CHECKING:
    from .backends import Backend, EstimatorBackend, make_backend
    from .backends.aer import AerEstimator
    from .execution import run_study
    from .execution.custom import GradientVariance, gradient_variance
    from .execution.predict_circuit import CircuitPrediction, predict_variance
    from .results import StudyOutcome, StudyResult
    from .spec import StudySpec, load_spec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # once loaded, an ordinary attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AerEstimator",
    "Backend",
    "CircuitPrediction",
    "EstimatorBackend",
    "GradientVariance",
    "SpecError",
    "StudyFailedError",
    "StudyOutcome",
    "StudyResult",
    "StudySpec",
    "__version__",
    "gradient_variance",
    "load_spec",
    "make_backend",
    "predict_variance",
    "run_study",
]
