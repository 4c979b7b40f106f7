"""``[backend]``: which Estimator V2 evaluates the circuits, with what options, and where."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from ..backends import BackendNameError, capabilities_of, parse_backend_name
from ..backends.options import validate_options
from ..backends.registry import backends_taking, entry_of
from .section import Section

__all__ = ["EXECUTOR_FORMS", "BackendSpec", "executor_address"]

EXECUTOR_FORMS = ("local", "dask", "dask://HOST:PORT", "tcp://HOST:PORT")


def executor_address(value: object) -> str | None:
    """The Dask scheduler address of an executor value; None for ``dask`` (a LocalCluster).

    Raises ValueError for ``local`` and anything not in :data:`EXECUTOR_FORMS`.
    """
    if value == "dask":
        return None
    for prefix in ("dask://", "tcp://"):
        if isinstance(value, str) and value.startswith(prefix) and ":" in value[len(prefix) :]:
            return "tcp://" + value[len(prefix) :]
    raise ValueError(value)


@dataclasses.dataclass(frozen=True)
class BackendSpec(Section):
    """``[backend]``: which Estimator V2 evaluates the circuits.

    Attributes:
        name: ``aer`` (bp_qiskit's batched Aer estimator: exact or sampled shots, projectors
            without Pauli expansion), ``statevector`` (qiskit's reference
            ``StatevectorEstimator``, exact only), ``aer_estimator`` (qiskit-aer's own
            ``EstimatorV2``, exact only), ``aer:<device>`` (Aer with a fake device's noise),
            ``fake:<device>`` (IBM Runtime local testing mode) or ``ibm:<backend>`` (a QPU).
        options: ``[backend.options]``. For the runtime backends: mode, resilience_level,
            twirling, dynamical_decoupling, job_tags, max_execution_time, poll_interval,
            job_seconds, in_doubt_grace and the mitigation options. For every device
            backend (``aer:<device>`` too): optimization_level and layout. For ``aer``:
            depolarizing, method (``matrix_product_state`` for shallow, wide circuits) and
            device (``GPU``). An option the backend would ignore is refused.
        compare: Other backends to run the same study on; their variance curves are drawn
            beside this one's in ``comparison.png`` (e.g. noiseless ``aer`` beside
            ``aer:manila``).
        executor: Where the jobs of an in-process simulator run: ``local`` (default),
            ``dask`` (a Dask LocalCluster) or ``dask://HOST:PORT`` (a running scheduler).
            ``--executor`` overrides it. Results are byte-identical either way.
        workers: Worker processes: with ``local``, more than 1 is a process pool; with
            ``dask``, the LocalCluster's size (default the core count). Each gets
            cores / workers Aer threads. ``--workers`` overrides it.
    """

    SECTION: ClassVar[str] = "backend"
    name: str = "aer"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    compare: tuple[str, ...] = ()
    executor: str = "local"
    workers: int | None = None

    def __post_init__(self) -> None:
        # BackendNameError is a SpecError: the registry's messages already name the field.
        if not isinstance(self.name, str):
            raise BackendNameError(f"backend.name: got {self.name!r}; allowed: a string")
        parse_backend_name(self.name)
        if not isinstance(self.compare, (list, tuple)):
            raise BackendNameError(
                f"backend.compare: got {self.compare!r}; allowed: a list of backend names"
            )
        for other in self.compare:
            parse_backend_name(str(other))
        object.__setattr__(self, "compare", tuple(str(c) for c in self.compare))
        if not isinstance(self.options, dict):
            raise BackendNameError(f"backend.options: got {self.options!r}; allowed: a table")
        object.__setattr__(self, "options", validate_options(self.options))
        _check_executor(self.name, self.executor)
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise BackendNameError(
                f"backend.workers: got {self.workers!r}; allowed: an integer >= 1"
            )
        _check_options_for(self.name, self.options)

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``options`` only when set, so plain specs stay as they were."""
        out: dict[str, Any] = {"name": self.name}
        if self.options:
            out["options"] = dict(self.options)
        if self.compare:
            out["compare"] = list(self.compare)
        # Where jobs run changes no result, but a spec that names it runs there on resume.
        if self.executor != "local":
            out["executor"] = self.executor
        if self.workers is not None:
            out["workers"] = self.workers
        return out

    @property
    def kind(self) -> str:
        """The part of the name before ``:`` (``aer``, ``fake``, ``ibm``, ...)."""
        return parse_backend_name(self.name)[0]


def _check_executor(name: str, executor: str) -> None:
    """``backend.executor`` is one of EXECUTOR_FORMS, and only for in-process simulators."""
    if executor == "local":
        return
    try:
        executor_address(executor)
    except ValueError:
        raise BackendNameError(
            f"backend.executor: got {executor!r}; allowed: {', '.join(EXECUTOR_FORMS)}"
        ) from None
    if not capabilities_of(name).parallel:
        raise BackendNameError(
            f"backend.executor: got {executor!r} with backend {name!r}; "
            "allowed: 'local' (jobs on a QPU or a runtime service run in this process)"
        )


# Why the other backends do not take an option, where the list of takers alone does not say.
_WHY_NOT = {
    "depolarizing": " (a device brings its own noise)",
    "optimization_level": " (the others have no device to transpile for)",
    "layout": " (the others have no device to transpile for)",
}


def _check_options_for(name: str, options: Mapping[str, Any]) -> None:
    """Refuse an option that the named backend would ignore (its registry entry says which)."""
    takes = entry_of(name).options
    for key in options:
        if key in takes:
            continue
        takers = backends_taking(key)
        forms = " and ".join(", ".join(f"'{f}'" for f in takers).rsplit(", ", 1))
        why = _WHY_NOT.get(key, "")
        raise BackendNameError(
            f"backend.options.{key}: got it with backend {name!r}, which would ignore it; "
            f"allowed: backend{'s' if len(takers) > 1 else ''} {forms} only{why}"
        )
    if "depolarizing" in options and options.get("method", "statevector") != "statevector":
        raise BackendNameError(
            f"backend.options.method: got {options['method']!r} with depolarizing "
            "noise; allowed: 'statevector' (the noise is simulated on density matrices)"
        )
