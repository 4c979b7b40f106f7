"""IBM hardware path: device names, ISA transpilation, the runtime estimator, job lifecycle.

Backend names (``[backend] name`` / ``--backend``):

- ``aer:<device>`` — :class:`~bp_qiskit.backends.aer.AerEstimator` with the noise model and
  gate set of a fake device (density-matrix simulation: exact noisy expectations, or shots
  drawn from the exact noisy distribution);
- ``fake:<device>`` — qiskit-ibm-runtime's estimator in *local testing mode* on that fake
  backend (Aer underneath, device noise, real shots, offline);
- ``ibm:<backend>`` — a real QPU through ``QiskitRuntimeService``.

``<device>`` is a fake backend class of ``qiskit_ibm_runtime.fake_provider``, lowercased,
without ``Fake`` and ``V2``: ``FakeManilaV2`` -> ``manila``.

The runtime estimator is ``qiskit_ibm_runtime.executor_estimator.Estimator``
(``qiskit_ibm_runtime.EstimatorV2`` is deprecated since 0.50). Circuits are transpiled to ISA
circuits with a preset pass manager for the target and observables follow the circuit's
layout. Transpilation keeps the parameter objects, and PUB values bind by
``circuit.parameters`` order, so shifted values computed for the logical circuit are valid for
the ISA circuit (checked, and tested).

Submission and re-attachment go through a small *service* surface (:class:`RuntimeService`):
``backend(name)``, ``submit(...)`` and ``job(job_id)``; a job offers ``job_id()``,
``status()`` (a string remotely, a ``JobStatus`` locally), ``result()`` and ``cancel()``.
The tests drive the whole lifecycle through a stand-in that implements just this surface.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable
from qiskit.transpiler import generate_preset_pass_manager

from ..observables import to_pauli_op
from ..spec import BACKEND_NAMES
from .aer import shots_to_precision
from .base import Evaluation, ExpectationTask

__all__ = [
    "BACKEND_FORMS",
    "DEFAULT_OPTIMIZATION_LEVEL",
    "BackendNameError",
    "IBMService",
    "IsaTranspiler",
    "JobFailedError",
    "LocalService",
    "RuntimeBackend",
    "RuntimeService",
    "available_devices",
    "fake_backend",
    "normalize_status",
    "parse_backend_name",
    "validate_options",
]

# The spec module owns the list, so spec errors and backend errors cannot drift apart.
BACKEND_FORMS = BACKEND_NAMES

# Level 0 by default: at level >= 1 the preset pass managers merge runs of single-qubit gates
# whose angles are parameter expressions symbolically, and that blows up with depth. Measured
# on FakeLagosV2: 4 qubits x 8 layers took 0.6 s at level 0 and did not finish in 400 s at
# level 1 (3 x 6: 0.1 s either way). Users can still ask for more with optimization_level.
DEFAULT_OPTIMIZATION_LEVEL = 0

# [backend.options]: name -> (allowed values description, validator)
_OPTION_DOC = {
    "mode": "'batch' (default), 'session' or 'job'",
    "resilience_level": "0 (default), 1 or 2",
    "optimization_level": "0 (default), 1, 2 or 3",
    "twirling": "true or false (gates and measurements)",
    "dynamical_decoupling": "false (default), true, or a sequence name 'XX', 'XpXm', 'XY4'",
    "job_tags": "a list of strings (the study id is always added)",
    "max_execution_time": "an integer number of seconds",
    "poll_interval": "seconds between status polls of a remote job (default 5)",
}


class BackendNameError(ValueError):
    """An unknown backend name or device."""


class JobFailedError(RuntimeError):
    """A remote job ended in ERROR or CANCELLED; the message carries the reason.

    Attributes:
        state: ``"ERROR"`` or ``"CANCELLED"`` (what the store records).
    """

    def __init__(self, message: str, state: str = "ERROR") -> None:
        super().__init__(message)
        self.state = state


@functools.cache
def available_devices() -> dict[str, str]:
    """Device name -> fake backend class name, e.g. ``{"manila": "FakeManilaV2"}``."""
    from qiskit.providers import BackendV2
    from qiskit_ibm_runtime import fake_provider

    out = {}
    for cls in dir(fake_provider):
        obj = getattr(fake_provider, cls)
        if cls.startswith("Fake") and isinstance(obj, type) and issubclass(obj, BackendV2):
            out[cls[4:].removesuffix("V2").lower()] = cls
    return dict(sorted(out.items()))


def fake_backend(device: str) -> Any:
    """Instantiate the fake backend for a device name."""
    from qiskit_ibm_runtime import fake_provider

    devices = available_devices()
    if device not in devices:
        raise BackendNameError(
            f"backend.name: unknown device {device!r}; available devices: {', '.join(devices)}"
        )
    return getattr(fake_provider, devices[device])()


def parse_backend_name(name: str) -> tuple[str, str]:
    """Split a backend name into (kind, device); raise with the valid forms if unknown."""
    if name in ("aer", "statevector", "aer_estimator"):
        return name, ""
    kind, sep, device = name.partition(":")
    if sep and device and kind in ("aer", "fake", "ibm"):
        if kind != "ibm" and device not in available_devices():
            raise BackendNameError(
                f"backend.name: unknown device {device!r} in {name!r}; available devices: "
                f"{', '.join(available_devices())}"
            )
        return kind, device
    raise BackendNameError(
        f"backend.name: got {name!r}; allowed: {', '.join(BACKEND_FORMS)} "
        "(devices: e.g. manila, brisbane; see `bp-qiskit devices`)"
    )


def validate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``[backend.options]``; unknown keys and bad values name the key and allowed values."""
    out = dict(options)
    unknown = sorted(set(out) - set(_OPTION_DOC))
    if unknown:
        raise BackendNameError(
            f"backend.options: unknown option(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(_OPTION_DOC)}"
        )

    def bad(key: str) -> BackendNameError:
        return BackendNameError(
            f"backend.options.{key}: got {out[key]!r}; allowed: {_OPTION_DOC[key]}"
        )

    checks: dict[str, Callable[[Any], bool]] = {
        "mode": lambda v: v in ("batch", "session", "job"),
        "resilience_level": lambda v: v in (0, 1, 2) and not isinstance(v, bool),
        "optimization_level": lambda v: v in (0, 1, 2, 3) and not isinstance(v, bool),
        "twirling": lambda v: isinstance(v, bool),
        "dynamical_decoupling": lambda v: isinstance(v, bool) or v in ("XX", "XpXm", "XY4"),
        "job_tags": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        "max_execution_time": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        "poll_interval": lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        ),
    }
    for key, ok in checks.items():
        if key in out and not ok(out[key]):
            raise bad(key)
    return out


def estimator_options(
    options: Mapping[str, Any], *, seed: int | None, tags: Sequence[str]
) -> dict[str, Any]:
    """Translate ``[backend.options]`` into the runtime estimator's options model."""
    opts: dict[str, Any] = {"resilience_level": options.get("resilience_level", 0)}
    tw = options.get("twirling")
    if tw is not None:
        opts["twirling"] = {"enable_gates": tw, "enable_measure": tw}
    dd = options.get("dynamical_decoupling", False)
    if dd:
        opts["dynamical_decoupling"] = {
            "enable": True,
            "sequence_type": dd if isinstance(dd, str) else "XX",
        }
    env: dict[str, Any] = {"job_tags": [*options.get("job_tags", []), *tags]}
    opts["environment"] = env
    if "max_execution_time" in options:
        opts["max_execution_time"] = options["max_execution_time"]
    if seed is not None:
        opts["simulator"] = {"seed_simulator": seed}
    return opts


def normalize_status(status: Any) -> str:
    """'QUEUED', 'RUNNING', 'DONE', 'ERROR', 'CANCELLED', ... from a string or a JobStatus."""
    name = getattr(status, "name", status)
    text = str(name).upper()
    return {
        "INITIALIZING": "QUEUED",
        "VALIDATING": "QUEUED",
        "CANCELED": "CANCELLED",
        "FAILED": "ERROR",
    }.get(text, text)


class RuntimeJob(Protocol):
    """The surface of a runtime job that bp_qiskit uses."""

    def job_id(self) -> str: ...
    def status(self) -> Any: ...
    def result(self) -> Any: ...
    def cancel(self) -> Any: ...


class RuntimeService(Protocol):
    """The surface of a runtime service that bp_qiskit uses."""

    remote: bool

    def backend(self, name: str) -> Any: ...  # noqa: D102
    def submit(  # noqa: D102
        self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str
    ) -> RuntimeJob: ...
    def job(self, job_id: str) -> RuntimeJob: ...  # noqa: D102


class _ModeMixin:
    """Opens one Batch (or Session) per backend and reuses it for every job of a run."""

    _mode_obj: Any = None

    def _mode(self, backend: Any, mode: str) -> Any:
        if mode == "job":
            return backend
        if self._mode_obj is None:
            from qiskit_ibm_runtime import Batch, Session

            self._mode_obj = (Batch if mode == "batch" else Session)(backend=backend)
        return self._mode_obj

    def submit(self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str) -> Any:
        """Run the PUBs with the (non-deprecated) executor-based runtime estimator."""
        from qiskit_ibm_runtime.executor_estimator import Estimator

        return Estimator(mode=self._mode(backend, mode), options=options).run(pubs)

    def close(self) -> None:
        """Close the batch or session, if one was opened."""
        if self._mode_obj is not None:
            self._mode_obj.close()
            self._mode_obj = None


class LocalService(_ModeMixin):
    """Local testing mode: fake backends, nothing leaves the machine; no re-attachment."""

    remote = False

    def backend(self, name: str) -> Any:
        """The fake backend for a device name."""
        return fake_backend(name)

    def job(self, job_id: str) -> RuntimeJob:
        """Local jobs live in their process only."""
        raise JobFailedError(f"local job {job_id} cannot be re-attached; it will be resubmitted")


class IBMService(_ModeMixin):
    """``QiskitRuntimeService`` with credentials from its own saved accounts or env variables.

    bp_qiskit never reads, writes or logs a token: it only calls ``QiskitRuntimeService()``.
    """

    remote = True

    def __init__(self) -> None:
        from qiskit_ibm_runtime import QiskitRuntimeService

        try:
            self._service = QiskitRuntimeService()
        except Exception as exc:
            raise BackendNameError(
                "backend: no usable IBM Quantum account (" + type(exc).__name__ + "); save one "
                "with QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN and "
                "QISKIT_IBM_INSTANCE"
            ) from None

    def backend(self, name: str) -> Any:
        """The named QPU."""
        return self._service.backend(name)

    def job(self, job_id: str) -> RuntimeJob:
        """Re-attach to a remote job by id."""
        return self._service.job(job_id)


@dataclasses.dataclass
class _Prepared:
    circuit: QuantumCircuit
    layout: Any


class IsaTranspiler:
    """Transpile logical circuits to ISA circuits for a target, once per circuit object.

    The preset pass manager keeps the circuit's Parameter objects, and PUB values bind by
    ``circuit.parameters`` order, so values computed for the logical circuit (including the
    parameter shifts) apply unchanged to the ISA circuit. That is checked here on every circuit.
    """

    def __init__(self, target: Any, optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL) -> None:
        self.target = target
        self._pm = generate_preset_pass_manager(
            backend=target, optimization_level=optimization_level
        )
        self._cache: dict[int, tuple[QuantumCircuit, _Prepared]] = {}

    def __call__(self, circuit: QuantumCircuit) -> _Prepared:
        """The ISA circuit and its layout (for ``observable.apply_layout``)."""
        key = id(circuit)
        if key not in self._cache:
            isa = self._pm.run(circuit)
            if [p.name for p in isa.parameters] != [p.name for p in circuit.parameters]:
                raise RuntimeError("transpilation changed the circuit's parameters")
            # Keep the logical circuit alive so its id cannot be reused by another object.
            self._cache[key] = (circuit, _Prepared(isa, isa.layout))
        return self._cache[key][1]

    def map(
        self, circuit: QuantumCircuit, observable: SparseObservable
    ) -> tuple[QuantumCircuit, SparseObservable]:
        """ISA circuit and the observable on its physical qubits."""
        prep = self(circuit)
        return prep.circuit, observable.apply_layout(prep.layout)


class RuntimeBackend:
    """An :class:`~bp_qiskit.backends.base.EstimatorBackend`-compatible backend for IBM Runtime.

    Args:
        service: Where jobs are submitted (:class:`LocalService`, :class:`IBMService`, or a
            stand-in with the same surface).
        backend_name: Device (fake) or QPU name.
        options: Validated ``[backend.options]``.
        tags: Job tags always added (the study id).
        name: The spec's backend name, recorded with results.
    """

    native_projectors = False
    samples_shots = True

    def __init__(
        self,
        service: RuntimeService,
        backend_name: str,
        *,
        options: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        name: str,
    ) -> None:
        self.service = service
        self.name = name
        self.options = validate_options(options or {})
        self.tags = list(tags)
        self.target = service.backend(backend_name)
        self.remote = bool(getattr(service, "remote", False))
        self.isa = IsaTranspiler(
            self.target, self.options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
        )

    def pubs(self, tasks: Sequence[ExpectationTask]) -> list[Any]:
        """ISA PUBs: transpiled circuit, observable mapped through its layout, values, precision."""
        out = []
        for t in tasks:
            if not t.shots:
                raise ValueError(
                    f"shots: backend {self.name!r} samples shots; set sampling.shots > 0"
                )
            isa, obs = self.isa.map(t.circuit, t.observable)
            out.append((isa, to_pauli_op(obs), t.values, shots_to_precision(t.shots)))
        return out

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask],
        *,
        seed: int | None = None,
        on_submit: Callable[[str], None] | None = None,
    ) -> list[Evaluation]:
        """Submit one job with one PUB per task and wait for it."""
        options = estimator_options(self.options, seed=seed, tags=self.tags)
        job = self.service.submit(
            self.target, self.pubs(tasks), options, self.options.get("mode", "batch")
        )
        job_id = job.job_id()
        if on_submit is not None:
            on_submit(job_id)
        return self.wait(job, tasks)

    def attach(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """Re-attach to a submitted job by id and wait for it (never resubmits)."""
        return self.wait(self.service.job(job_id), tasks)

    def wait(self, job: RuntimeJob, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """Poll until the job is final; a lost connection is retried, never resubmitted."""
        interval = float(self.options.get("poll_interval", 5.0 if self.remote else 0.0))
        failures = 0
        while True:
            try:
                state = normalize_status(job.status())
                failures = 0
            except (ConnectionError, TimeoutError, OSError) as exc:
                failures += 1
                if failures > 20:
                    raise JobFailedError(f"lost connection to job {job.job_id()}: {exc}") from exc
                time.sleep(min(60.0, interval * 2**failures))
                continue
            if state == "DONE":
                break
            if state in ("ERROR", "CANCELLED"):
                reason = ""
                for attr in ("error_message", "reason"):
                    fn = getattr(job, attr, None)
                    if callable(fn):
                        try:
                            reason = str(fn() or "")
                        except Exception:  # the reason is best effort
                            reason = ""
                        if reason:
                            break
                raise JobFailedError(
                    f"job {job.job_id()} {state.lower()}: {reason or 'no reason given'}", state
                )
            time.sleep(interval)
        result = job.result()
        usage = _usage_seconds(job)
        total_shots = result.metadata.get("shots") if hasattr(result, "metadata") else None
        out = []
        for t, pub in zip(tasks, result, strict=True):
            meta = dict(pub.metadata)
            shots = meta.get("shots", total_shots if total_shots is not None else t.shots)
            out.append(
                Evaluation(
                    np.asarray(pub.data.evs, dtype=float),
                    np.asarray(pub.data.stds, dtype=float),
                    int(shots),
                    job.job_id(),
                    meta,
                    usage,
                )
            )
        return out

    def close(self) -> None:
        """Close the service's batch or session."""
        close = getattr(self.service, "close", None)
        if callable(close):
            close()


def _usage_seconds(job: Any) -> float | None:
    """QPU seconds from the job's usage report, when the service gives one."""
    usage = getattr(job, "usage", None)
    if not callable(usage):
        return None
    try:
        value = usage()
    except Exception:  # usage is informational; local jobs have none
        return None
    if isinstance(value, dict):
        value = value.get("quantum_seconds", value.get("seconds"))
    return float(value) if isinstance(value, (int, float)) else None
