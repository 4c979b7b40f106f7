"""What a runtime job says about itself, and what bp_qiskit records about how it was built.

Its status in one vocabulary (:func:`normalize_status`), its billed QPU seconds
(:func:`job_usage`), and the provenance stored with every submission: the ISA circuits as
QPY, the package versions, the calibration's date. Every call to the service goes through
:func:`call_service`, which turns a hiccup into
:class:`~bp_qiskit.backends.remote.TransientServiceError` and a 404 into
:class:`~bp_qiskit.backends.remote.JobVanishedError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .ibm_errors import http_status, is_transient
from .remote import JobVanishedError, TransientServiceError

__all__ = [
    "calibration_time",
    "call_service",
    "isa_qpy",
    "job_usage",
    "normalize_status",
    "package_versions",
    "plain",
]


def call_service(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the service; a hiccup becomes TransientServiceError, a 404 JobVanishedError."""
    try:
        return fn(*args)
    except Exception as exc:
        if type(exc).__name__ == "RuntimeJobNotFound" or http_status(exc) == 404:
            raise JobVanishedError(f"{what}: the service has no such job ({exc})") from exc
        if is_transient(exc):
            raise TransientServiceError(f"{what}: {type(exc).__name__}: {exc}") from exc
        raise


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


def job_usage(job: Any) -> float | None:
    """QPU seconds a runtime job was billed; None while the service is still computing them.

    ``job.usage()`` returns 0 while usage is pending, so the job's metrics are read first
    where the job has them: they say whether the figure is final. Hiccups raise
    :class:`TransientServiceError`.
    """
    metrics = getattr(job, "metrics", None)
    if callable(metrics):
        report = call_service("usage", metrics).get("usage", {})
        if report.get("status", "pending") == "pending":
            return None
        value = report.get("qpu_charge_time_seconds", report.get("seconds"))
    else:
        fn = getattr(job, "usage", None)
        value = (call_service("usage", fn) if callable(fn) else None) or None
    return float(value) if isinstance(value, (int, float)) else None


def isa_qpy(circuits: Sequence[Any]) -> str:
    """The circuits as QPY, base64: ``qpy.load`` rebuilds exactly what was submitted."""
    import base64
    import io

    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def package_versions() -> dict[str, str]:
    """The versions of the packages that built and sent a job."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bp_qiskit", "qiskit", "qiskit-ibm-runtime", "qiskit-aer", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


def plain(value: Any) -> Any:
    """JSON-ready data: dicts, lists and scalars kept, anything else as its text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def calibration_time(target: Any) -> str | None:
    """When the device's calibration data were taken (ISO 8601), if the backend says.

    ``target`` is a backend, or a runtime job: ``job.properties()`` is the calibration in force
    when the job started running.
    """
    fn = getattr(target, "properties", None)
    try:
        props = fn() if callable(fn) else None
    except Exception:  # provenance is best effort: a backend without properties has none
        return None
    when = getattr(props, "last_update_date", None)
    if when is None:
        return None
    return str(when.isoformat()) if hasattr(when, "isoformat") else str(when)
