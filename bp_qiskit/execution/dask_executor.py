"""Dask as the distributed engine: an executor for the one run loop.

``dask_executor("dask")`` starts a ``LocalCluster`` of worker processes on this machine;
``dask_executor("dask://HOST:PORT")`` (or ``tcp://HOST:PORT``) joins a running scheduler, such
as one started by dask-jobqueue on Slurm or PBS, or by the Dask Kubernetes operator. Either
way the loop (:func:`~bp_qiskit.execution.loop.run_jobs`) sees a plain
``concurrent.futures.Executor`` (``Client.get_executor()``): jobs run on the workers, each
building its own backend from the spec, and this process stays the single writer of the store.

Why results are byte-identical whatever the workers: every job's random stream is fixed by
its identity (study seed, cell, job index), not by where or when it runs. A worker that dies
mid-study loses only its in-flight jobs: Dask reschedules them on the remaining workers, and
the loop retries a job whose future failed (``max_attempts``).

``distributed`` is the optional extra ``dask`` (``pip install bp_qiskit[dask]``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from ..errors import UsageError

__all__ = ["EXECUTOR_FORMS", "dask_executor", "parse_executor"]

EXECUTOR_FORMS = ("local", "dask", "dask://HOST:PORT", "tcp://HOST:PORT")


def parse_executor(value: str) -> str | None:
    """The scheduler address of an ``--executor`` value: None for a LocalCluster.

    Raises UsageError naming the allowed forms for anything else.
    """
    if value == "dask":
        return None
    for prefix in ("dask://", "tcp://"):
        if value.startswith(prefix) and ":" in value[len(prefix) :]:
            return "tcp://" + value[len(prefix) :]
    raise UsageError(f"--executor: got {value!r}; allowed: {', '.join(EXECUTOR_FORMS)}")


@contextlib.contextmanager
def dask_executor(value: str, *, workers: int = 2) -> Iterator[Executor]:
    """An executor on a Dask cluster (see the module docstring); closed on exit.

    ``workers``: worker processes of a LocalCluster (ignored when joining a scheduler). Each
    gets one thread and its share of the cores for Aer (``OMP_NUM_THREADS``), so the workers
    and Aer's own threads do not compete for the same cores.
    """
    address = parse_executor(value)
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the environment
        raise UsageError(
            "--executor dask: needs the optional extra: pip install 'bp_qiskit[dask]'"
        ) from None
    cluster: Any = None
    if address is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"OMP_NUM_THREADS": str(threads)},
        )
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
