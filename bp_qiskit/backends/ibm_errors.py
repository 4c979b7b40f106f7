"""How IBM Quantum's service and client say what went wrong, read into bp_qiskit's terms.

The error-code registry (quantum.cloud.ibm.com/docs/errors) decides what a failed job is
(:func:`failure_cause`: only an infrastructure failure with a retry code is resubmitted); the
client's exception types and texts decide what a failed request is (:func:`is_transient`: a
hiccup, poll again) and what a failed submission is (:func:`submit_failure`: in doubt,
refused or rejected). The generic remote loop (:mod:`bp_qiskit.execution.remote`) sees only
the result, in :class:`~bp_qiskit.backends.remote.RemoteStatus` and the exceptions of
:mod:`bp_qiskit.backends.remote`; a second vendor brings a module like this one.
"""

from __future__ import annotations

import dataclasses
import re

from .remote import RemoteStatus, TransientServiceError

__all__ = [
    "RETRY_CODES",
    "SUBMIT_HINTS",
    "TIMEOUT_CODES",
    "SubmitFailure",
    "failure_cause",
    "http_status",
    "is_transient",
    "reason_code",
    "submit_failure",
]

# The error-code registry (quantum.cloud.ibm.com/docs/errors): codes whose documented
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
