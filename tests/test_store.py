"""The store contract, run against every implementation (as optuna does for its storages)."""

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bp_qiskit.errors import StudyFailedError
from bp_qiskit.execution import collect, create_study, run_stored, run_study
from bp_qiskit.spec import StudySpec
from bp_qiskit.store import (
    SCHEMA_VERSION,
    InMemoryStore,
    JobState,
    SQLiteStore,
    StoreError,
    StudyBusyError,
    UnknownStudyError,
    redact,
)
from bp_qiskit.store.sqlite_schema import MIGRATIONS

DATA = Path(__file__).resolve().parent / "data"

SPEC = StudySpec.from_dict(
    {
        "study": {"name": "contract", "seed": 5},
        "circuit": {"qubits": [2, 3]},
        "sampling": {"samples": 30, "chunk": 10},
    }
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    yield s
    s.close()


def test_create_and_look_up_studies(store):
    sid = create_study(store, SPEC)
    study = store.get_study(sid)
    assert study.name == "contract" and study.seed == 5
    assert StudySpec.from_dict(study.spec) == SPEC
    assert store.get_study(sid[:6]).id == sid  # unique prefix
    assert store.get_study("contract").id == sid  # by name
    assert [s.id for s in store.list_studies()] == [sid]
    with pytest.raises(UnknownStudyError, match="no study 'nope'"):
        store.get_study("nope")
    jobs = store.get_jobs(sid)
    assert [j.key for j in jobs] == [f"n{n}_L1_c{i}" for n in (2, 3) for i in range(3)]
    assert all(j.state is JobState.PENDING and j.attempts == 0 for j in jobs)
    assert jobs[4].rng == (5, 3, 1, 1) and (jobs[4].start, jobs[4].stop) == (10, 20)


def test_job_lifecycle_counts_attempts_and_round_trips_arrays_exactly(store):
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
    arrays = {
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
    with pytest.raises(StoreError, match="already finished"):
        store.claim_job(sid, key)
    store.fail_job(sid, key, "late interrupt", state=JobState.PENDING)
    assert next(j for j in store.get_jobs(sid) if j.key == key).state is JobState.DONE


def test_a_reused_pid_does_not_hold_a_study_for_ever(store):
    import os
    import socket

    from bp_qiskit.store._owner import current_owner, owner_state

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


def test_force_takes_over_only_an_owner_that_cannot_be_checked(store):
    from bp_qiskit.store._owner import current_owner

    sid = create_study(store, SPEC)
    store.acquire_study(sid, "elsewhere-host:1:5")
    with pytest.raises(StudyBusyError, match="pass --force"):
        store.acquire_study(sid, "me:2")
    store.acquire_study(sid, "me:2", force=True)
    store.acquire_study(sid, current_owner(), force=True)  # "me" is another host, unverifiable
    with pytest.raises(StudyBusyError, match="stop that process first"):
        store.acquire_study(sid, "me:3", force=True)  # this process is verifiably alive


def test_returned_records_are_snapshots(store):
    sid = create_study(store, SPEC)
    before = store.get_jobs(sid)[0]
    store.claim_job(sid, before.key)
    assert before.state is JobState.PENDING
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.attempts = 5


def test_one_runner_per_study(store):
    sid = create_study(store, SPEC)
    store.acquire_study(sid, "elsewhere-host:1")  # another host's owner cannot be checked
    with pytest.raises(StudyBusyError, match="being run by elsewhere-host:1"):
        store.acquire_study(sid, "me:2")
    store.release_study(sid, "elsewhere-host:1")
    store.acquire_study(sid, "me:2")


def test_owner_that_died_is_taken_over(store):
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sid = create_study(store, SPEC)
    store.acquire_study(sid, f"{socket.gethostname()}:{proc.pid}")
    store.acquire_study(sid, f"{socket.gethostname()}:{__import__('os').getpid()}")


def test_errors_are_redacted(store, monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "s3cr3t-token-value")
    sid = create_study(store, SPEC)
    store.claim_job(sid, "n2_L1_c0")
    store.fail_job(sid, "n2_L1_c0", "HTTP 401 for s3cr3t-token-value; Bearer abcdefghijkl")
    err = store.get_jobs(sid)[0].error
    assert "s3cr3t" not in err and "abcdefghijkl" not in err
    assert redact("token=abcdef123456") == "token=<redacted>"


def test_manager_runs_collects_and_never_reruns_finished_jobs(store):
    sid = create_study(store, SPEC)
    run_stored(store, sid, progress=False)
    result = collect(store, sid).result
    assert [c.samples for c in result.cells] == [30, 30]
    assert all(j.attempts == 1 for j in store.get_jobs(sid))
    run_stored(store, sid, progress=False)  # nothing left to do
    assert all(j.attempts == 1 for j in store.get_jobs(sid))
    assert store.get_jobs(sid)[0].key == "n2_L1_c0"


def test_failed_jobs_are_retried_up_to_the_limit(store):
    class Flaky:
        """A backend that fails a given number of times, then works."""

        def __init__(self, failures):
            from bp_qiskit.backends import make_backend

            self.inner, self.failures, self.name = make_backend("aer"), failures, "aer"
            self.capabilities = self.inner.capabilities
            self.close = self.inner.close

        def evaluate(self, tasks, **kw):
            if self.failures:
                self.failures -= 1
                raise RuntimeError("transient backend error")
            return self.inner.evaluate(tasks, **kw)

    sid = create_study(store, SPEC)
    run_stored(store, sid, backend=Flaky(2), progress=False, max_attempts=3)
    first = store.get_jobs(sid)[0]
    assert first.attempts == 3 and first.state.is_finished()
    sid2 = create_study(store, SPEC)
    with pytest.raises(StudyFailedError, match=r"6 job\(s\) of study .* failed after retries"):
        run_stored(store, sid2, backend=Flaky(100), progress=False, max_attempts=2)
    failed = store.get_jobs(sid2)
    assert len(failed) == 6 and all(j.attempts == 2 for j in failed)
    assert all(j.state is JobState.FAILED for j in failed)
    assert failed[0].error == "RuntimeError: transient backend error"
    with pytest.raises(StoreError, match="not finished: 0 of 6 jobs done"):
        collect(store, sid2)


# -- SQLite-specific integrity -----------------------------------------------------------------


def test_sqlite_schema_is_versioned_and_newer_stores_are_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == max(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this bp_qiskit supports"):
        SQLiteStore(path)


def test_sqlite_refuses_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a bp_qiskit store or is corrupt"):
        SQLiteStore(junk)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not a bp_qiskit store"):
        SQLiteStore(other)
    # Refused before anything was written: not switched to WAL, not a byte changed.
    assert other.read_bytes() == before
    assert not (tmp_path / "other.sqlite-wal").exists()
    db = sqlite3.connect(other)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()


def test_sqlite_locked_database_is_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    store = SQLiteStore(path, timeout=0.1)
    sid = create_study(store, SPEC)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            store.claim_job(sid, "n2_L1_c0")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.claim_job(sid, "n2_L1_c0")
    store.close()


def test_two_processes_run_different_studies_in_one_store(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as s:
        ids = [create_study(s, SPEC), create_study(s, SPEC)]
    code = (
        "import sys; from bp_qiskit.store import SQLiteStore; from bp_qiskit.execution import "
        "run_stored; s = SQLiteStore(sys.argv[1]); run_stored(s, sys.argv[2], progress=False)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), i]) for i in ids]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with SQLiteStore(path) as s:
        a, b = (collect(s, i).result for i in ids)
        assert a.to_json() == b.to_json()  # same spec and seed: same result
        assert all(j.attempts == 1 for i in ids for j in s.get_jobs(i))


def test_parallel_workers_give_the_same_bytes(tmp_path):
    """Job streams do not depend on scheduling: 2 worker processes, same result as 1."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spec = StudySpec.from_dict(
        {
            "study": {"name": "par", "seed": 8},
            "circuit": {"qubits": [2, 3, 4]},
            "sampling": {"samples": 60, "chunk": 10, "shots": 20},
        }
    )
    serial = InMemoryStore()
    sid = create_study(serial, spec)
    run_stored(serial, sid, progress=False)
    parallel = SQLiteStore(tmp_path / "p.sqlite")
    pid = create_study(parallel, spec)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        run_stored(parallel, pid, progress=False, executor=pool)
    assert collect(parallel, pid).result.to_json() == collect(serial, sid).result.to_json()
    assert all(j.attempts == 1 for j in parallel.get_jobs(pid))
    with pytest.raises(ValueError, match="in-process simulator"):
        run_stored(
            parallel,
            create_study(
                parallel,
                StudySpec.from_dict(
                    {
                        "circuit": {"qubits": [2, 3]},
                        "backend": {"name": "fake:manila"},
                        "sampling": {"shots": 10},
                    }
                ),
            ),
            executor=pool,
        )
    parallel.close()


def test_sqlite_migrates_a_version_1_store(tmp_path):
    """A store written by schema v1 opens, is upgraded in place, and keeps its data."""
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO studies VALUES ('abc', 'old', '{}', '0.0.1', 3, 0.0, NULL)")
    db.execute(
        "INSERT INTO jobs (study_id, key, seq, num_qubits, num_layers, idx, start, stop, rng, "
        "backend, state, attempts, shots_requested, created_at) "
        "VALUES ('abc', 'n2_L1_c0', 0, 2, 1, 0, 0, 10, '[3, 2, 1, 0]', 'aer', 'DONE', 1, 0, 0.0)"
    )
    db.commit()
    db.close()
    store = SQLiteStore(path)
    (job,) = store.get_jobs("abc")
    assert job.key == "n2_L1_c0" and job.state is JobState.DONE and job.usage_seconds is None
    assert store.get_submissions("abc") == []
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    db.close()


def test_a_store_written_by_schema_v3_opens_and_reports_what_it_ran(tmp_path):
    """tests/data/stores/v3.sqlite: written by bp_qiskit at schema v3 (commit 76ec3b7), a
    seed study (n = 2, 3; 6 circuits each). Opened now, it is upgraded in place (v4 drops the
    write-only cells table) and gives the variances that run printed then."""
    import shutil

    path = tmp_path / "v3.sqlite"
    shutil.copyfile(DATA / "stores" / "v3.sqlite", path)
    store = SQLiteStore(path)
    (study,) = store.list_studies()
    assert study.id == "30dcd8c5f0d3"
    assert all(j.state is JobState.DONE for j in store.get_jobs(study.id))
    result = collect(store, study.id).result
    assert [c.grad_var for c in result.cells] == [0.004612163999867241, 0.014429759814648141]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"studies", "jobs", "results", "submissions"}
    db.close()


def test_add_job_appends_pending_jobs(store):
    from bp_qiskit.execution.jobs import JobKey, record_for
    from bp_qiskit.results import Cell

    sid = store.create_study("adaptive", SPEC.to_dict(), "0", 5, [])
    rec = dataclasses.replace(
        record_for(SPEC, JobKey(Cell(2, 1), 0, 0, 10), shots=64), study_id=sid
    )
    store.add_job(sid, rec)
    (job,) = store.get_jobs(sid)
    assert job.key == "n2_L1_c0" and job.shots_requested == 64 and job.state is JobState.PENDING
    with pytest.raises(StoreError, match="already exists"):
        store.add_job(sid, rec)
    with pytest.raises(UnknownStudyError):
        store.add_job("nope", rec)


def test_adaptive_study_resumes_from_the_store_without_rerunning_rounds(tmp_path):
    from bp_qiskit.testing.standin import InterruptingBackend

    spec = StudySpec.from_dict(
        {
            "study": {"name": "adapt", "seed": 21},
            "circuit": {"qubits": [3, 4]},
            "sampling": {"shots": 40, "chunk": 40},
            "adaptive": {"target_rel_error": 0.2, "max_shots": 10**7},
        }
    )
    ref = run_study(spec, progress=False)
    store = SQLiteStore(tmp_path / "a.sqlite")
    sid = create_study(store, spec)
    with pytest.raises(KeyboardInterrupt):
        run_stored(store, sid, backend=InterruptingBackend(4), progress=False)
    done_before = {j.key for j in store.get_jobs(sid) if j.state.is_finished()}
    assert len(done_before) == 3
    run_stored(store, sid, progress=False)
    resumed = collect(store, sid)
    assert resumed.result.to_json() == ref.result.to_json()
    assert resumed.adaptive == ref.adaptive
    attempts = {j.key: j.attempts for j in store.get_jobs(sid)}
    assert all(attempts[k] == 1 for k in done_before)
    assert all(j.state.is_finished() for j in store.get_jobs(sid))


def test_submissions_are_recorded_before_submitting_and_never_doubled(store, monkeypatch):
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
    with pytest.raises(StoreError, match="may still be running"):
        store.add_submission(sid, key, "tag-2")
    store.update_submission(
        sid, "tag-1", state=SubmissionState.SUBMITTED, remote_job_id="job-a",
        provenance={"qubits": [3, 5]},
    )  # fmt: skip
    assert store.get_jobs(sid)[0].remote_job_id == "job-a"
    with pytest.raises(StoreError, match="job-a"):
        store.add_submission(sid, key, "tag-2")
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "secret-token-value")
    store.update_submission(
        sid, "tag-1", state=SubmissionState.FAILED, cause="transient",
        reason="Error code 1010; token secret-token-value", provenance={"shots": 100},
    )  # fmt: skip
    store.set_submission_usage(sid, "tag-1", None)
    second = store.add_submission(sid, key, "tag-2")
    assert second.attempt == 2
    with pytest.raises(StoreError, match="already used"):
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
    assert "secret-token-value" not in a.reason and "1010" in a.reason
    assert (b.tag, b.usage_seconds, b.state) == ("tag-2", 1.5, SubmissionState.SUBMITTING)
    with pytest.raises(StoreError, match="no submission"):
        store.update_submission(sid, "nope", state=SubmissionState.DONE)
    with pytest.raises(StoreError, match="no submission"):
        store.set_submission_usage(sid, "nope", 1.0)
    with pytest.raises(StoreError, match="no job"):
        store.add_submission(sid, "n9_L9_c9", "tag-3")
    # Records are snapshots.
    a.provenance["qubits"] = []
    assert store.get_submissions(sid)[0].provenance["qubits"] == [3, 5]


def test_delete_study_removes_everything_of_it_and_nothing_else(store):
    keep = create_study(store, SPEC)
    gone = create_study(store, SPEC)
    run_stored(store, gone, progress=False)
    run_stored(store, keep, progress=False)
    store.add_submission(gone, store.get_jobs(gone)[0].key, "tag-gone")
    store.acquire_study(gone, "otherhost:1")  # a runner on another host counts as alive
    with pytest.raises(StudyBusyError):
        store.delete_study(gone)
    store.release_study(gone, "otherhost:1")
    store.delete_study(gone)
    with pytest.raises(UnknownStudyError):
        store.get_study(gone)
    with pytest.raises(UnknownStudyError):
        store.get_jobs(gone)
    with pytest.raises(UnknownStudyError):
        store.delete_study(gone)
    assert [s.id for s in store.list_studies()] == [keep]
    assert len(store.get_results(keep)) == len(store.get_jobs(keep))
    assert store.get_submissions(keep) == []


def test_a_transaction_left_open_by_a_signal_is_rolled_back_not_fatal(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite")
    sid = create_study(store, SPEC)
    key = store.get_jobs(sid)[0].key
    # What a KeyboardInterrupt right after BEGIN leaves behind: an open, uncommitted write.
    store._db.execute("BEGIN IMMEDIATE")
    store._db.execute("UPDATE jobs SET attempts = 99 WHERE key = ?", (key,))
    store.fail_job(sid, key, "interrupted by the user", state=JobState.PENDING)
    (job,) = [j for j in store.get_jobs(sid) if j.key == key]
    assert job.attempts == 0 and job.error == "interrupted by the user"
    store.close()


def test_a_read_only_store_can_be_listed_and_reported_but_not_written(
    tmp_path, monkeypatch, capsys
):
    import os
    import stat

    from bp_qiskit.cli import main

    folder = tmp_path / "archive"
    folder.mkdir()
    path = folder / "s.sqlite"
    spec = tmp_path / "spec.toml"
    spec.write_text('[study]\nname = "ro"\n[circuit]\nqubits = [2]\n[sampling]\nsamples = 20\n')
    assert (
        main(
            ["run", str(spec), "--store", str(path), "--no-progress", "--out", str(tmp_path / "o1")]
        )
        == 0
    )
    capsys.readouterr()
    for p in folder.iterdir():
        p.chmod(stat.S_IRUSR | stat.S_IRGRP)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.geteuid() == 0:
            # root ignores permission bits; pretend the check saw them, as for any other user.
            monkeypatch.setattr("bp_qiskit.store.sqlite._writable", lambda p: False)
        store = SQLiteStore(path)
        assert store.read_only and [s.name for s in store.list_studies()] == ["ro"]
        store.close()
        assert main(["list", "--store", str(path)]) == 0
        assert "ro" in capsys.readouterr().out
        assert main(["report", "ro", "--store", str(path), "--out", str(tmp_path / "r")]) == 0
        assert (tmp_path / "r" / "results.json").exists()
        capsys.readouterr()
        assert main(["run", str(spec), "--store", str(path), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "read-only" in err
        assert len(err.strip().splitlines()) == 1
        assert sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]  # nothing new written
    finally:
        folder.chmod(stat.S_IRWXU)


def test_resume_force_takes_over_a_lock_from_a_host_that_cannot_be_checked(tmp_path, capsys):
    from bp_qiskit.cli import main

    path = tmp_path / "s.sqlite"
    store = SQLiteStore(path)
    sid = create_study(store, SPEC)
    store.acquire_study(sid, "node17:4242:99")  # a runner on another machine, never released
    store.close()
    args = ["resume", sid, "--store", str(path), "--no-progress", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "being run by node17:4242:99" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert main([*args, "--force"]) == 0
    assert json_cells(tmp_path / "o" / "results.json") == [30, 30]


def json_cells(path):
    import json

    return [c["samples"] for c in json.loads(path.read_text())["cells"]]
