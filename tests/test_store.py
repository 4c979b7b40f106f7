"""The store contract (bp_qiskit/testing/store_contract.py), run against every store, and
what only the SQLite store promises (schema versions, migrations, locks, read-only files)."""

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bp_qiskit.core.arrays import decode_array, encode_array
from bp_qiskit.execution import collect, create_study, run_stored, run_study
from bp_qiskit.spec import StudySpec
from bp_qiskit.store import (
    SCHEMA_VERSION,
    InMemoryStore,
    JobState,
    SQLiteStore,
    StoreError,
)
from bp_qiskit.store.sqlite_schema import MIGRATIONS
from bp_qiskit.testing.store_contract import CHECKS, SPEC

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    yield s
    s.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_store_contract(store, check):
    check(store)


def test_the_contract_fails_for_a_store_that_loses_its_arrays():
    # A guard that can fail: a store returning zeros for a finished job's arrays.
    class Forgetful(InMemoryStore):
        def get_results(self, study_id):
            return {k: {n: np.zeros_like(a) for n, a in v.items()}
                    for k, v in super().get_results(study_id).items()}  # fmt: skip

    from bp_qiskit.testing.store_contract import (
        check_job_lifecycle_counts_attempts_and_round_trips_arrays_exactly as check,
    )

    with pytest.raises(AssertionError):
        check(Forgetful())


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


def test_adaptive_study_resumes_from_the_store_without_rerunning_rounds(tmp_path):
    from bp_qiskit.testing.faults import InterruptingBackend

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


_ARRAYS = [
    np.arange(12.0).reshape(3, 4),
    np.arange(12.0).reshape(3, 4).T,  # Fortran-ordered input: written in C order
    np.array(1.5),
    np.zeros(0),
    np.zeros((0, 3), dtype=np.int64),
    np.array([1 + 2j, -0.0j]),
    np.array([True, False]),
    np.array([-0.0, np.nan, np.inf]),
    np.arange(5, dtype=">i4"),
    np.array(["ab", "c"]),
    np.zeros((2, 3), dtype=[("a", "<f8"), ("b", "<i4")]),
    np.ones((1, 7), dtype=np.float32),
]


@pytest.mark.parametrize("a", _ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_arrays_are_numpys_npy_bytes_and_come_back_exactly(a):
    # Twice: the second time through the kept header, which must change nothing.
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    for _ in range(2):
        blob = encode_array(a)
        assert blob == buf.getvalue()
        back = decode_array(blob)
        assert (
            back.dtype == np.ascontiguousarray(a).dtype
            and back.tobytes() == blob[-a.nbytes or len(blob) :]
        )
        assert back.shape == np.ascontiguousarray(a).shape and back.flags.writeable
        np.testing.assert_array_equal(back, np.ascontiguousarray(a))
