"""The job-store contract as reusable checks, run against every store.

As optuna ships its storage tests, so a new storage is held to the same rules. Each
``check_*`` takes a fresh, empty store and raises ``AssertionError`` where the store breaks a
rule of :class:`~bp_qiskit.store.BaseStore`: studies looked up by id, prefix and
name; jobs claimed, failed and finished with their attempts counted and their arrays
returned bit for bit; one runner per study, and a dead one taken over; errors redacted;
submissions recorded before they are made and never doubled; a study deleted with nothing
else. The project's suite runs every check in :data:`CHECKS` against the in-memory and the
SQLite store (``tests/test_store.py``); a new store passes them the same way::

    from bp_qiskit.testing.store_contract import CHECKS

    @pytest.mark.parametrize("check", CHECKS)
    def test_my_store(check, tmp_path):
        check(MyStore(tmp_path / "s.db"))
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import StudyFailedError
from ..execution import collect, create_study, run_stored
from ..spec import StudySpec
from ..store import (
    BaseStore,
    JobState,
    StoreError,
    StudyBusyError,
    UnknownStudyError,
    redact,
)

__all__ = ["CHECKS", "SPEC"]

# Two cells of three jobs each (30 circuits in chunks of 10): small enough to run in a check.
SPEC = StudySpec.from_dict(
    {
        "study": {"name": "contract", "seed": 5},
        "circuit": {"qubits": [2, 3]},
        "sampling": {"samples": 30, "chunk": 10},
    }
)


@contextlib.contextmanager
def raises(kind: type[BaseException], match: str | None = None) -> Iterator[None]:
    """Like ``pytest.raises``, without pytest: the block must raise ``kind`` matching."""
    try:
        yield
    except kind as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(f"{kind.__name__} {str(exc)!r} does not match {match!r}") from exc
        return
    raise AssertionError(f"did not raise {kind.__name__}")


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """An environment variable set for the block (a credential the store must redact)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def check_create_and_look_up_studies(store: BaseStore) -> None:
    """A study is found by id, unique prefix and name; its jobs are planned PENDING in order."""
    sid = create_study(store, SPEC)
    study = store.get_study(sid)
    assert study.name == "contract" and study.seed == 5
    assert StudySpec.from_dict(study.spec) == SPEC
    assert store.get_study(sid[:6]).id == sid  # unique prefix
    assert store.get_study("contract").id == sid  # by name
    assert [s.id for s in store.list_studies()] == [sid]
    with raises(UnknownStudyError, match="no study 'nope'"):
        store.get_study("nope")
    jobs = store.get_jobs(sid)
    assert [j.key for j in jobs] == [f"n{n}_L1_c{i}" for n in (2, 3) for i in range(3)]
    assert all(j.state is JobState.PENDING and j.attempts == 0 for j in jobs)
    assert jobs[4].rng == (5, 3, 1, 1) and (jobs[4].start, jobs[4].stop) == (10, 20)


def check_job_lifecycle_counts_attempts_and_round_trips_arrays_exactly(store: BaseStore) -> None:
    """Claims count attempts; a finished job's arrays come back bit for bit; DONE stays DONE."""
    sid = create_study(store, SPEC)
    key = "n2_L1_c0"
    rec = store.claim_job(sid, key)
    assert rec.state is JobState.RUNNING and rec.attempts == 1
    store.fail_job(sid, key, "RuntimeError: boom")
    failed = next(j for j in store.get_jobs(sid) if j.key == key)
    assert failed.state is JobState.FAILED and failed.error == "RuntimeError: boom"
    assert store.claim_job(sid, key).attempts == 2
    store.set_remote_id(sid, key, "job-123")
    rng = np.random.default_rng(0)
    arrays: dict[str, NDArray[Any]] = {
        "gates": rng.integers(0, 3, size=(10, 1, 2)).astype(np.int8),
        "params": rng.random((10, 2)),
        "grads": rng.normal(size=(10, 1)),
        "shot_var": np.zeros((10, 1)),
    }
    store.finish_job(sid, key, arrays, shots_executed=0)
    done = next(j for j in store.get_jobs(sid) if j.key == key)
    assert done.state.is_finished() and done.remote_job_id == "job-123" and done.attempts == 2
    back = store.get_results(sid)[key]
    for name, a in arrays.items():
        assert back[name].dtype == a.dtype and back[name].tobytes() == a.tobytes()
    with raises(StoreError, match="already finished"):
        store.claim_job(sid, key)
    store.fail_job(sid, key, "late interrupt", state=JobState.PENDING)
    assert next(j for j in store.get_jobs(sid) if j.key == key).state is JobState.DONE


def check_a_reused_pid_does_not_hold_a_study_for_ever(store: BaseStore) -> None:
    """A recorded runner whose pid now belongs to another process is taken over."""
    import os
    import socket

    from bp_qiskit.store.owner import current_owner, owner_state

    me = current_owner()
    start = me.rsplit(":", 1)[1]
    assert owner_state(me) == "alive"
    # Same host and pid as a live process, but a different start time: the recorded runner
    # died and its pid went to someone else (here, this test process).
    stale = f"{socket.gethostname()}:{os.getpid()}:{int(start) + 1}"
    assert owner_state(stale) == "gone"
    sid = create_study(store, SPEC)
    store.acquire_study(sid, stale)
    store.acquire_study(sid, "me:2")
    assert store.get_study(sid).owner == "me:2"


def check_force_takes_over_only_an_owner_that_cannot_be_checked(store: BaseStore) -> None:
    """``force`` takes over an unverifiable owner, never a live one on this host."""
    from bp_qiskit.store.owner import current_owner

    sid = create_study(store, SPEC)
    store.acquire_study(sid, "elsewhere-host:1:5")
    with raises(StudyBusyError, match="pass --force"):
        store.acquire_study(sid, "me:2")
    store.acquire_study(sid, "me:2", force=True)
    store.acquire_study(sid, current_owner(), force=True)  # "me" is another host, unverifiable
    with raises(StudyBusyError, match="stop that process first"):
        store.acquire_study(sid, "me:3", force=True)  # this process is verifiably alive


def check_returned_records_are_snapshots(store: BaseStore) -> None:
    """Records are frozen copies: later writes do not change them."""
    sid = create_study(store, SPEC)
    before = store.get_jobs(sid)[0]
    store.claim_job(sid, before.key)
    assert before.state is JobState.PENDING
    with raises(dataclasses.FrozenInstanceError):
        setattr(before, "attempts", 5)  # noqa: B010 - a frozen record refuses it


def check_one_runner_per_study(store: BaseStore) -> None:
    """A second runner is refused until the first releases the study."""
    sid = create_study(store, SPEC)
    store.acquire_study(sid, "elsewhere-host:1")  # another host's owner cannot be checked
    with raises(StudyBusyError, match="being run by elsewhere-host:1"):
        store.acquire_study(sid, "me:2")
    store.release_study(sid, "elsewhere-host:1")
    store.acquire_study(sid, "me:2")


def check_owner_that_died_is_taken_over(store: BaseStore) -> None:
    """A runner that died on this host holds nothing."""
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sid = create_study(store, SPEC)
    store.acquire_study(sid, f"{socket.gethostname()}:{proc.pid}")
    store.acquire_study(sid, f"{socket.gethostname()}:{__import__('os').getpid()}")


def check_errors_are_redacted(store: BaseStore) -> None:
    """Credentials in an error never reach the store."""
    sid = create_study(store, SPEC)
    store.claim_job(sid, "n2_L1_c0")
    with _env("QISKIT_IBM_TOKEN", "s3cr3t-token-value"):
        store.fail_job(sid, "n2_L1_c0", "HTTP 401 for s3cr3t-token-value; Bearer abcdefghijkl")
    err = store.get_jobs(sid)[0].error or ""
    assert "s3cr3t" not in err and "abcdefghijkl" not in err
    assert redact("token=abcdef123456") == "token=<redacted>"


def check_runs_collect_and_never_rerun_finished_jobs(store: BaseStore) -> None:
    """A run finishes every job once; a second run does nothing."""
    sid = create_study(store, SPEC)
    run_stored(store, sid, progress=False)
    result = collect(store, sid).result
    assert result is not None and [c.samples for c in result.cells] == [30, 30]
    assert all(j.attempts == 1 for j in store.get_jobs(sid))
    run_stored(store, sid, progress=False)  # nothing left to do
    assert all(j.attempts == 1 for j in store.get_jobs(sid))
    assert store.get_jobs(sid)[0].key == "n2_L1_c0"


def check_failed_jobs_are_retried_up_to_the_limit(store: BaseStore) -> None:
    """A failing backend is retried up to ``max_attempts``; then the study fails, and says so."""

    class Flaky:
        """A backend that fails a given number of times, then works."""

        def __init__(self, failures: int) -> None:
            from bp_qiskit.backends import make_backend

            self.inner, self.failures, self.name = make_backend("aer"), failures, "aer"
            self.capabilities = self.inner.capabilities
            self.close = self.inner.close

        def attach(self, *args: Any, **kw: Any) -> Any:
            return self.inner.attach(*args, **kw)

        def evaluate(self, tasks: Any, **kw: Any) -> Any:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("transient backend error")
            return self.inner.evaluate(tasks, **kw)

    sid = create_study(store, SPEC)
    run_stored(store, sid, backend=Flaky(2), progress=False, max_attempts=3)
    first = store.get_jobs(sid)[0]
    assert first.attempts == 3 and first.state.is_finished()
    sid2 = create_study(store, SPEC)
    with raises(StudyFailedError, match=r"6 job\(s\) of study .* failed after retries"):
        run_stored(store, sid2, backend=Flaky(100), progress=False, max_attempts=2)
    failed = store.get_jobs(sid2)
    assert len(failed) == 6 and all(j.attempts == 2 for j in failed)
    assert all(j.state is JobState.FAILED for j in failed)
    assert failed[0].error == "RuntimeError: transient backend error"
    with raises(StoreError, match="not finished: 0 of 6 jobs done"):
        collect(store, sid2)


def check_add_job_appends_pending_jobs(store: BaseStore) -> None:
    """``add_job`` appends a PENDING job once; a second add and an unknown study are refused."""
    from bp_qiskit.execution.jobs import JobKey, record_for
    from bp_qiskit.results import Cell

    sid = store.create_study("adaptive", SPEC.to_dict(), "0", 5, [])
    rec = dataclasses.replace(
        record_for(SPEC, JobKey(Cell(2, 1), 0, 0, 10), shots=64), study_id=sid
    )
    store.add_job(sid, rec)
    (job,) = store.get_jobs(sid)
    assert job.key == "n2_L1_c0" and job.shots_requested == 64 and job.state is JobState.PENDING
    with raises(StoreError, match="already exists"):
        store.add_job(sid, rec)
    with raises(UnknownStudyError):
        store.add_job("nope", rec)


def check_submissions_are_recorded_before_submitting_and_never_doubled(store: BaseStore) -> None:
    """A submission is recorded before it is made; one that may be running refuses another."""
    from bp_qiskit.store import SubmissionState

    sid = create_study(store, SPEC)
    key = store.get_jobs(sid)[0].key
    first = store.add_submission(sid, key, "tag-1")
    assert (first.state, first.attempt, first.remote_job_id) == (
        SubmissionState.SUBMITTING,
        1,
        None,
    )
    # In doubt (SUBMITTING) or submitted: a second submission is refused by the store itself.
    with raises(StoreError, match="may still be running"):
        store.add_submission(sid, key, "tag-2")
    store.update_submission(
        sid, "tag-1", state=SubmissionState.SUBMITTED, remote_job_id="job-a",
        provenance={"qubits": [3, 5]},
    )  # fmt: skip
    assert store.get_jobs(sid)[0].remote_job_id == "job-a"
    with raises(StoreError, match="job-a"):
        store.add_submission(sid, key, "tag-2")
    with _env("QISKIT_IBM_TOKEN", "secret-token-value"):
        store.update_submission(
            sid, "tag-1", state=SubmissionState.FAILED, cause="transient",
            reason="Error code 1010; token secret-token-value", provenance={"shots": 100},
        )  # fmt: skip
    store.set_submission_usage(sid, "tag-1", None)
    second = store.add_submission(sid, key, "tag-2")
    assert second.attempt == 2
    with raises(StoreError, match="already used"):
        store.add_submission(sid, store.get_jobs(sid)[1].key, "tag-2")
    store.set_submission_usage(sid, "tag-2", 1.5)
    a, b = store.get_submissions(sid)
    assert (a.tag, a.state, a.cause, a.usage_seconds) == (
        "tag-1",
        SubmissionState.FAILED,
        "transient",
        None,
    )
    assert a.provenance == {"qubits": [3, 5], "shots": 100}
    assert a.reason is not None
    assert "secret-token-value" not in a.reason and "1010" in a.reason
    assert (b.tag, b.usage_seconds, b.state) == ("tag-2", 1.5, SubmissionState.SUBMITTING)
    with raises(StoreError, match="no submission"):
        store.update_submission(sid, "nope", state=SubmissionState.DONE)
    with raises(StoreError, match="no submission"):
        store.set_submission_usage(sid, "nope", 1.0)
    with raises(StoreError, match="no job"):
        store.add_submission(sid, "n9_L9_c9", "tag-3")
    # Records are snapshots.
    a.provenance["qubits"] = []
    assert store.get_submissions(sid)[0].provenance["qubits"] == [3, 5]


def check_delete_study_removes_everything_of_it_and_nothing_else(store: BaseStore) -> None:
    """Deleting a study removes its jobs, results and submissions, and only those."""
    keep = create_study(store, SPEC)
    gone = create_study(store, SPEC)
    run_stored(store, gone, progress=False)
    run_stored(store, keep, progress=False)
    store.add_submission(gone, store.get_jobs(gone)[0].key, "tag-gone")
    store.acquire_study(gone, "otherhost:1")  # a runner on another host counts as alive
    with raises(StudyBusyError):
        store.delete_study(gone)
    store.release_study(gone, "otherhost:1")
    store.delete_study(gone)
    with raises(UnknownStudyError):
        store.get_study(gone)
    with raises(UnknownStudyError):
        store.get_jobs(gone)
    with raises(UnknownStudyError):
        store.delete_study(gone)
    assert [s.id for s in store.list_studies()] == [keep]
    assert len(store.get_results(keep)) == len(store.get_jobs(keep))
    assert store.get_submissions(keep) == []


CHECKS: tuple[Callable[[BaseStore], None], ...] = (
    check_create_and_look_up_studies,
    check_job_lifecycle_counts_attempts_and_round_trips_arrays_exactly,
    check_a_reused_pid_does_not_hold_a_study_for_ever,
    check_force_takes_over_only_an_owner_that_cannot_be_checked,
    check_returned_records_are_snapshots,
    check_one_runner_per_study,
    check_owner_that_died_is_taken_over,
    check_errors_are_redacted,
    check_runs_collect_and_never_rerun_finished_jobs,
    check_failed_jobs_are_retried_up_to_the_limit,
    check_add_job_appends_pending_jobs,
    check_submissions_are_recorded_before_submitting_and_never_doubled,
    check_delete_study_removes_everything_of_it_and_nothing_else,
)
