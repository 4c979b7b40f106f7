"""Dask as the engine: a LocalCluster gives the serial bytes, and a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

from bp_qiskit import StudySpec
from bp_qiskit.errors import UsageError
from bp_qiskit.execution import run_stored
from bp_qiskit.execution.executors import dask_executor, parse_executor
from bp_qiskit.execution.studies import collect, create_study
from bp_qiskit.store import InMemoryStore, SQLiteStore

pytest.importorskip("distributed")

SPEC = StudySpec.from_dict(
    {
        "study": {"name": "dask", "seed": 8},
        "circuit": {"qubits": [2, 3, 4]},
        "sampling": {"samples": 60, "chunk": 10, "shots": 20},
    }
)


def _serial() -> str:
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run_stored(store, sid, progress=False)
    return collect(store, sid).result.to_json()


def test_executor_forms_are_checked_in_one_line():
    assert parse_executor("dask") is None
    assert parse_executor("dask://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert parse_executor("tcp://sched:8786") == "tcp://sched:8786"
    with pytest.raises(UsageError, match="--executor: got 'spark'; allowed: local, dask"):
        parse_executor("spark")


class _KillOneWorker(Executor):
    """Passes jobs to Dask; once three jobs are handed over, SIGKILLs one worker process.

    The worker dies without clean-up, as a lost node would; its Nanny starts a new one, and
    Dask reschedules what it held.
    """

    def __init__(self, inner: Executor, client: Any) -> None:
        self.inner, self.client, self.count, self.killed = inner, client, 0, threading.Event()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut = self.inner.submit(fn, *args, **kwargs)
        self.count += 1
        if self.count == 3 and not self.killed.is_set():
            pids = self.client.run(os.getpid)
            os.kill(pids[sorted(pids)[0]], signal.SIGKILL)
            self.killed.set()
        return fut


@pytest.mark.slow
def test_a_local_cluster_gives_the_serial_bytes_even_when_a_worker_dies(tmp_path):
    expected = _serial()
    store = SQLiteStore(tmp_path / "d.sqlite")
    sid = create_study(store, SPEC)
    with dask_executor("dask", workers=2) as executor:
        run_stored(store, sid, progress=False, executor=executor)
    assert collect(store, sid).result.to_json() == expected

    from distributed import Client, LocalCluster

    kid = create_study(store, SPEC)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:  # fmt: skip
        killer = _KillOneWorker(client.get_executor(), client)
        run_stored(store, kid, progress=False, executor=killer)
        assert killer.killed.is_set()
    assert collect(store, kid).result.to_json() == expected
    store.close()


def test_the_cli_runs_on_dask_and_refuses_a_bad_executor(tmp_path, capsys):
    from pathlib import Path

    from bp_qiskit.cli import main

    spec = Path(__file__).resolve().parent.parent / "jobs" / "seed_tutorial.toml"
    common = ["run", str(spec), "--qubits", "2,3", "--samples", "20", "--no-progress",
              "--store", str(tmp_path / "s.sqlite")]  # fmt: skip
    assert main([*common, "--executor", "spark", "--out", str(tmp_path / "x")]) == 2
    assert "--executor: got 'spark'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert (
        main([*common, "--executor", "dask", "--workers", "2", "--out", str(tmp_path / "d")]) == 0
    )
    assert main([*common, "--out", str(tmp_path / "s")]) == 0
    read = [(tmp_path / d / "samples.npz").read_bytes() for d in ("d", "s")]
    assert read[0] == read[1]


def test_the_spec_names_the_executor_and_python_runs_there(monkeypatch):
    """``backend.executor = "dask"`` in the spec: ``run_study`` runs on a LocalCluster.

    The cells are the serial ones, and the key survives the JSON round trip (so ``resume``
    runs where the spec says).
    """
    import json

    from bp_qiskit import run_study
    from bp_qiskit.execution import executors

    opened = []
    real = executors.dask_executor

    def spy(value: str, *, workers: int = 2) -> Any:
        opened.append((value, workers))
        return real(value, workers=workers)

    monkeypatch.setattr(executors, "dask_executor", spy)
    data = SPEC.to_dict()
    data["backend"].update(executor="dask", workers=2)
    spec = StudySpec.from_dict(data)
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    got = json.loads(run_study(spec, progress=False).result.to_json())
    assert opened == [("dask", 2)]
    assert got["cells"] == json.loads(_serial())["cells"]


def test_a_local_pool_gives_each_worker_its_share_of_aer_threads():
    from bp_qiskit.execution.executors import aer_threads, local_pool

    with local_pool(2) as pool:
        seen = pool.submit(os.getenv, "OMP_NUM_THREADS").result()
    assert seen == str(aer_threads(2)) == str(max(1, (os.cpu_count() or 1) // 2))


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ({"executor": "spark"}, "backend.executor: got 'spark'; allowed: local, dask"),
        ({"workers": 0}, "backend.workers: got 0; allowed: an integer >= 1"),
        (
            {"name": "ibm:ibm_fez", "executor": "dask"},
            "backend.executor: got 'dask' with backend 'ibm:ibm_fez'; allowed: 'local'",
        ),
    ],
)
def test_bad_executor_keys_name_the_field(backend, message):
    from bp_qiskit.errors import SpecError

    data = SPEC.to_dict()
    data["backend"].update(backend)
    with pytest.raises(SpecError, match=message):
        StudySpec.from_dict(data)


def test_an_unreachable_scheduler_is_one_line_and_fails_fast(tmp_path, capsys):
    from bp_qiskit.cli import main

    spec = Path(__file__).resolve().parent.parent / "jobs" / "seed_tutorial.toml"
    args = ["run", str(spec), "--executor", "dask://127.0.0.1:1", "--no-progress"]
    assert main([*args, "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answered within 5 s" in err
    # Refused before anything is created: no store, no study left behind.
    assert not (tmp_path / "s.sqlite").exists()


def test_the_jobs_in_flight_follow_the_executors_width():
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    from bp_qiskit.execution.executors import DEFAULT_WIDTH, executor_width

    with ProcessPoolExecutor(max_workers=3) as pool:
        assert executor_width(pool) == 3
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert executor_width(pool) == 16  # not capped at the old fixed window of 8

    class Unknown:
        pass

    assert executor_width(Unknown()) == DEFAULT_WIDTH
