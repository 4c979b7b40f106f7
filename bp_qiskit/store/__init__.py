"""Job stores: the contract, an SQLite default and an in-memory implementation.

Layer 2, beside the backends: imports :mod:`bp_qiskit.core` (array bytes) only.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    BaseStore,
    JobRecord,
    JobState,
    StoreError,
    StudyBusyError,
    StudyRecord,
    SubmissionRecord,
    SubmissionState,
    UnknownStudyError,
    redact,
)
from .memory import InMemoryStore
from .owner import current_owner, owner_alive, owner_state
from .sqlite import SQLiteStore
from .sqlite_schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "BaseStore",
    "InMemoryStore",
    "JobRecord",
    "JobState",
    "SQLiteStore",
    "StoreError",
    "StudyBusyError",
    "StudyRecord",
    "SubmissionRecord",
    "SubmissionState",
    "UnknownStudyError",
    "current_owner",
    "open_store",
    "owner_alive",
    "owner_state",
    "redact",
]


def open_store(path: str | Path) -> BaseStore:
    """Open a store: ``":memory:"`` gives an :class:`InMemoryStore`, anything else SQLite."""
    if str(path) == ":memory:":
        return InMemoryStore()
    return SQLiteStore(path)
