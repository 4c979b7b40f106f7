"""A stand-in for ``QiskitRuntimeService``: the surface bp_qiskit uses, with scripted jobs.

Jobs compute real results (Aer, noiseless, real shots) on the ISA PUBs they are given, and
walk through a scripted list of statuses; an exception instance in the script is raised by
``status()`` (a lost connection), and :class:`ProcessDied` simulates the process being
killed. Shipped in the package so users can test their own hardware workflows offline.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..backends import Backend, Capabilities, Evaluation, ExpectationTask, make_backend
from ..backends.protocol import OnSubmit

__all__ = ["InterruptingBackend", "ProcessDied", "StandInJob", "StandInService"]


class ProcessDied(BaseException):
    """Raised from ``status()`` to model a crash while polling."""


class StandInJob:
    """A scripted runtime job: ``status()`` walks the script; ``result()`` simulates."""

    def __init__(
        self, job_id: str, pubs: list[Any], seed: int | None, script: Sequence[Any], reason: str
    ) -> None:
        self._id, self._pubs, self._seed = job_id, pubs, seed
        self.script = list(script)
        self.reason = reason
        self.polls = 0
        self._result: Any = None

    def job_id(self) -> str:
        """The job's id."""
        return self._id

    def status(self) -> Any:
        """The next scripted status (the last one repeats); exceptions in it are raised."""
        self.polls += 1
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        return item

    def error_message(self) -> str:
        """The scripted failure reason."""
        return self.reason

    def usage(self) -> dict[str, float]:
        """A fixed usage report."""
        return {"quantum_seconds": 2.5}

    def cancel(self) -> None:
        """Cancel: every later status is CANCELLED."""
        self.script = ["CANCELLED"]

    def result(self) -> Any:
        """Simulate the PUBs (noiseless, real shots); a cancelled or failed job raises."""
        if self.script[0] in ("CANCELLED", "ERROR"):
            raise RuntimeError("result() of a cancelled or failed job")
        if self._result is None:
            from qiskit_aer import AerSimulator

            from ..backends.aer import AerEstimator

            # ISA circuits carry parameter expressions: no runtime parameter binding.
            est = AerEstimator(seed=self._seed, simulator=AerSimulator(method="statevector"))
            self._result = est.run(self._pubs).result()
        return self._result


class StandInService:
    """``remote = True``: bp_qiskit treats it as the IBM cloud.

    Args:
        scripts: Submission number -> status script of that job (default: queued, running,
            done).
        reasons: Submission number -> the failure reason the job reports.
    """

    remote = True

    def __init__(
        self,
        scripts: Mapping[int, Sequence[Any]] | None = None,
        reasons: Mapping[int, str] | None = None,
    ) -> None:
        self.scripts = dict(scripts or {})
        self.reasons = dict(reasons or {})
        self.jobs: dict[str, StandInJob] = {}
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
        seed = options.get("simulator", {}).get("seed_simulator")
        self.jobs[job_id] = StandInJob(job_id, pubs, seed, script, self.reasons.get(n, ""))
        self.last_options = options
        return self.jobs[job_id]

    def job(self, job_id: str) -> StandInJob:
        """Re-attach by id."""
        return self.jobs[job_id]

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
