"""IBM Runtime backends: ``fake:<device>`` (local testing mode) and ``ibm:<backend>`` (a QPU).

The runtime estimator is ``qiskit_ibm_runtime.executor_estimator.Estimator``
(``qiskit_ibm_runtime.EstimatorV2`` is deprecated since 0.50). Circuits are transpiled to ISA
circuits with a preset pass manager for the target and observables follow the circuit's
layout (:class:`~bp_qiskit.backends.isa.IsaTranspiler`). Jobs go through a
:class:`~bp_qiskit.backends.services.RuntimeService`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from ..core.observables import to_pauli_op
from .ibm_errors import failure_cause, reason_code, submit_failure
from .isa import IsaTranspiler
from .options import DEFAULT_OPTIMIZATION_LEVEL, estimator_options, validate_options
from .protocol import (
    BackendNameError,
    Capabilities,
    Evaluation,
    ExpectationTask,
    NotAttachableError,
    OnSubmit,
    check_tasks,
)
from .remote import (
    MAX_TRANSIENT_FAILURES,
    RemoteStatus,
    SharedTask,
    SubmitRefusedError,
    SubmitRejectedError,
    Submitted,
    TransientServiceError,
    backoff,
    new_tag,
)
from .runtime_records import (
    calibration_time,
    call_service,
    isa_qpy,
    job_usage,
    normalize_status,
    package_versions,
    plain,
)
from .services import IBMService, LocalService, RuntimeJob, RuntimeService
from .timing import PubPrice, pub_price

__all__ = [
    "JobFailedError",
    "JobInDoubtError",
    "RuntimeBackend",
    "check_local_mode_width",
    "fake_runtime_backend",
    "ibm_runtime_backend",
]


class JobFailedError(RuntimeError):
    """A remote job ended in ERROR or CANCELLED; the message carries the reason.

    Attributes:
        state: ``"ERROR"`` or ``"CANCELLED"`` (what the store records).
        cause: See :func:`~bp_qiskit.backends.ibm_errors.failure_cause`.
    """

    def __init__(self, message: str, state: str = "ERROR", cause: str = "transient") -> None:
        super().__init__(message)
        self.state = state
        self.cause = cause


class JobInDoubtError(RuntimeError):
    """The service stopped answering about a job that may still be running."""


class RuntimeBackend:
    """A :class:`~bp_qiskit.backends.remote.RemoteBackend` on IBM Runtime (shots only).

    Args:
        service: Where jobs are submitted (:class:`LocalService`, :class:`IBMService`, or a
            stand-in with the same surface).
        backend_name: Device (fake) or QPU name.
        options: Validated ``[backend.options]``.
        tags: Job tags always added (the study id).
        name: The spec's backend name, recorded with results.
    """

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
        if self.options.get("mode") == "session" and getattr(service, "plan", None) == "open":
            raise BackendNameError(
                "backend.options.mode: 'session' is not available on an Open Plan instance; "
                "allowed there: 'batch' (the default) or 'job'"
            )
        self.target = service.backend(backend_name)
        self.remote = bool(service.remote)
        self.capabilities = Capabilities(exact=False, shots=True, remote=self.remote)
        self.isa = IsaTranspiler(
            self.target,
            self.options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL),
            layout=self.options.get("layout", "noise_aware"),
        )
        # Jobs submitted by this object: local-mode jobs cannot be looked up by id later.
        self._jobs: dict[str, RuntimeJob] = {}

    # -- building -----------------------------------------------------------------------------

    def pubs(self, tasks: Sequence[ExpectationTask | SharedTask]) -> list[Any]:
        """ISA PUBs: transpiled circuit, observables mapped through its layout, values.

        A :class:`~.remote.SharedTask` becomes one PUB whose observables array has shape
        ``(C, 1, ..., 1)``, broadcast against the values. No precision goes into a PUB: the
        shot count is sent as ``default_shots``, because the client turns a precision p into
        ceil(1/p^2) shots (1000 would come back as 1001).
        """
        check_tasks(self, tasks)
        out = []
        for t in tasks:
            if isinstance(t, SharedTask):
                prep = self.isa(t.circuit)
                obs = np.empty((len(t.observables),) + (1,) * (t.values.ndim - 1), dtype=object)
                for i, o in enumerate(t.observables):
                    obs[(i,) + (0,) * (t.values.ndim - 1)] = to_pauli_op(
                        o.apply_layout(prep.layout)
                    )
                out.append((prep.circuit, obs, t.values))
                continue
            isa, one = self.isa.map(t.circuit, t.observable)
            out.append((isa, to_pauli_op(one), t.values))
        return out

    def price(
        self,
        circuit: QuantumCircuit,
        observables: Sequence[SparseObservable],
        shots: int,
        *,
        overhead: float = 1.0,
    ) -> PubPrice:
        """One PUB by the offline model (:func:`~.timing.pub_price`), on its ISA circuit."""
        isa = self.isa(circuit).circuit
        return pub_price(self.target, isa, observables, shots, overhead=overhead)

    @staticmethod
    def _shots(tasks: Sequence[ExpectationTask | SharedTask]) -> int:
        shots = {t.shots for t in tasks}
        if len(shots) != 1:
            raise ValueError(f"shots: one runtime job runs one shot count, got {sorted(shots)}")
        return shots.pop()

    # Every call to the service goes through call_service (hiccups and 404s classified).
    _call = staticmethod(call_service)

    def _post(self, pubs: list[Any], options: dict[str, Any], mode: str) -> Any:
        """The submit call, its failure classified (:func:`~.ibm_errors.submit_failure`)."""
        try:
            return self.service.submit(self.target, pubs, options, mode)
        except Exception as exc:
            failure = submit_failure(exc)
            text = f"{type(exc).__name__}: {exc}"
            if failure.kind == "in_doubt":
                raise TransientServiceError(f"submit: {text}") from exc
            if failure.kind == "refused":
                raise SubmitRefusedError(f"submit: HTTP 429, not accepted now: {text}") from exc
            codes = ", ".join(
                f"{label} {value}"
                for label, value in (("HTTP", failure.http), ("code", failure.code))
                if value is not None
            )
            raise SubmitRejectedError(
                f"the service refused the job ({codes or 'before sending'}): "
                f"{failure.hint()}; {text}",
                failure.http,
                failure.code,
                failure.hint(),
            ) from exc

    # -- the remote steps ---------------------------------------------------------------------

    def submit(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
        *,
        seed: int | None,
        tag: str,
        more_tags: Sequence[str] = (),
    ) -> Submitted:
        """Submit the tasks as one job tagged ``tag``; return its id and what was sent."""
        shots = self._shots(tasks)
        pubs = self.pubs(tasks)
        options = estimator_options(
            self.options, seed=seed, tags=[*self.tags, tag, *more_tags], shots=shots
        )
        mode = self.options.get("mode", "batch")
        job = self._post(pubs, options, mode)
        job_id = str(job.job_id())
        self._jobs[job_id] = job
        provenance = {
            "backend": getattr(self.target, "name", str(self.target)),
            "instance": getattr(self.service, "instance", None),
            "layout": self.isa.layout_method,
            "qubits": [self.isa.physical_qubits(t.circuit) for t in tasks],
            "calibrated_at": calibration_time(self.target),
            "options": options,
            "shots_requested": shots,
            # What ran, exactly: the ISA circuits as QPY, and the software that built them.
            "isa_qpy": isa_qpy([pub[0] for pub in pubs]),
            "versions": package_versions(),
        }
        return Submitted(job_id, provenance)

    def execution_record(self, job_id: str) -> dict[str, Any]:
        """Timestamps, batch id, calibration at execution time and the options as finalised.

        Read from the job once it is final. Every item is best effort: what the service did
        not say is listed under ``not_reported`` instead of failing the run.
        """
        out: dict[str, Any] = {}
        missing = []
        try:
            job = self._job(job_id)
        except Exception:  # the result is committed whatever happens here
            return {"not_reported": ["job"]}
        job_any: Any = job  # metrics, session_id, inputs: RuntimeJobV2's, not the protocol's
        readers: dict[str, Callable[[], Any]] = {
            "timestamps": lambda: {
                k: str(v) for k, v in (job_any.metrics().get("timestamps") or {}).items() if v
            },
            "batch_id": lambda: getattr(job, "session_id", None),
            "calibrated_at_execution": lambda: calibration_time(job),
            "options_final": lambda: plain((getattr(job, "inputs", None) or {}).get("options")),
        }
        for key, read in readers.items():
            try:
                value = read()
            except Exception:  # provenance only: recorded as not reported
                value = None
            if value in (None, {}, ""):
                missing.append(key)
            else:
                out[key] = value
        if missing:
            out["not_reported"] = missing
        return out

    def find(self, tag: str) -> list[str]:
        """Ids of the service's jobs that carry ``tag``."""
        instance = getattr(self.service, "instance", None)
        return [str(i) for i in self._call("find", self.service.find_jobs, tag, instance)]

    def _job(self, job_id: str) -> RuntimeJob:
        if job_id not in self._jobs:
            if not self.remote:
                raise NotAttachableError(f"{self.name}: local jobs cannot be re-attached")
            self._jobs[job_id] = self._call("attach", self.service.job, job_id)
        return self._jobs[job_id]

    def poll(self, job_id: str) -> RemoteStatus:
        """The job's state, and the service's reason when it ended without a result."""
        job = self._job(job_id)
        state = normalize_status(self._call("poll", job.status))
        if state not in ("ERROR", "CANCELLED"):
            return RemoteStatus(state)
        reason, code = self._reason(job)
        if not reason and code is None and state == "ERROR" and self.remote:
            # The client caches the final state before it fetches the error text; when that
            # fetch failed, the cached job answers None for ever. A fresh copy from the service
            # fetches both again.
            fresh = self._call("attach", self.service.job, job_id)
            self._jobs[job_id] = fresh
            reason, code = self._reason(fresh)
        if state == "ERROR" and not reason and code is None:
            reason = "ERROR, reason unknown (the service's error text could not be read)"
        code = code if code is not None else reason_code(reason)
        return RemoteStatus(state, reason, code, failure_cause(RemoteStatus(state, reason, code)))

    def _reason(self, job: Any) -> tuple[str, int | None]:
        """The job's error text and reason code, from what the client holds."""
        fn = getattr(job, "error_message", None)
        text = str(self._call("poll", fn) or "") if callable(fn) else ""
        # The client keeps the state's reason and code apart from the error text, and sets
        # them before the fetch that can fail.
        raw_code = getattr(job, "_reason_code", None)
        code = int(raw_code) if isinstance(raw_code, int) else reason_code(text)
        if not text:
            text = str(getattr(job, "_reason", None) or "")
        return text, code if code is not None else reason_code(text)

    def collect(
        self, job_id: str, tasks: Sequence[ExpectationTask | SharedTask]
    ) -> list[Evaluation]:
        """The evaluations of a DONE job (every PUB), with the shots the service executed."""
        job = self._job(job_id)
        result = self._call("collect", job.result)
        total_shots = result.metadata.get("shots") if hasattr(result, "metadata") else None
        asked = {t.shots for t in tasks}
        out = []
        for pub in result:
            meta = dict(pub.metadata)
            fallback = total_shots if total_shots is not None else next(iter(asked), 0)
            shots = meta.get("shots", fallback)
            out.append(
                Evaluation(
                    np.asarray(pub.data.evs, dtype=float),
                    np.asarray(pub.data.stds, dtype=float),
                    int(shots),
                    job_id,
                    meta,
                    None,
                )
            )
        return out

    def usage(self, job_id: str) -> float | None:
        """QPU seconds billed; None while the service is still computing them."""
        try:
            return job_usage(self._job(job_id))
        except TransientServiceError:
            return None

    # -- the synchronous contract -------------------------------------------------------------

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
        *,
        seed: int | None = None,
        on_submit: OnSubmit | None = None,
    ) -> list[Evaluation]:
        """Submit one job with one PUB per task and wait for it."""
        submitted = self.submit(tasks, seed=seed, tag=new_tag())
        if on_submit is not None:
            on_submit(submitted.job_id)
        return self.wait(submitted.job_id, tasks)

    def attach(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """Re-attach to a submitted job by id and wait for it (never resubmits)."""
        if not self.remote:
            raise NotAttachableError(f"{self.name}: local jobs cannot be re-attached")
        return self.wait(job_id, tasks)

    def wait(self, job_id: str, tasks: Sequence[ExpectationTask | SharedTask]) -> list[Evaluation]:
        """Poll until the job is final; a hiccup backs off and polls again, never resubmits."""
        interval = float(self.options.get("poll_interval", 5.0 if self.remote else 0.0))
        failures = 0
        while True:
            try:
                status = self.poll(job_id)
                failures = 0
            except TransientServiceError as exc:
                failures += 1
                if failures > MAX_TRANSIENT_FAILURES:
                    raise JobInDoubtError(
                        f"lost contact with job {job_id} ({exc}); it may still run: resume "
                        "re-attaches to it"
                    ) from exc
                time.sleep(backoff(interval, failures))
                continue
            if status.state == "DONE":
                break
            if status.final:
                raise JobFailedError(
                    f"job {job_id} {status.state.lower()}: {status.reason}",
                    status.state,
                    failure_cause(status),
                )
            time.sleep(interval)
        evaluations = self.collect(job_id, tasks)
        usage = self.usage(job_id) if self.remote else None
        return [dataclasses.replace(e, usage_seconds=usage) for e in evaluations]

    def close(self) -> None:
        """Close the service's batch or session."""
        self.service.close()


# Local testing mode simulates every qubit of the device: on the 127- and 156-qubit fakes it
# ran out of memory after minutes ("no reason given"), retried three times. Up to this many
# qubits it runs; wider devices are refused up front.
LOCAL_MODE_MAX_QUBITS = 32


def fake_runtime_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> RuntimeBackend:
    """``fake:<device>``: local testing mode on a fake device (offline, real shots)."""
    service = service or LocalService()
    if not service.remote:
        check_local_mode_width(name, device, int(getattr(service.backend(device), "num_qubits", 0)))
    return RuntimeBackend(service, device, options=options, tags=tags, name=name)


def check_local_mode_width(name: str, device: str, width: int) -> None:
    """Refuse local testing mode on a device too wide for it, pointing at ``aer:<device>``."""
    if width > LOCAL_MODE_MAX_QUBITS:
        raise BackendNameError(
            f"backend.name: {name} runs in local testing mode, which simulates all {width} "
            f"qubits of the device and runs out of memory; use aer:{device} (the same noise "
            f"model, simulating only the qubits the circuit uses), or a fake device of at most "
            f"{LOCAL_MODE_MAX_QUBITS} qubits"
        )


def ibm_runtime_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> RuntimeBackend:
    """``ibm:<backend>``: a real QPU through the saved account (or ``service``, in tests)."""
    return RuntimeBackend(service or IBMService(), device, options=options, tags=tags, name=name)
