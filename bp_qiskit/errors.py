"""The exceptions bp_qiskit raises on purpose, at the bottom of the import graph.

Every error a user can cause by input (a spec, a flag, a study reference) derives from
:class:`BPQiskitError`; the command line prints those as one line with exit code 2, after
:func:`redact` (a message can quote a service's reason, and a careless server may echo a
credential). Each
layer's own errors (``StoreError`` in :mod:`bp_qiskit.store`, ``BackendNameError`` in
:mod:`bp_qiskit.backends`) derive from these, so callers can catch at the level they need.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "BPQiskitError",
    "CostLimitError",
    "SpecError",
    "StudyFailedError",
    "StudyPausedError",
    "UsageError",
    "redact",
]


class BPQiskitError(Exception):
    """Base class of every exception bp_qiskit raises deliberately."""


class SpecError(BPQiskitError, ValueError):
    """A spec field is missing, has the wrong type or an invalid value.

    The message always names the field as ``section.key`` and the allowed values.
    """


class UsageError(BPQiskitError):
    """A command-line usage error (a flag, a path, a study reference)."""


class StudyFailedError(BPQiskitError, RuntimeError):
    """Some jobs still failed after their retries; the finished ones are in the store."""


class StudyPausedError(StudyFailedError):
    """A remote job was cancelled, timed out or was rejected, and is held.

    Nothing is resubmitted until the user says so (``resume --resubmit``).
    """


class CostLimitError(BPQiskitError):
    """A QPU run is estimated above the limit and was not approved; nothing was submitted.

    The limit is the configured one, or the instance's remaining allocation where lower.
    """


_SECRET_ENV = ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_API_KEY", "IBM_API_KEY")
_TOKEN_RE = re.compile(
    r"(?i)(token|apikey|api_key|authorization|bearer)\s*[=:]?\s*['\"]?[\w\-.]{8,}"
)


def redact(message: str) -> str:
    """Remove credentials from a message before it is stored or logged.

    Values of the IBM credential environment variables are replaced wherever they appear, and
    anything shaped like ``token=...`` / ``Bearer ...`` is masked.
    """
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            message = message.replace(value, f"<{name}>")
    return _TOKEN_RE.sub(lambda m: m.group(1) + "=<redacted>", message)
