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
import re
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import BPQiskitError
from .protocol import Backend, Evaluation, ExpectationTask, SharedTask

__all__ = [
    "FINAL_STATES",
    "MAX_TRANSIENT_FAILURES",
    "JobVanishedError",
    "RemoteBackend",
    "RemoteStatus",
    "SharedTask",
    "SubmitFailure",
    "SubmitRefusedError",
    "SubmitRejectedError",
    "Submitted",
    "TransientServiceError",
    "backoff",
    "failure_cause",
    "http_status",
    "is_transient",
    "new_tag",
    "reason_code",
    "submit_failure",
]

FINAL_STATES = ("DONE", "ERROR", "CANCELLED")

# IBM error-code registry (quantum.cloud.ibm.com/docs/errors): codes whose documented
# solution is "retry the action" are infrastructure failures; 1305 is "ran longer than the
# maximum execution time", which a retry would only bill again.
TIMEOUT_CODES = frozenset({1305})
RETRY_CODES = frozenset({1006, 1008, 1010, 1011, 1202})

# "Error code 1305; ..." in a job's reason, "..., Error code: 4317." in a POST error's text.
_CODE_RE = re.compile(r"(?i)error code:? (\d{4})")
# requests' HTTPError text, which the client quotes: "400 Client Error: Bad Request for url".
_HTTP_RE = re.compile(r"\b([1-5]\d\d) (?:Client|Server) Error\b")

# What to do about the service codes a refused submission is known to carry.
SUBMIT_HINTS = {
    4317: "the instance's quota is used up: wait for it to renew or raise it",
    3458: "the pending-job limit is reached: wait for queued jobs to finish",
    1217: "the session or batch is closed: resume opens a new one",
    3211: "the job is invalid: check backend.options",
    401: "the account is not authorised: check its token and instance",
}


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

    def seconds(self, task: ExpectationTask | SharedTask) -> float:
        """QPU seconds one PUB runs by the offline model (executions x per-execution time).

        No per-job overhead and no mitigation factor: the caller adds those.
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


def reason_code(reason: str) -> int | None:
    """The 4-digit code in a message such as 'Error code 1305; ...', if any."""
    match = _CODE_RE.search(reason or "")
    return int(match.group(1)) if match else None


def failure_cause(status: RemoteStatus) -> str:
    """Why a job ended without a result.

    Returns:
        ``"cancelled"`` (a person cancelled it: never resubmitted), ``"timeout"`` (it ran
        past ``max_execution_time``: resubmitting would bill the same time again),
        ``"permanent"`` (the job itself is invalid: it would fail again), ``"unknown"`` (the
        service gave no reason code: held, since it may be either of the last two) or
        ``"transient"`` (an infrastructure failure with a retry code: resubmitted up to a
        limit).
    """
    code = status.code if status.code is not None else reason_code(status.reason)
    if code in TIMEOUT_CODES or "ran longer than maximum execution time" in status.reason:
        return "timeout"
    if status.state == "CANCELLED":
        return "cancelled"
    if code is None:
        return "unknown"
    if code in RETRY_CODES or code >= 5000:
        return "transient"
    return "permanent"


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed request: the client's attribute, else its quoted text."""
    code = getattr(exc, "status_code", None)
    if isinstance(code, int) and code > 0:
        return code
    found = _HTTP_RE.search(str(exc))
    return int(found.group(1)) if found else None


@dataclasses.dataclass(frozen=True)
class SubmitFailure:
    """What a failed submit call means.

    Attributes:
        kind: ``"in_doubt"`` (the job may exist: look it up by tag), ``"refused"`` (429: not
            created, try again later) or ``"rejected"`` (4xx: the job would be refused again).
        http: The HTTP status, when known.
        code: The service's 4-digit code, when its text carries one.
    """

    kind: str
    http: int | None
    code: int | None

    def hint(self) -> str:
        """What the user can do about a rejection."""
        for key in (self.code, self.http):
            if key in SUBMIT_HINTS:
                return SUBMIT_HINTS[key]
        return "fix what the message says"


def submit_failure(exc: BaseException) -> SubmitFailure:
    """Classify an exception from a submit (POST) call; see the module docstring."""
    http = http_status(exc)
    code = reason_code(str(exc))
    if type(exc).__name__ == "IBMNotAuthorizedError":
        return SubmitFailure("rejected", 401, code)
    if http == 429:
        return SubmitFailure("refused", http, code)
    if http is not None and 400 <= http < 500 and http != 408:
        return SubmitFailure("rejected", http, code)
    if http is None and not is_transient(exc):
        # Not a request failure at all: the client refused the job before sending it
        # (an invalid option, a circuit the target cannot run). Nothing reached the service.
        return SubmitFailure("rejected", None, code)
    return SubmitFailure("in_doubt", http, code)


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


# Hiccups in a row (polling, fetching) before a job is declared in doubt rather than waited on.
MAX_TRANSIENT_FAILURES = 20


def new_tag() -> str:
    """A unique job tag, generated before submitting so a job can be found after a crash."""
    return f"bpq-{uuid.uuid4().hex[:20]}"


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive hiccups: doubling, at most a minute."""
    return min(60.0, interval * 2 ** min(failures, 10))
