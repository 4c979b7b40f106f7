"""Job stores: the contract, an SQLite default and an in-memory implementation."""

from __future__ import annotations

import os
from pathlib import Path

from .base import (
    BaseStore,
    JobRecord,
    JobState,
    StoreError,
    StudyBusyError,
    StudyRecord,
    UnknownStudyError,
    redact,
)
from .memory import InMemoryStore
from .sqlite import SCHEMA_VERSION, SQLiteStore

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "BaseStore",
    "InMemoryStore",
    "JobRecord",
    "JobState",
    "SQLiteStore",
    "StoreError",
    "StudyBusyError",
    "StudyRecord",
    "UnknownStudyError",
    "open_store",
    "redact",
]

# The CLI's default --store; BP_QISKIT_STORE overrides it (e.g. one store per project).
DEFAULT_STORE = os.environ.get("BP_QISKIT_STORE", "bp_qiskit.sqlite")


def open_store(path: str | Path = DEFAULT_STORE) -> BaseStore:
    """Open a store: ``":memory:"`` gives an :class:`InMemoryStore`, anything else SQLite."""
    if str(path) == ":memory:":
        return InMemoryStore()
    return SQLiteStore(path)
