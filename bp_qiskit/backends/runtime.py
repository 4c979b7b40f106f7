"""IBM Runtime backends: ``fake:<device>`` (local testing mode) and ``ibm:<backend>`` (a QPU).

The runtime estimator is ``qiskit_ibm_runtime.executor_estimator.Estimator``
(``qiskit_ibm_runtime.EstimatorV2`` is deprecated since 0.50). Circuits are transpiled to ISA
circuits with a preset pass manager for the target and observables follow the circuit's
layout (:class:`~bp_qiskit.backends.isa.IsaTranspiler`). Jobs go through a
:class:`~bp_qiskit.backends.services.RuntimeService`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.observables import to_pauli_op
from .isa import IsaTranspiler
from .options import DEFAULT_OPTIMIZATION_LEVEL, estimator_options, validate_options
from .protocol import (
    Capabilities,
    Evaluation,
    ExpectationTask,
    NotAttachableError,
    OnSubmit,
    check_tasks,
    shots_to_precision,
)
from .services import IBMService, LocalService, RuntimeJob, RuntimeService

__all__ = [
    "JobFailedError",
    "RuntimeBackend",
    "fake_runtime_backend",
    "ibm_runtime_backend",
    "normalize_status",
]


class JobFailedError(RuntimeError):
    """A remote job ended in ERROR or CANCELLED; the message carries the reason.

    Attributes:
        state: ``"ERROR"`` or ``"CANCELLED"`` (what the store records).
    """

    def __init__(self, message: str, state: str = "ERROR") -> None:
        super().__init__(message)
        self.state = state


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


class RuntimeBackend:
    """A :class:`~bp_qiskit.backends.protocol.Backend` on IBM Runtime (shots only).

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
        self.target = service.backend(backend_name)
        self.remote = bool(service.remote)
        self.capabilities = Capabilities(exact=False, shots=True, remote=self.remote)
        self.isa = IsaTranspiler(
            self.target, self.options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
        )

    def pubs(self, tasks: Sequence[ExpectationTask]) -> list[Any]:
        """ISA PUBs: transpiled circuit, observable mapped through its layout, values, precision."""
        check_tasks(self, tasks)
        out = []
        for t in tasks:
            isa, obs = self.isa.map(t.circuit, t.observable)
            out.append((isa, to_pauli_op(obs), t.values, shots_to_precision(t.shots)))
        return out

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask],
        *,
        seed: int | None = None,
        on_submit: OnSubmit | None = None,
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
        if not self.remote:
            raise NotAttachableError(f"{self.name}: local jobs cannot be re-attached")
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
        self.service.close()


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


def fake_runtime_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> RuntimeBackend:
    """``fake:<device>``: local testing mode on a fake device (offline, real shots)."""
    return RuntimeBackend(service or LocalService(), device, options=options, tags=tags, name=name)


def ibm_runtime_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> RuntimeBackend:
    """``ibm:<backend>``: a real QPU through the saved account (or ``service``, in tests)."""
    return RuntimeBackend(service or IBMService(), device, options=options, tags=tags, name=name)
