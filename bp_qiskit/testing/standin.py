"""A stand-in for ``QiskitRuntimeService`` that fails the way the real client does.

Jobs compute real results (Aer, noiseless, real shots) on the ISA PUBs they are given, and
walk through a scripted list of statuses. The faults are those qiskit-ibm-runtime 0.51
produces, with its own exception types:

- an outage while polling: an exception instance in a job's script is raised by ``status()``
  (use :func:`outage`, a ``RequestsApiError`` with status 503, as the client raises it);
- an outage while re-attaching: ``service.job(id)`` raises ``IBMRuntimeError("Failed to
  retrieve job: ...")`` ``attach_faults`` times, as the client wraps a failed request;
- a crash between submit and persisting the id: ``die_after_submit`` submissions reach the
  service, then :class:`ProcessDied` is raised before the id is returned;
- a user's cancel (CANCELLED, no message), a job that ran past ``max_execution_time``
  (ERROR, reason code 1305, the client's message) and infrastructure errors (ERROR with a
  code); ``result()`` then raises ``RuntimeInvalidStateError``, ``RuntimeJobMaxTimeoutError``
  or ``RuntimeJobFailureError``;
- usage that is still being computed: ``usage()`` returns 0 and ``metrics()`` says
  ``pending`` for the first ``usage_pending`` reads.

Shipped in the package so users can test their own hardware workflows offline.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..backends import Backend, Capabilities, Evaluation, ExpectationTask, make_backend
from ..backends.protocol import OnSubmit, shots_to_precision

__all__ = [
    "InterruptingBackend",
    "ProcessDied",
    "StandInJob",
    "StandInService",
    "max_time_exceeded",
    "outage",
]


class ProcessDied(BaseException):
    """Raised to model this process being killed (kill -9) at that moment."""


def outage(status_code: int = 503) -> Exception:
    """The exception the real client raises when the service cannot be reached."""
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError

    return RequestsApiError(f"'{status_code} Server Error: Service Unavailable'", status_code)


def max_time_exceeded(job_id: str = "<job>") -> str:
    """The client's message for a job stopped at ``max_execution_time`` (reason code 1305)."""
    return (
        f"Job {job_id} ran longer than maximum execution time. Job was cancelled:\n"
        "Error code 1305; Job cancelled - ran too long"
    )


class StandInJob:
    """A scripted runtime job: ``status()`` walks the script; ``result()`` simulates."""

    def __init__(
        self,
        job_id: str,
        pubs: list[Any],
        options: Mapping[str, Any],
        script: Sequence[Any],
        reason: str,
        usage_pending: int,
        events: list[tuple[str, str]] | None = None,
    ) -> None:
        self._id, self._pubs = job_id, pubs
        self.events = events if events is not None else []
        self.options = dict(options)
        self.tags = list(options.get("environment", {}).get("job_tags", []))
        self.script = list(script)
        self.reason = reason
        self.polls = 0
        self.usage_pending = usage_pending
        self._result: Any = None

    def job_id(self) -> str:
        """The job's id."""
        return self._id

    @property
    def state(self) -> str:
        """Where the script stands (what the service would report next without a fault)."""
        return next((x for x in self.script if isinstance(x, str)), "QUEUED")

    def status(self) -> Any:
        """The next scripted status (the last one repeats); exceptions in it are raised."""
        self.polls += 1
        self.events.append(("poll", self._id))
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        return item

    def error_message(self) -> str | None:
        """As the client: a message for ERROR, None otherwise (a cancel has no message)."""
        return self.reason if self.script[0] == "ERROR" else None

    def usage(self) -> float:
        """QPU seconds; 0 while the service is still computing usage, as the client does."""
        return self.metrics()["usage"].get("qpu_charge_time_seconds") or 0

    def metrics(self) -> dict[str, Any]:
        """The job's metrics; usage says ``pending`` for the first ``usage_pending`` reads."""
        if self.usage_pending > 0:
            self.usage_pending -= 1
            return {"usage": {"status": "pending"}}
        return {"usage": {"status": "completed", "qpu_charge_time_seconds": 2.5}}

    def cancel(self) -> None:
        """Cancel: every later status is CANCELLED."""
        self.script = ["CANCELLED"]

    def result(self) -> Any:
        """Simulate the PUBs (noiseless, real shots); a cancelled or failed job raises."""
        from qiskit_ibm_runtime.exceptions import (
            RuntimeInvalidStateError,
            RuntimeJobFailureError,
            RuntimeJobMaxTimeoutError,
        )

        if self.script[0] == "CANCELLED":
            raise RuntimeInvalidStateError(f"Unable to retrieve result for job {self._id}.")
        if self.script[0] == "ERROR":
            if "1305" in self.reason:
                raise RuntimeJobMaxTimeoutError(self.reason)
            raise RuntimeJobFailureError(f"Unable to retrieve job result. {self.reason}")
        if self._result is None:
            from qiskit_aer import AerSimulator

            from ..backends.aer import AerEstimator

            seed = self.options.get("simulator", {}).get("seed_simulator")
            precision = shots_to_precision(int(self.options.get("default_shots", 1024)))
            # ISA circuits carry parameter expressions: no runtime parameter binding.
            est = AerEstimator(seed=seed, simulator=AerSimulator(method="statevector"))
            self._result = est.run([(*pub, precision) for pub in self._pubs]).result()
        return self._result


class StandInService:
    """``remote = True``: bp_qiskit treats it as the IBM cloud.

    Args:
        scripts: Submission number -> status script of that job (default: queued, running,
            done).
        reasons: Submission number -> the message a failed job reports.
        attach_faults: How many ``job(id)`` calls fail (outage) before one succeeds.
        die_after_submit: Submission numbers whose job reaches the service and then the
            process dies before the id is returned.
        usage_pending: Reads of each job's usage that still say ``pending``.
        usage_report: What ``usage()`` returns (the instance's allocation), or None when the
            plan has no such report.
        estimate: QPU seconds the service's dry run returns, or None (not on this plan).
    """

    remote = True
    instance = "crn:v1:standin:instance"

    def __init__(
        self,
        scripts: Mapping[int, Sequence[Any]] | None = None,
        reasons: Mapping[int, str] | None = None,
        *,
        attach_faults: int = 0,
        die_after_submit: Iterable[int] = (),
        usage_pending: int = 0,
        usage_report: Mapping[str, Any] | None = None,
        estimate: float | None = None,
    ) -> None:
        self.scripts = dict(scripts or {})
        self.reasons = dict(reasons or {})
        self.attach_faults = attach_faults
        self.die_after_submit = set(die_after_submit)
        self.usage_pending = usage_pending
        self.usage_report = dict(usage_report) if usage_report is not None else None
        self.estimate_seconds = estimate
        self.jobs: dict[str, StandInJob] = {}
        self.events: list[tuple[str, str]] = []  # ("submit" | "poll", job id), in order
        self.submissions = 0
        self.closed = 0
        self.last_options: dict[str, Any] = {}
        self._ids = itertools.count()

    def backend(self, name: str) -> Any:
        """Every name is a FakeManilaV2 (5 qubits)."""
        from qiskit_ibm_runtime.fake_provider import FakeManilaV2

        return FakeManilaV2()

    def submit(self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str) -> Any:
        """Record a submission and return its scripted job."""
        n = self.submissions
        self.submissions += 1
        job_id = f"standin-{next(self._ids)}"
        script = self.scripts.get(n, ["QUEUED", "RUNNING", "DONE"])
        reason = self.reasons.get(n, "")
        self.jobs[job_id] = StandInJob(
            job_id,
            pubs,
            options,
            script,
            reason.replace("<job>", job_id),
            self.usage_pending,
            self.events,
        )
        self.events.append(("submit", job_id))
        self.last_options = options
        if n in self.die_after_submit:
            raise ProcessDied
        return self.jobs[job_id]

    def job(self, job_id: str) -> StandInJob:
        """Re-attach by id; an outage surfaces as the client's IBMRuntimeError."""
        if self.attach_faults > 0:
            from qiskit_ibm_runtime.exceptions import IBMRuntimeError

            self.attach_faults -= 1
            raise IBMRuntimeError(f"Failed to retrieve job: {outage()}")
        if job_id not in self.jobs:
            from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return self.jobs[job_id]

    def find_jobs(self, tag: str) -> list[str]:
        """Ids of the jobs that carry ``tag``."""
        return [i for i, j in self.jobs.items() if tag in j.tags]

    def usage(self) -> dict[str, Any]:
        """The instance's usage report, as ``QiskitRuntimeService.usage()``."""
        if self.usage_report is None:
            from qiskit_ibm_runtime.exceptions import IBMRuntimeError

            raise IBMRuntimeError("usage is not available for this plan")
        return dict(self.usage_report)

    def estimate(self, backend: Any, pubs: list[Any], options: dict[str, Any]) -> float | None:
        """The service's dry-run estimate of QPU seconds (None: not offered on this plan)."""
        return self.estimate_seconds

    def close(self) -> None:
        """Count closes (a run closes its batch once)."""
        self.closed += 1


class InterruptingBackend:
    """Delegates to the ``aer`` backend, and raises KeyboardInterrupt on call ``at_call``."""

    name = "aer"

    def __init__(self, at_call: int) -> None:
        self.inner: Backend = make_backend("aer")
        self.capabilities: Capabilities = self.inner.capabilities
        self.calls, self.at_call = 0, at_call

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask],
        *,
        seed: int | None = None,
        on_submit: OnSubmit | None = None,
    ) -> list[Evaluation]:
        """Evaluate, or press Ctrl-C."""
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return self.inner.evaluate(tasks, seed=seed, on_submit=on_submit)

    def attach(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """As the inner backend."""
        return self.inner.attach(job_id, tasks)

    def close(self) -> None:
        """As the inner backend."""
        self.inner.close()
