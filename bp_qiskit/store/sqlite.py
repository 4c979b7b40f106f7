"""SQLite store: the embedded default (standard library, WAL journal, one transaction per write).

Schema versions live in ``PRAGMA user_version``. :data:`MIGRATIONS` maps each version to the
SQL that brings a store from the previous version to it; opening an older store applies the
missing steps in one transaction, and a store from a *newer* bp_qiskit is refused with a clear
message instead of being misread.

Concurrency: WAL lets readers (``status``, ``report``) work while a study runs; writers wait
up to ``timeout`` seconds for the lock. Different studies may run in parallel from different
processes; one study is run by one process at a time (``acquire_study``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from ..core.arrays import decode_array, encode_array
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
    check_owner,
    redact,
)
from .owner import owner_alive
from .sqlite_schema import (
    INSERT_JOB,
    JOB_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SUB_COLUMNS,
    job_record,
    job_row,
    study_record,
    submission_record,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore"]


def _writable(path: Path) -> bool:
    """Whether the store file and its folder (which holds the -wal and -shm files) are."""
    return os.access(path, os.W_OK) and os.access(path.parent or Path("."), os.W_OK)


class SQLiteStore(BaseStore):
    """A job store in one SQLite file.

    Args:
        path: The database file (created if missing).
        timeout: Seconds to wait for another process's write lock.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        # A store that exists but cannot be written (a read-only folder or file, an archive)
        # is opened read-only: list, status, report and export work, and any write fails
        # with one line instead of a traceback.
        self.read_only = self.path.exists() and not _writable(self.path)
        try:
            if self.read_only:
                # immutable=1: no locks and no -shm/-wal files, which a read-only folder
                # cannot hold. Safe because nobody can be writing to a store we cannot write.
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                self._db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            # Identify the file before changing anything in it: a foreign database (or any
            # other file) must be refused without being switched to WAL or written to.
            version = self._check_identity()
            if self.read_only:
                if version < SCHEMA_VERSION:
                    raise StoreError(
                        f"store {self.path} is read-only and has schema version {version}; "
                        f"open it once where it can be written to upgrade it to {SCHEMA_VERSION}"
                    )
                return
            self._db.execute("PRAGMA foreign_keys = ON")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":  # pragma: no cover - e.g. a network file system
                raise StoreError(f"store {self.path}: cannot enable WAL journaling (got {mode})")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(version)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _check_identity(self) -> int:
        """The store's schema version; refuses foreign and newer files. Reads only."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this bp_qiskit "
                f"supports ({SCHEMA_VERSION}); upgrade bp_qiskit to open it"
            )
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if (version == 0 and tables) or (version > 0 and "studies" not in tables):
            raise StoreError(f"store {self.path} is an SQLite file but not a bp_qiskit store")
        return version

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(f"store {self.path} is locked by another process ({text}); retry")
        if "readonly" in text or "read-only" in text:
            return StoreError(f"store {self.path} is read-only; it can be listed and reported")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(f"store {self.path} is not a bp_qiskit store or is corrupt ({text})")
        return StoreError(f"store {self.path}: {text}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front."""
        try:
            if self._db.in_transaction:
                # A signal (Ctrl-C, SIGTERM) landed between BEGIN and the guard below: that
                # transaction never committed, so rolling it back keeps every write atomic.
                self._db.execute("ROLLBACK")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _migrate(self, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        with self._tx() as db:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- studies -----------------------------------------------------------------------------

    def create_study(
        self, name: str, spec: Mapping[str, Any], version: str, seed: int, jobs: Sequence[JobRecord]
    ) -> str:
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO studies (id, name, spec, version, seed, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, name, json.dumps(spec, sort_keys=True), version, seed, now),
            )
            db.executemany(INSERT_JOB, [job_row(seq, sid, j, now) for seq, j in enumerate(jobs)])
        return sid

    def get_study(self, ref: str) -> StudyRecord:
        rows = self._read("SELECT * FROM studies WHERE id = ?", (ref,))
        if not rows:
            rows = self._read("SELECT * FROM studies WHERE id LIKE ? || '%'", (ref,))
            if len(rows) != 1:
                rows = self._read(
                    "SELECT * FROM studies WHERE name = ? ORDER BY created_at DESC LIMIT 1", (ref,)
                )
        if not rows:
            raise UnknownStudyError(f"no study {ref!r} in {self.path}")
        return study_record(rows[0])

    def list_studies(self) -> list[StudyRecord]:
        return [study_record(r) for r in self._read("SELECT * FROM studies ORDER BY created_at")]

    def acquire_study(self, study_id: str, owner: str, *, force: bool = False) -> None:
        with self._tx() as db:
            row = db.execute("SELECT owner FROM studies WHERE id = ?", (study_id,)).fetchone()
            if row is None:
                raise UnknownStudyError(f"no study {study_id!r} in {self.path}")
            check_owner(study_id, row["owner"], owner, force=force)
            db.execute("UPDATE studies SET owner = ? WHERE id = ?", (owner, study_id))

    def delete_study(self, study_id: str) -> None:
        with self._tx() as db:
            row = db.execute("SELECT owner FROM studies WHERE id = ?", (study_id,)).fetchone()
            if row is None:
                raise UnknownStudyError(f"no study {study_id!r} in {self.path}")
            if row["owner"] and owner_alive(row["owner"]):
                raise StudyBusyError(f"study {study_id} is being run by {row['owner']}")
            for table in ("results", "submissions", "jobs"):
                db.execute(f"DELETE FROM {table} WHERE study_id = ?", (study_id,))
            db.execute("DELETE FROM studies WHERE id = ?", (study_id,))

    def release_study(self, study_id: str, owner: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE studies SET owner = NULL WHERE id = ? AND owner = ?", (study_id, owner)
            )

    # -- jobs --------------------------------------------------------------------------------

    def get_jobs(self, study_id: str) -> list[JobRecord]:
        self.get_study(study_id)
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE study_id = ? ORDER BY seq", (study_id,)
        )
        return [job_record(r) for r in rows]

    def add_job(self, study_id: str, job: JobRecord) -> None:
        with self._tx() as db:
            row = db.execute("SELECT 1 FROM studies WHERE id = ?", (study_id,)).fetchone()
            if row is None:
                raise UnknownStudyError(f"no study {study_id!r} in {self.path}")
            seq = db.execute(
                "SELECT coalesce(max(seq), -1) + 1 FROM jobs WHERE study_id = ?", (study_id,)
            ).fetchone()[0]
            if db.execute(
                "SELECT 1 FROM jobs WHERE study_id = ? AND key = ?", (study_id, job.key)
            ).fetchone():
                raise StoreError(f"job {job.key} already exists in study {study_id}")
            db.execute(INSERT_JOB, job_row(seq, study_id, job, time.time()))

    def claim_job(self, study_id: str, key: str) -> JobRecord:
        with self._tx() as db:
            row = db.execute(
                "SELECT state FROM jobs WHERE study_id = ? AND key = ?", (study_id, key)
            ).fetchone()
            if row is None:
                raise StoreError(f"no job {key!r} in study {study_id}")
            if JobState(row["state"]).is_finished():
                raise StoreError(f"job {key} of study {study_id} is already finished")
            db.execute(
                "UPDATE jobs SET state = ?, attempts = attempts + 1, started_at = ?, error = NULL "
                "WHERE study_id = ? AND key = ?",
                (JobState.RUNNING.value, time.time(), study_id, key),
            )
            out = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE study_id = ? AND key = ?", (study_id, key)
            ).fetchone()
        return job_record(out)

    def set_remote_id(self, study_id: str, key: str, remote_job_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET remote_job_id = ? WHERE study_id = ? AND key = ?",
                (remote_job_id, study_id, key),
            )

    def finish_job(
        self,
        study_id: str,
        key: str,
        arrays: Mapping[str, NDArray[Any]],
        shots_executed: int,
        usage_seconds: float | None = None,
    ) -> None:
        blobs = [(study_id, key, name, encode_array(a)) for name, a in arrays.items()]
        with self._tx() as db:
            db.execute("DELETE FROM results WHERE study_id = ? AND key = ?", (study_id, key))
            db.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", blobs)
            db.execute(
                "UPDATE jobs SET state = ?, shots_executed = ?, finished_at = ?, usage_seconds = ? "
                "WHERE study_id = ? AND key = ?",
                (JobState.DONE.value, shots_executed, time.time(), usage_seconds, study_id, key),
            )

    def fail_job(
        self, study_id: str, key: str, error: str, *, state: JobState = JobState.FAILED
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, finished_at = ? "
                "WHERE study_id = ? AND key = ? AND state != ?",
                (state.value, redact(error), time.time(), study_id, key, JobState.DONE.value),
            )

    def add_submission(self, study_id: str, key: str, tag: str) -> SubmissionRecord:
        now = time.time()
        with self._tx() as db:
            if not db.execute(
                "SELECT 1 FROM jobs WHERE study_id = ? AND key = ?", (study_id, key)
            ).fetchone():
                raise StoreError(f"no job {key!r} in study {study_id}")
            rows = db.execute(
                "SELECT state, remote_job_id, tag FROM submissions WHERE study_id = ? AND key = ?",
                (study_id, key),
            ).fetchall()
            live = [r for r in rows if SubmissionState(r["state"]).may_be_running()]
            if live:
                raise StoreError(
                    f"job {key} of study {study_id} has a submission that may still be running "
                    f"({live[0]['remote_job_id'] or live[0]['tag']}); it is never submitted twice"
                )
            try:
                db.execute(
                    f"INSERT INTO submissions ({SUB_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, NULL, '{}')",
                    (study_id, key, tag, len(rows) + 1, SubmissionState.SUBMITTING.value, now, now),
                )
            except sqlite3.IntegrityError:
                raise StoreError(
                    f"submission tag {tag!r} already used in study {study_id}"
                ) from None
            row = db.execute(
                f"SELECT {SUB_COLUMNS} FROM submissions WHERE study_id = ? AND tag = ?",
                (study_id, tag),
            ).fetchone()
        return submission_record(row)

    def update_submission(
        self,
        study_id: str,
        tag: str,
        *,
        state: SubmissionState | None = None,
        remote_job_id: str | None = None,
        cause: str | None = None,
        reason: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT key, provenance FROM submissions WHERE study_id = ? AND tag = ?",
                (study_id, tag),
            ).fetchone()
            if row is None:
                raise StoreError(f"no submission {tag!r} in study {study_id}")
            sets: dict[str, Any] = {"updated_at": time.time()}
            if state is not None:
                sets["state"] = state.value
            if remote_job_id is not None:
                sets["remote_job_id"] = remote_job_id
                db.execute(
                    "UPDATE jobs SET remote_job_id = ? WHERE study_id = ? AND key = ?",
                    (remote_job_id, study_id, row["key"]),
                )
            if cause is not None:
                sets["cause"] = cause
            if reason is not None:
                sets["reason"] = redact(reason)
            if provenance is not None:
                sets["provenance"] = json.dumps({**json.loads(row["provenance"]), **provenance})
            assignments = ", ".join(f"{name} = ?" for name in sets)
            db.execute(
                f"UPDATE submissions SET {assignments} WHERE study_id = ? AND tag = ?",
                (*sets.values(), study_id, tag),
            )

    def set_submission_usage(self, study_id: str, tag: str, usage_seconds: float | None) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE submissions SET usage_seconds = ?, updated_at = ? "
                "WHERE study_id = ? AND tag = ?",
                (usage_seconds, time.time(), study_id, tag),
            )
            if cur.rowcount == 0:
                raise StoreError(f"no submission {tag!r} in study {study_id}")

    def get_submissions(self, study_id: str) -> list[SubmissionRecord]:
        self.get_study(study_id)
        rows = self._read(
            f"SELECT {SUB_COLUMNS} FROM submissions WHERE study_id = ? ORDER BY rowid",
            (study_id,),
        )
        return [submission_record(r) for r in rows]

    def get_results(self, study_id: str) -> dict[str, dict[str, NDArray[Any]]]:
        self.get_study(study_id)
        out: dict[str, dict[str, NDArray[Any]]] = {}
        for row in self._read(
            "SELECT key, name, data FROM results WHERE study_id = ?", (study_id,)
        ):
            out.setdefault(row["key"], {})[row["name"]] = decode_array(row["data"])
        return out

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:  # pragma: no cover
            pass
