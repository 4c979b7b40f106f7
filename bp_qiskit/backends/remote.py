"""The contract of a backend whose jobs run elsewhere (a QPU): submit, find, poll, collect.

A remote job is billed while it runs, and it keeps running whatever happens to this process.
So the run loop (:mod:`bp_qiskit.execution.remote`) drives remote jobs step by step instead of
calling ``evaluate`` and waiting, and persists each step. This module holds what it needs:

- :class:`RemoteBackend`: the four steps, each a single call to the service.
- :class:`RemoteStatus`: what one poll saw, with the service's reason code.
- :func:`failure_cause`: why a job ended without a result, which decides whether it may be
  submitted again (only ``"transient"`` failures are, up to a limit).
- :func:`is_transient`: whether an *exception* from the client is a network or server
  hiccup. The real client raises ``qiskit_ibm_runtime.api.exceptions.RequestsApiError`` (a
  ``QiskitError``, not a ``ConnectionError``) for those; a hiccup never means the job failed,
  so it is answered by polling again later, never by submitting again.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import BPQiskitError
from .protocol import Backend, Evaluation, ExpectationTask

__all__ = [
    "FINAL_STATES",
    "RemoteBackend",
    "RemoteStatus",
    "Submitted",
    "TransientServiceError",
    "failure_cause",
    "is_transient",
    "reason_code",
]

FINAL_STATES = ("DONE", "ERROR", "CANCELLED")

# IBM error-code registry (quantum.cloud.ibm.com/docs/errors): codes whose documented
# solution is "retry the action" are infrastructure failures; 1305 is "ran longer than the
# maximum execution time", which a retry would only bill again.
TIMEOUT_CODES = frozenset({1305})
RETRY_CODES = frozenset({1006, 1008, 1010, 1011, 1202})

_CODE_RE = re.compile(r"(?i)error code (\d{4})")


class TransientServiceError(BPQiskitError):
    """The service could not be reached or answered 5xx/429; the job's fate is unknown."""


@dataclasses.dataclass(frozen=True)
class RemoteStatus:
    """One poll of a remote job.

    Attributes:
        state: 'QUEUED', 'RUNNING', 'DONE', 'ERROR' or 'CANCELLED'.
        reason: The service's message for ERROR / CANCELLED ('' otherwise).
        code: The service's reason code, when it gives one (1305: ran too long).
    """

    state: str
    reason: str = ""
    code: int | None = None

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

    def submit(self, tasks: Sequence[ExpectationTask], *, seed: int | None, tag: str) -> Submitted:
        """Submit the tasks as one job carrying ``tag``; return as soon as it has an id."""
        ...

    def find(self, tag: str) -> list[str]:
        """Ids of the jobs that carry ``tag`` (a crash may have hidden one from the store)."""
        ...

    def poll(self, job_id: str) -> RemoteStatus:
        """The job's current state."""
        ...

    def collect(self, job_id: str, tasks: Sequence[ExpectationTask]) -> list[Evaluation]:
        """The result of a DONE job."""
        ...

    def usage(self, job_id: str) -> float | None:
        """QPU seconds billed for the job; None while the service is still computing it."""
        ...


def reason_code(reason: str) -> int | None:
    """The 4-digit code in a message such as 'Error code 1305; ...', if any."""
    match = _CODE_RE.search(reason or "")
    return int(match.group(1)) if match else None


def failure_cause(status: RemoteStatus) -> str:
    """Why a job ended without a result.

    Returns:
        ``"cancelled"`` (a person cancelled it: never resubmitted), ``"timeout"`` (it ran
        past ``max_execution_time``: resubmitting would bill the same time again),
        ``"permanent"`` (the job itself is invalid: it would fail again) or ``"transient"``
        (an infrastructure failure: resubmitted up to a limit).
    """
    code = status.code if status.code is not None else reason_code(status.reason)
    if code in TIMEOUT_CODES or "ran longer than maximum execution time" in status.reason:
        return "timeout"
    if status.state == "CANCELLED":
        return "cancelled"
    if code is None or code in RETRY_CODES or code >= 5000:
        # No code: nothing says the job is at fault, so it gets the limited retries.
        return "transient"
    return "permanent"


def is_transient(exc: BaseException) -> bool:
    """Whether a client exception is a network or server hiccup (poll again later)."""
    if isinstance(exc, TransientServiceError):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    try:
        from qiskit_ibm_runtime.api.exceptions import RequestsApiError
        from qiskit_ibm_runtime.exceptions import IBMRuntimeError
    except ImportError:  # pragma: no cover - the runtime is a dependency
        return False
    if isinstance(exc, RequestsApiError):
        code = getattr(exc, "status_code", -1)
        return code in (-1, 408, 429) or code >= 500
    # The client wraps a failed request in IBMRuntimeError: "Failed to retrieve job: ..."
    # (service.job) and "Failed to get job metadata: ..." (usage, metrics).
    # QiskitError's str() quotes the message; its ``message`` attribute does not.
    message = str(getattr(exc, "message", exc))
    return isinstance(exc, IBMRuntimeError) and message.startswith("Failed to")
