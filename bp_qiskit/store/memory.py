"""In-memory store: the second implementation of the contract, for unit tests and notebooks."""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
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

__all__ = ["InMemoryStore"]


class InMemoryStore(BaseStore):
    """Dict-backed store, thread-safe through one lock.

    Arrays are kept encoded, as in SQLite, so the bit-for-bit round trip is exercised the same
    way.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, StudyRecord] = {}
        self._jobs: dict[str, dict[str, JobRecord]] = {}
        self._results: dict[tuple[str, str], dict[str, bytes]] = {}
        self._subs: dict[str, dict[str, SubmissionRecord]] = {}

    def create_study(
        self, name: str, spec: Mapping[str, Any], version: str, seed: int, jobs: Sequence[JobRecord]
    ) -> str:
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            self._studies[sid] = StudyRecord(
                sid, name, copy.deepcopy(dict(spec)), version, seed, now, None
            )
            self._jobs[sid] = {
                j.key: dataclasses.replace(j, study_id=sid, created_at=now) for j in jobs
            }
        return sid

    def get_study(self, ref: str) -> StudyRecord:
        with self._lock:
            if ref in self._studies:
                return copy.deepcopy(self._studies[ref])
            by_prefix = [s for sid, s in self._studies.items() if sid.startswith(ref)]
            by_name = [s for s in self._studies.values() if s.name == ref]
            match = by_prefix if len(by_prefix) == 1 else by_name[-1:]
            if not match:
                raise UnknownStudyError(f"no study {ref!r} in the store")
            return copy.deepcopy(match[0])

    def list_studies(self) -> list[StudyRecord]:
        with self._lock:
            return [copy.deepcopy(s) for s in self._studies.values()]

    def acquire_study(self, study_id: str, owner: str, *, force: bool = False) -> None:
        with self._lock:
            study = self._study(study_id)
            check_owner(study_id, study.owner, owner, force=force)
            self._studies[study_id] = dataclasses.replace(study, owner=owner)

    def delete_study(self, study_id: str) -> None:
        with self._lock:
            study = self._study(study_id)
            if study.owner and owner_alive(study.owner):
                raise StudyBusyError(f"study {study_id} is being run by {study.owner}")
            del self._studies[study_id]
            self._jobs.pop(study_id, None)
            self._subs.pop(study_id, None)
            for key in [k for k in self._results if k[0] == study_id]:
                del self._results[key]

    def release_study(self, study_id: str, owner: str) -> None:
        with self._lock:
            study = self._study(study_id)
            if study.owner == owner:
                self._studies[study_id] = dataclasses.replace(study, owner=None)

    def get_jobs(self, study_id: str) -> list[JobRecord]:
        with self._lock:
            self._study(study_id)
            return list(self._jobs[study_id].values())

    def add_job(self, study_id: str, job: JobRecord) -> None:
        with self._lock:
            self._study(study_id)
            if job.key in self._jobs[study_id]:
                raise StoreError(f"job {job.key} already exists in study {study_id}")
            self._jobs[study_id][job.key] = dataclasses.replace(
                job, study_id=study_id, created_at=time.time()
            )

    def claim_job(self, study_id: str, key: str) -> JobRecord:
        with self._lock:
            job = self._job(study_id, key)
            if job.state.is_finished():
                raise StoreError(f"job {key} of study {study_id} is already finished")
            job = dataclasses.replace(
                job,
                state=JobState.RUNNING,
                attempts=job.attempts + 1,
                started_at=time.time(),
                error=None,
            )
            self._jobs[study_id][key] = job
            return job

    def set_remote_id(self, study_id: str, key: str, remote_job_id: str) -> None:
        with self._lock:
            job = self._job(study_id, key)
            self._jobs[study_id][key] = dataclasses.replace(job, remote_job_id=remote_job_id)

    def finish_job(
        self,
        study_id: str,
        key: str,
        arrays: Mapping[str, NDArray[Any]],
        shots_executed: int,
        usage_seconds: float | None = None,
    ) -> None:
        encoded = {name: encode_array(a) for name, a in arrays.items()}
        with self._lock:
            job = self._job(study_id, key)
            self._results[(study_id, key)] = encoded
            self._jobs[study_id][key] = dataclasses.replace(
                job,
                state=JobState.DONE,
                shots_executed=shots_executed,
                finished_at=time.time(),
                usage_seconds=usage_seconds,
            )

    def fail_job(
        self, study_id: str, key: str, error: str, *, state: JobState = JobState.FAILED
    ) -> None:
        with self._lock:
            job = self._job(study_id, key)
            if job.state.is_finished():
                return
            self._jobs[study_id][key] = dataclasses.replace(
                job, state=state, error=redact(error), finished_at=time.time()
            )

    def add_submission(self, study_id: str, key: str, tag: str) -> SubmissionRecord:
        with self._lock:
            self._job(study_id, key)
            subs = self._subs.setdefault(study_id, {})
            if tag in subs:
                raise StoreError(f"submission tag {tag!r} already used in study {study_id}")
            mine = [r for r in subs.values() if r.key == key]
            live = [r for r in mine if r.state.may_be_running()]
            if live:
                raise StoreError(
                    f"job {key} of study {study_id} has a submission that may still be running "
                    f"({live[0].remote_job_id or live[0].tag}); it is never submitted twice"
                )
            now = time.time()
            rec = SubmissionRecord(
                study_id, key, tag, len(mine) + 1, SubmissionState.SUBMITTING,
                None, None, None, now, now, None, {},
            )  # fmt: skip
            subs[tag] = rec
            return rec

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
        with self._lock:
            rec = self._sub(study_id, tag)
            changes: dict[str, Any] = {"updated_at": time.time()}
            if state is not None:
                changes["state"] = state
            if remote_job_id is not None:
                changes["remote_job_id"] = remote_job_id
                job = self._job(study_id, rec.key)
                self._jobs[study_id][rec.key] = dataclasses.replace(
                    job, remote_job_id=remote_job_id
                )
            if cause is not None:
                changes["cause"] = cause
            if reason is not None:
                changes["reason"] = redact(reason)
            if provenance is not None:
                changes["provenance"] = {**rec.provenance, **copy.deepcopy(dict(provenance))}
            self._subs[study_id][tag] = dataclasses.replace(rec, **changes)

    def set_submission_usage(self, study_id: str, tag: str, usage_seconds: float | None) -> None:
        with self._lock:
            rec = self._sub(study_id, tag)
            self._subs[study_id][tag] = dataclasses.replace(
                rec, usage_seconds=usage_seconds, updated_at=time.time()
            )

    def get_submissions(self, study_id: str) -> list[SubmissionRecord]:
        with self._lock:
            self._study(study_id)
            return [copy.deepcopy(r) for r in self._subs.get(study_id, {}).values()]

    def get_results(self, study_id: str) -> dict[str, dict[str, NDArray[Any]]]:
        with self._lock:
            self._study(study_id)
            return {
                key: {n: decode_array(b) for n, b in arrays.items()}
                for (sid, key), arrays in self._results.items()
                if sid == study_id
            }

    def close(self) -> None:
        return None

    def _study(self, study_id: str) -> StudyRecord:
        if study_id not in self._studies:
            raise UnknownStudyError(f"no study {study_id!r} in the store")
        return self._studies[study_id]

    def _sub(self, study_id: str, tag: str) -> SubmissionRecord:
        self._study(study_id)
        rec = self._subs.get(study_id, {}).get(tag)
        if rec is None:
            raise StoreError(f"no submission {tag!r} in study {study_id}")
        return rec

    def _job(self, study_id: str, key: str) -> JobRecord:
        self._study(study_id)
        if key not in self._jobs[study_id]:
            raise StoreError(f"no job {key!r} in study {study_id}")
        return self._jobs[study_id][key]
