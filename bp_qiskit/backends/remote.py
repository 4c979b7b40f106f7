"""The contract of a backend whose jobs run elsewhere (a QPU): submit, find, poll, collect.

A remote job is billed while it runs, and it keeps running whatever happens to this process.
So the run loop (:mod:`bp_qiskit.execution.remote`) drives remote jobs step by step instead of
calling ``evaluate`` and waiting, and persists each step. This module holds what it needs:

- :class:`RemoteBackend`: the four steps, each a single call to the service.
- :class:`RemoteStatus`: what one poll saw, with the service's reason code.
- :func:`failure_cause`: why a job ended without a result, which decides whether it may be
  submitted again (only ``"transient"`` failures are, up to a limit). A failure whose reason
  the service did not give is ``"unknown"`` and is *held*: it may be a time-out or the user's
  own error, and a retry would bill it again.
- :func:`is_transient`: whether an *exception* from the client is a network or server
  hiccup. The real client raises ``qiskit_ibm_runtime.api.exceptions.RequestsApiError`` (a
  ``QiskitError``, not a ``ConnectionError``) for those; a hiccup never means the job failed,
  so it is answered by polling again later, never by submitting again.
- :func:`submit_failure`: what a failed submit call means. The client wraps every POST error
  as ``IBMRuntimeError("Failed to run program: '400 Client Error: ...'")``, so the HTTP status
  is read from the text: a 4xx other than 408 and 429 is the service refusing the job (it
  would refuse it again), 429 is "not accepted, try later", and anything else (no answer, a
  read time-out, 5xx, 408) leaves the job *in doubt*: the server may still be committing it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from ..errors import BPQiskitError
from .protocol import Backend, Evaluation, ExpectationTask, SharedTask
from .timing import PubPrice

__all__ = [
    "FINAL_STATES",
    "MAX_TRANSIENT_FAILURES",
    "JobVanishedError",
    "PricedBackend",
    "RemoteBackend",
    "RemoteStatus",
    "SharedTask",
    "SubmitRefusedError",
    "SubmitRejectedError",
    "Submitted",
    "TransientServiceError",
    "backoff",
    "new_tag",
]

FINAL_STATES = ("DONE", "ERROR", "CANCELLED")


class TransientServiceError(BPQiskitError):
    """The service could not be reached or answered 5xx; the job's fate is unknown."""


class SubmitRejectedError(BPQiskitError):
    """The service refused a submission (HTTP 4xx): the same job would be refused again.

    Attributes:
        http: The HTTP status (None when the client gave none).
        code: The service's 4-digit error code, when its text carries one.
        hint: What the user can do about it.
    """

    def __init__(self, message: str, http: int | None, code: int | None, hint: str) -> None:
        super().__init__(message)
        self.http, self.code, self.hint = http, code, hint


class SubmitRefusedError(BPQiskitError):
    """HTTP 429: the service did not accept the job now; it was not created."""


class JobVanishedError(BPQiskitError):
    """The service has no job with this id any more (HTTP 404): it will never finish."""


@dataclasses.dataclass(frozen=True)
class RemoteStatus:
    """One poll of a remote job.

    Attributes:
        state: 'QUEUED', 'RUNNING', 'DONE', 'ERROR' or 'CANCELLED'.
        reason: The service's message for ERROR / CANCELLED ('' otherwise).
        code: The service's reason code, when it gives one (1305: ran too long).
        cause: For ERROR / CANCELLED, why, as the backend reads its service's codes:
            ``"cancelled"``, ``"timeout"``, ``"permanent"``, ``"unknown"`` or
            ``"transient"`` (only the last is ever resubmitted; see
            :func:`~bp_qiskit.backends.ibm_errors.failure_cause`). None reads as unknown:
            a backend that does not say is held, never resubmitted.
    """

    state: str
    reason: str = ""
    code: int | None = None
    cause: str | None = None

    @property
    def final(self) -> bool:
        """The job will not change any more."""
        return self.state in FINAL_STATES


@dataclasses.dataclass(frozen=True)
class Submitted:
    """A job the service accepted: its id, and what was sent (provenance, never a token)."""

    job_id: str
    provenance: dict[str, Any]


@runtime_checkable
class RemoteBackend(Backend, Protocol):
    """A :class:`~bp_qiskit.backends.protocol.Backend` whose jobs outlive this process.

    Every method makes one round of calls to the service and raises
    :class:`TransientServiceError` when the service could not answer.
    """

    def submit(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
        *,
        seed: int | None,
        tag: str,
        more_tags: Sequence[str] = (),
    ) -> Submitted:
        """Submit the tasks as one job (one PUB each) carrying ``tag`` and ``more_tags``.

        Returns as soon as the job has an id.
        """
        ...

    def price(
        self,
        circuit: QuantumCircuit,
        observables: Sequence[SparseObservable],
        shots: int,
        *,
        overhead: float = 1.0,
    ) -> PubPrice:
        """One PUB by the offline model: ``shots`` over its bindings, on its ISA circuit.

        No per-job overhead: the caller adds that (:func:`~.timing.pub_price`).
        """
        ...

    def find(self, tag: str) -> list[str]:
        """Ids of the jobs that carry ``tag`` (a crash may have hidden one from the store)."""
        ...

    def poll(self, job_id: str) -> RemoteStatus:
        """The job's current state."""
        ...

    def collect(
        self, job_id: str, tasks: Sequence[ExpectationTask | SharedTask]
    ) -> list[Evaluation]:
        """The result of a DONE job: one evaluation per PUB, in PUB order.

        ``tasks`` may be fewer than the job's PUBs (a resumed study knows only its own).
        """
        ...

    def usage(self, job_id: str) -> float | None:
        """QPU seconds billed for the job; None while the service is still computing it."""
        ...

    def execution_record(self, job_id: str) -> dict[str, Any]:
        """What the service says of a finished job's execution (provenance; never raises)."""
        ...


@runtime_checkable
class PricedBackend(Protocol):
    """What the cost gate reads of a device backend to price a run before anything is sent.

    The offline price of a PUB (``price``, the one the run packs jobs by), the PUBs a task
    becomes (``pubs``, for the service's dry run) and the service (its usage report and dry
    run, where the account offers them), with its ``target``. The runtime backends have all
    of them, local mode included.
    """

    target: Any
    service: Any

    def price(
        self,
        circuit: QuantumCircuit,
        observables: Sequence[SparseObservable],
        shots: int,
        *,
        overhead: float = 1.0,
    ) -> PubPrice:
        """One PUB by the offline model (as :meth:`RemoteBackend.price`)."""
        ...

    def pubs(self, tasks: Sequence[ExpectationTask | SharedTask]) -> list[Any]:
        """The PUBs the tasks are submitted as."""
        ...


# Hiccups in a row (polling, fetching) before a job is declared in doubt rather than waited on.
MAX_TRANSIENT_FAILURES = 20


def new_tag() -> str:
    """A unique job tag, generated before submitting so a job can be found after a crash."""
    return f"bpq-{uuid.uuid4().hex[:20]}"


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive hiccups: doubling, at most a minute."""
    return min(60.0, interval * 2 ** min(failures, 10))
