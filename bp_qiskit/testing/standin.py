"""A stand-in for ``QiskitRuntimeService`` that fails the way the real client does.

Jobs compute real results (Aer, noiseless, real shots) on the ISA PUBs they are given, and
walk through a scripted list of statuses. The faults are those qiskit-ibm-runtime 0.51
produces, with its own exception types:

- an outage while polling: an exception instance in a job's script is raised by ``status()``
  (use :func:`~bp_qiskit.testing.faults.outage`, a ``RequestsApiError`` with status 503,
  as the client raises it);
- an outage while re-attaching: ``service.job(id)`` raises ``IBMRuntimeError("Failed to
  retrieve job: ...")`` ``attach_faults`` times, as the client wraps a failed request;
- a crash between submit and persisting the id: ``die_after_submit`` submissions reach the
  service, then :class:`~bp_qiskit.testing.faults.ProcessDied` is raised before the id is returned;
- a user's cancel (CANCELLED, no message), a job that ran past ``max_execution_time``
  (ERROR, reason code 1305, the client's message) and infrastructure errors (ERROR with a
  code); ``result()`` then raises ``RuntimeInvalidStateError``, ``RuntimeJobMaxTimeoutError``
  or ``RuntimeJobFailureError``;
- usage that is still being computed: ``usage()`` returns 0 and ``metrics()`` says
  ``pending`` for the first ``usage_pending`` reads;
- a failed POST, wrapped as the client wraps it (``IBMRuntimeError("Failed to run program:
  '400 Client Error: ...'")``), with or without the job created anyway (``post_errors``);
- a service slow to list a new job by its tag (``list_delay``);
- a final state cached before the error text is fetched, and that fetch failing
  (``fetch_fails``);
- a job the service no longer knows: 404 on every request (:meth:`StandInService.vanish`).

Shipped in the package so users can test their own hardware workflows offline.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..backends.ibm_errors import reason_code
from ..backends.protocol import shots_to_precision
from .faults import ProcessDied, outage

__all__ = ["StandInJob", "StandInService"]


@dataclasses.dataclass
class _ServerJob:
    """What the service knows of one job; every client-side view of it shares this."""

    job_id: str
    pubs: list[Any]
    options: dict[str, Any]
    script: list[Any]
    reason: str
    usage_pending: int
    events: list[tuple[str, str]]
    fetch_fails: int = 0  # error-text fetches that fail (the GET after the final state)
    reason_in_state: bool = True  # whether the state carries the reason and its code
    vanished: bool = False
    polls: int = 0
    result: Any = None
    mode: str = "batch"  # the batch, session or single job the client opened

    @property
    def tags(self) -> list[str]:
        return list(self.options.get("environment", {}).get("job_tags", []))


class StandInJob:
    """A client-side view of a scripted job, caching as ``RuntimeJobV2`` does.

    ``status()`` walks the service's script (the last entry repeats; exceptions in it are
    raised). Like the real client, a view caches a final state *before* it fetches the error
    text, and never asks the service again once final: when that fetch fails (``fetch_fails``),
    ``status()`` raises once, later calls answer ``"ERROR"`` from the cache, and
    ``error_message()`` answers None for ever. The state's reason and code stay in
    ``_reason`` and ``_reason_code``, as the client keeps them, unless the service sent none
    (``reason_in_state=False``). ``service.job(id)`` builds a fresh view, which fetches again.
    """

    def __init__(self, server: _ServerJob) -> None:
        self._server = server
        self._final: str | None = None
        self._reason: str | None = None
        self._reason_code: int | None = None
        self._error_message: str | None = None

    # The service-side fields tests script and read.
    @property
    def script(self) -> list[Any]:
        """The statuses the service will report next."""
        return self._server.script

    @script.setter
    def script(self, value: list[Any]) -> None:
        self._server.script = list(value)

    @property
    def polls(self) -> int:
        """Status calls that reached the service, over every view of the job."""
        return self._server.polls

    @property
    def tags(self) -> list[str]:
        """The job's tags."""
        return self._server.tags

    @property
    def options(self) -> dict[str, Any]:
        """The options the job was submitted with."""
        return self._server.options

    @property
    def mode(self) -> str:
        """The batch, session or single job the client submitted it in."""
        return self._server.mode

    @property
    def pubs(self) -> list[Any]:
        """The PUBs the job was submitted with."""
        return self._server.pubs

    def job_id(self) -> str:
        """The job's id."""
        return self._server.job_id

    @property
    def state(self) -> str:
        """Where the script stands (what the service would report next without a fault)."""
        return next((x for x in self._server.script if isinstance(x, str)), "QUEUED")

    def _fetch(self) -> Any:
        server = self._server
        server.polls += 1
        server.events.append(("poll", server.job_id))
        if server.vanished:
            from qiskit_ibm_runtime.api.exceptions import RequestsApiError

            raise RequestsApiError(
                f"'404 Client Error: Not Found for url: .../jobs/{server.job_id}'", 404
            )
        script = server.script
        return script.pop(0) if len(script) > 1 else script[0]

    def status(self) -> Any:
        """The job's state: cached once final, as the client does."""
        if self._final is not None:
            return self._final
        item = self._fetch()
        if isinstance(item, BaseException):
            raise item
        if item in ("DONE", "ERROR", "CANCELLED"):
            self._final = item
            server = self._server
            if item == "ERROR":
                if server.reason_in_state and server.reason:
                    self._reason = server.reason
                    self._reason_code = reason_code(server.reason)
                if server.fetch_fails > 0:
                    server.fetch_fails -= 1
                    raise outage()  # the error-text GET, after the state was cached
                self._error_message = server.reason or None
        return item

    def error_message(self) -> str | None:
        """As the client: the error text of an ERROR job (None for a cancel, or if unread)."""
        if self._final is None:
            self.status()
        return self._error_message

    def usage(self) -> float:
        """QPU seconds; 0 while the service is still computing usage, as the client does."""
        return self.metrics()["usage"].get("qpu_charge_time_seconds") or 0

    def metrics(self) -> dict[str, Any]:
        """The job's metrics; usage says ``pending`` for the first ``usage_pending`` reads."""
        server = self._server
        stamps = {
            "created": "2026-12-01T10:00:00Z",
            "running": "2026-12-01T10:05:00Z" if self._final else None,
            "finished": "2026-12-01T10:05:30Z" if self._final else None,
        }
        if server.usage_pending > 0:
            server.usage_pending -= 1
            return {"usage": {"status": "pending"}, "timestamps": stamps}
        return {
            "usage": {"status": "completed", "qpu_charge_time_seconds": 2.5},
            "timestamps": stamps,
        }

    @property
    def session_id(self) -> str:
        """The batch the job ran in."""
        return "standin-batch-0"

    @property
    def inputs(self) -> dict[str, Any]:
        """The job's parameters as the service stored them: the options, with its defaults."""
        return {"version": 2, "options": {"max_execution_time": None, **self._server.options}}

    def properties(self) -> Any:
        """The calibration in force when the job ran."""
        import datetime

        return types.SimpleNamespace(
            last_update_date=datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
        )

    def cancel(self) -> None:
        """Cancel: every later status is CANCELLED."""
        self._server.script = ["CANCELLED"]
        self._final = "CANCELLED"

    def result(self) -> Any:
        """Simulate the PUBs (noiseless, real shots); a cancelled or failed job raises."""
        from qiskit_ibm_runtime.exceptions import (
            RuntimeInvalidStateError,
            RuntimeJobFailureError,
            RuntimeJobMaxTimeoutError,
        )

        server = self._server
        state = self._final or self.state
        if state == "CANCELLED":
            raise RuntimeInvalidStateError(f"Unable to retrieve result for job {server.job_id}.")
        if state == "ERROR":
            if "1305" in server.reason:
                raise RuntimeJobMaxTimeoutError(server.reason)
            raise RuntimeJobFailureError(f"Unable to retrieve job result. {server.reason}")
        if server.result is None:
            from qiskit_aer import AerSimulator

            from ..backends.aer import AerEstimator

            seed = server.options.get("simulator", {}).get("seed_simulator")
            precision = shots_to_precision(int(server.options.get("default_shots", 1024)))
            # ISA circuits carry parameter expressions: no runtime parameter binding.
            est = AerEstimator(seed=seed, simulator=AerSimulator(method="statevector"))
            server.result = est.run([(*pub, precision) for pub in server.pubs]).result()
        return server.result


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
        post_errors: Submission number -> ``(exception, created)``: the POST raises the
            exception (see :func:`post_error`, :func:`read_timeout`); ``created`` says whether
            the service created the job anyway (a read time-out while it was committing).
        list_delay: Tag listings that do not show a new job yet (the service is slow to list).
        fetch_fails: Submission numbers whose error-text fetch fails once (or a mapping to
            how many times).
        reason_in_state: Whether an ERROR state carries its reason and code.
        plan: The instance's plan (``"open"`` cannot run sessions).
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
        post_errors: Mapping[int, tuple[Exception, bool]] | None = None,
        list_delay: int = 0,
        fetch_fails: Mapping[int, int] | Iterable[int] = (),
        reason_in_state: bool = True,
        plan: str | None = "paygo",
    ) -> None:
        self.plan = plan
        self.scripts = dict(scripts or {})
        self.reasons = dict(reasons or {})
        self.attach_faults = attach_faults
        self.die_after_submit = set(die_after_submit)
        self.usage_pending = usage_pending
        self.usage_report = dict(usage_report) if usage_report is not None else None
        self.estimate_seconds = estimate
        self.post_errors = dict(post_errors or {})
        self.list_delay = list_delay
        self.fetch_fails = (
            dict(fetch_fails) if isinstance(fetch_fails, Mapping) else dict.fromkeys(fetch_fails, 1)
        )
        self.reason_in_state = reason_in_state
        self.jobs: dict[str, StandInJob] = {}
        self.events: list[tuple[str, str]] = []  # ("submit" | "poll", job id), in order
        self.submissions = 0  # POSTs
        self.listings: dict[str, int] = {}  # job id -> tag listings it has been hidden from
        self.instances_searched: list[str | None] = []
        self.closed = 0
        self.last_options: dict[str, Any] = {}
        self._ids = itertools.count()

    def backend(self, name: str) -> Any:
        """Every name is a FakeManilaV2 (5 qubits)."""
        from qiskit_ibm_runtime.fake_provider import FakeManilaV2

        return FakeManilaV2()

    def submit(self, backend: Any, pubs: list[Any], options: dict[str, Any], mode: str) -> Any:
        """Record a POST; create its scripted job, unless the POST fails before that."""
        n = self.submissions
        self.submissions += 1
        error, created = self.post_errors.get(n, (None, True))
        if error is not None and not created:
            raise error
        job_id = f"standin-{next(self._ids)}"
        script = self.scripts.get(n, ["QUEUED", "RUNNING", "DONE"])
        reason = self.reasons.get(n, "")
        server = _ServerJob(
            job_id,
            pubs,
            dict(options),
            list(script),
            reason.replace("<job>", job_id),
            self.usage_pending,
            self.events,
            fetch_fails=self.fetch_fails.get(n, 0),
            reason_in_state=self.reason_in_state,
            mode=mode,
        )
        self.jobs[job_id] = StandInJob(server)
        self.listings[job_id] = 0
        self.events.append(("submit", job_id))
        self.last_options = options
        if error is not None:
            raise error  # the service has the job; the client never heard
        if n in self.die_after_submit:
            raise ProcessDied
        return self.jobs[job_id]

    def created(self) -> int:
        """Jobs the service created (each one runs and is billed)."""
        return len(self.jobs)

    def vanish(self, job_id: str) -> None:
        """The service forgets the job: every later request about it answers 404."""
        self.jobs[job_id]._server.vanished = True

    def job(self, job_id: str) -> StandInJob:
        """A fresh view of a job by id; an outage surfaces as the client's IBMRuntimeError."""
        if self.attach_faults > 0:
            from qiskit_ibm_runtime.exceptions import IBMRuntimeError

            self.attach_faults -= 1
            raise IBMRuntimeError(f"Failed to retrieve job: {outage()}")
        if job_id not in self.jobs or self.jobs[job_id]._server.vanished:
            from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return StandInJob(self.jobs[job_id]._server)

    def find_jobs(self, tag: str, instance: str | None = None) -> list[str]:
        """Ids of the jobs that carry ``tag``; a new job is listed only after ``list_delay``."""
        self.instances_searched.append(instance)
        out = []
        for job_id, job in self.jobs.items():
            if tag not in job.tags:
                continue
            if self.listings.setdefault(job_id, self.list_delay) < self.list_delay:
                self.listings[job_id] += 1
                continue
            out.append(job_id)
        return out

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
