"""The failures the stand-ins inject, as the real client raises them.

qiskit-ibm-runtime 0.51's own exception types and texts: an outage (``RequestsApiError``
with the HTTP status), a submission the service answered with an HTTP error or never
answered (``IBMRuntimeError("Failed to run program: ...")``, as ``QiskitRuntimeService._run``
wraps every POST error), the message of a job stopped at ``max_execution_time``; and the
faults of this process: being killed (:class:`ProcessDied`) or interrupted
(:class:`InterruptingBackend`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..backends import Backend, Capabilities, Evaluation, ExpectationTask, SharedTask, make_backend
from ..backends.protocol import OnSubmit

__all__ = [
    "InterruptingBackend",
    "ProcessDied",
    "max_time_exceeded",
    "outage",
    "post_error",
    "read_timeout",
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


def post_error(http: int, code: int | None = None, message: str = "Bad Request") -> Exception:
    """What the client raises when the service answers a submission (POST) with ``http``.

    The client's session turns the HTTP error into ``RequestsApiError`` (its text: requests'
    own, then the service's message and code), and ``QiskitRuntimeService._run`` wraps that
    as ``IBMRuntimeError("Failed to run program: ...")``.
    """
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    kind = "Client" if http < 500 else "Server"
    text = f"{http} {kind} Error: {message} for url: https://quantum.cloud.ibm.com/api/v1/jobs"
    if code is not None:
        text += f". {message}, Error code: {code}."
    return IBMRuntimeError(f"Failed to run program: {RequestsApiError(text, http)}")


def read_timeout() -> Exception:
    """A POST that got no answer in time, as the client wraps it (no HTTP status)."""
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    inner = RequestsApiError(
        "HTTPSConnectionPool(host='quantum.cloud.ibm.com', port=443): Read timed out. "
        "(read timeout=60)"
    )
    return IBMRuntimeError(f"Failed to run program: {inner}")


class InterruptingBackend:
    """Delegates to the ``aer`` backend, and raises KeyboardInterrupt on call ``at_call``."""

    name = "aer"

    def __init__(self, at_call: int) -> None:
        self.inner: Backend = make_backend("aer")
        self.capabilities: Capabilities = self.inner.capabilities
        self.calls, self.at_call = 0, at_call

    def evaluate(
        self,
        tasks: Sequence[ExpectationTask | SharedTask],
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
