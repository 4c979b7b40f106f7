"""A stand-in for QiskitRuntimeService: just the surface bp_qiskit uses, with scripted jobs.

Jobs compute real results (Aer, noiseless, real shots) on the ISA PUBs they are given, and
walk through a scripted list of statuses; an exception instance in the script is raised by
``status()`` (a lost connection), and ``ProcessDied`` simulates the process being killed.
"""

from __future__ import annotations

import itertools
from typing import Any

from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from bp_qiskit.backends.aer import AerEstimator


class ProcessDied(BaseException):
    """Raised from status() to model a crash while polling."""


class StandInJob:
    def __init__(self, job_id, pubs, seed, script, reason=""):
        self._id, self._pubs, self._seed = job_id, pubs, seed
        self.script = list(script)
        self.reason = reason
        self.polls = 0
        self._result = None

    def job_id(self):
        return self._id

    def status(self):
        self.polls += 1
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        return item

    def error_message(self):
        return self.reason

    def usage(self):
        return {"quantum_seconds": 2.5}

    def cancel(self):
        self.script = ["CANCELLED"]

    def result(self):
        if self.script[0] in ("CANCELLED", "ERROR"):
            raise RuntimeError("result() of a cancelled or failed job")
        if self._result is None:
            # ISA circuits carry parameter expressions: no runtime parameter binding.
            est = AerEstimator(seed=self._seed, simulator=AerSimulator(method="statevector"))
            self._result = est.run(self._pubs).result()
        return self._result


class StandInService:
    """remote=True: bp_qiskit treats it as the IBM cloud."""

    remote = True

    def __init__(self, scripts=None, reasons=None):
        self.scripts = scripts or {}
        self.reasons = reasons or {}
        self.jobs: dict[str, StandInJob] = {}
        self.submissions = 0
        self._ids = itertools.count()

    def backend(self, name: str) -> Any:
        return FakeManilaV2()

    def submit(self, backend, pubs, options, mode):
        n = self.submissions
        self.submissions += 1
        job_id = f"standin-{next(self._ids)}"
        script = self.scripts.get(n, ["QUEUED", "RUNNING", "DONE"])
        seed = options.get("simulator", {}).get("seed_simulator")
        self.jobs[job_id] = StandInJob(job_id, pubs, seed, script, self.reasons.get(n, ""))
        self.last_options = options
        return self.jobs[job_id]

    def job(self, job_id):
        return self.jobs[job_id]


class InterruptingBackend:
    """Delegates to the 'aer' backend, and raises KeyboardInterrupt (Ctrl-C) on call ``at_call``."""

    name, remote = "aer", False

    def __init__(self, at_call):
        from bp_qiskit.backends import make_backend

        self.inner, self.calls, self.at_call = make_backend("aer"), 0, at_call

    def evaluate(self, tasks, **kw):
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return self.inner.evaluate(tasks, **kw)
