"""bp_qiskit: measure barren plateaus of parameterised circuits with Qiskit Estimator V2.

The public surface is small:

- :class:`StudySpec` / :func:`load_spec` — declarative study specs (TOML).
- :func:`run_study` — run a spec, get a :class:`StudyResult` and per-sample data.
- :mod:`bp_qiskit.circuits`, :mod:`bp_qiskit.observables`, :mod:`bp_qiskit.gradients`,
  :mod:`bp_qiskit.statistics` — the pure building blocks.
- :class:`EstimatorBackend` — the one interface in front of any ``BaseEstimatorV2``;
  :class:`AerEstimator` — the batched Aer estimator with native projectors and real shots.
"""

from ._version import __version__
from .backends import AerEstimator, EstimatorBackend, make_backend
from .results import StudyResult
from .runner import run_study
from .spec import SpecError, StudySpec, load_spec

__all__ = [
    "AerEstimator",
    "EstimatorBackend",
    "SpecError",
    "StudyResult",
    "StudySpec",
    "__version__",
    "load_spec",
    "make_backend",
    "run_study",
]
