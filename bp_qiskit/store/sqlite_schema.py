"""The SQLite store's schema, its migrations, and the rows as records.

:data:`MIGRATIONS` maps each schema version to the SQL that brings a store from the version
before to it; a store records its version in ``PRAGMA user_version``. Versions are only ever
appended: ``tests/data/stores/`` holds store files written by earlier versions, and the
suite opens each of them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .base import JobRecord, JobState, StudyRecord, SubmissionRecord, SubmissionState

__all__ = [
    "INSERT_JOB",
    "JOB_COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SUB_COLUMNS",
    "job_record",
    "job_row",
    "study_record",
    "submission_record",
]

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE studies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        version TEXT NOT NULL,
        seed INTEGER NOT NULL,
        created_at REAL NOT NULL,
        owner TEXT
    );
    CREATE TABLE cells (
        study_id TEXT NOT NULL REFERENCES studies(id),
        num_qubits INTEGER NOT NULL,
        num_layers INTEGER NOT NULL,
        observable TEXT NOT NULL,
        init TEXT NOT NULL,
        PRIMARY KEY (study_id, num_qubits, num_layers)
    );
    CREATE TABLE jobs (
        study_id TEXT NOT NULL REFERENCES studies(id),
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        num_qubits INTEGER NOT NULL,
        num_layers INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        stop INTEGER NOT NULL,
        rng TEXT NOT NULL,
        backend TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        shots_requested INTEGER NOT NULL,
        shots_executed INTEGER,
        remote_job_id TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        PRIMARY KEY (study_id, key)
    );
    CREATE TABLE results (
        study_id TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (study_id, key, name),
        FOREIGN KEY (study_id, key) REFERENCES jobs(study_id, key)
    );
    """,
    # v2: QPU usage reported by the runtime service, per job.
    2: "ALTER TABLE jobs ADD COLUMN usage_seconds REAL",
    # v3: every submission of a job to a remote service, recorded before the submit call.
    3: """
    CREATE TABLE submissions (
        study_id TEXT NOT NULL REFERENCES studies(id),
        tag TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        state TEXT NOT NULL,
        remote_job_id TEXT,
        cause TEXT,
        reason TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        usage_seconds REAL,
        provenance TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (study_id, tag),
        FOREIGN KEY (study_id, key) REFERENCES jobs(study_id, key)
    );
    """,
    # v4: the cells table is gone: it was written and never read (the cells are the jobs').
    4: "DROP TABLE cells",
}
SCHEMA_VERSION = max(MIGRATIONS)

JOB_COLUMNS = (
    "study_id, key, num_qubits, num_layers, idx, start, stop, rng, backend, state, attempts, "
    "shots_requested, shots_executed, remote_job_id, error, created_at, started_at, finished_at, "
    "usage_seconds"
)


INSERT_JOB = (
    f"INSERT INTO jobs (seq, {JOB_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def job_row(seq: int, study_id: str, j: JobRecord, now: float) -> tuple[Any, ...]:
    """A planned job as a row of ``INSERT_JOB``."""
    return (
        seq,
        study_id,
        j.key,
        j.num_qubits,
        j.num_layers,
        j.index,
        j.start,
        j.stop,
        json.dumps(list(j.rng)),
        j.backend,
        j.state.value,
        j.attempts,
        j.shots_requested,
        j.shots_executed,
        j.remote_job_id,
        j.error,
        now,
        None,
        None,
        None,
    )


def job_record(row: sqlite3.Row) -> JobRecord:
    """A jobs row as its record."""
    # Columns carry the record's field names, except idx (INDEX is an SQL keyword).
    data = dict(row)
    data["index"] = data.pop("idx")
    data["rng"] = tuple(json.loads(data["rng"]))
    data["state"] = JobState(data["state"])
    return JobRecord(**data)


SUB_COLUMNS = (
    "study_id, key, tag, attempt, state, remote_job_id, cause, reason, created_at, updated_at, "
    "usage_seconds, provenance"
)


def submission_record(row: sqlite3.Row) -> SubmissionRecord:
    """A submissions row as its record."""
    values = dict(row)
    values["state"] = SubmissionState(values["state"])
    values["provenance"] = json.loads(values["provenance"])
    return SubmissionRecord(**values)


def study_record(row: sqlite3.Row) -> StudyRecord:
    """A studies row as its record."""
    return StudyRecord(
        id=row["id"],
        name=row["name"],
        spec=json.loads(row["spec"]),
        version=row["version"],
        seed=row["seed"],
        created_at=row["created_at"],
        owner=row["owner"],
    )
