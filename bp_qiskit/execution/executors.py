"""Where jobs run: this process, a local process pool, or Dask; one executor for the run loop.

:func:`open_executor` turns ``local`` / ``dask`` / ``dask://HOST:PORT`` and a worker count into
a ``concurrent.futures.Executor`` (or None: this process). The command line's ``--executor``
and ``--workers``, the spec's ``backend.executor`` and ``backend.workers``, and Python callers
all go through it.

Threads: each worker process gets ``cores // workers`` threads for Aer (``OMP_NUM_THREADS``,
which Aer's OpenMP honours). Without the split, two workers on 2 cores each started two Aer
threads and ran 10-25% slower than one process (measured for the scale issue); one process
already spreads a PUB's bindings over every core, so the default stays one process.

Dask: ``dask_executor("dask")`` starts a ``LocalCluster`` of worker processes on this machine;
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
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from ..errors import UsageError
from ..spec.backend_section import EXECUTOR_FORMS, executor_address

__all__ = [
    "EXECUTOR_FORMS",
    "aer_threads",
    "dask_executor",
    "executor_width",
    "local_pool",
    "open_executor",
    "parse_executor",
    "pooled",
]


def pooled(executor: str, workers: int | None) -> bool:
    """Whether ``executor`` and ``workers`` ask for anything but this process, serially."""
    return executor != "local" or (workers or 1) > 1


def aer_threads(workers: int) -> int:
    """Aer threads per worker process: this machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def parse_executor(value: str, *, field: str = "--executor") -> str | None:
    """The scheduler address of an executor value: None for a LocalCluster.

    Raises UsageError naming ``field`` and the allowed forms for anything else.
    """
    try:
        return executor_address(value)
    except ValueError:
        raise UsageError(f"{field}: got {value!r}; allowed: {', '.join(EXECUTOR_FORMS)}") from None


def _unreachable(address: str, exc: BaseException) -> str:
    return (
        f"--executor dask://{address.removeprefix('tcp://')}: no Dask scheduler "
        f"answered within {CONNECT_TIMEOUT_S:.0f} s ({type(exc).__name__}); start one "
        "with `dask scheduler`, or use --executor dask for a local cluster"
    )


def check_reachable(value: str) -> None:
    """Refuse a scheduler address nobody listens on, before a study is created for it.

    A TCP connect to the address (at most ``CONNECT_TIMEOUT_S``): a refused or timed-out
    connection is the one-line UsageError that joining the cluster would raise later.
    """
    address = parse_executor(value)
    if address is None:
        return
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as exc:
        raise UsageError(_unreachable(address, exc)) from None


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
        threads = aer_threads(workers)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            # Any free port: None still meant 8787, and two clusters on one machine (two
            # studies, or tests side by side) failed with "Port 8787 is already in use".
            dashboard_address=":0",
            env={"OMP_NUM_THREADS": str(threads)},
        )
        client = Client(cluster)
    else:
        try:
            # A short connect timeout: an unreachable scheduler is a typo or a cluster that is
            # down, and waiting Dask's default 30 s to print a traceback helps nobody.
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise UsageError(_unreachable(address, exc)) from None
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


CONNECT_TIMEOUT_S = 5.0
DEFAULT_WIDTH = 4


def _worker_init(parent: int, threads: int) -> None:
    """A local pool worker: its share of Aer threads, and death with its parent."""
    # Before the worker imports qiskit_aer: OpenMP reads the variable when it starts.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """On Linux, ask the kernel to kill this worker when its parent dies.

    Without it a SIGKILLed ``run --workers N`` left its workers (and through them the
    resource tracker) alive. A parent that died before this ran is caught by comparing the
    parent's pid. Elsewhere the pool's own shutdown is all there is.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent is already gone
        os._exit(1)


@contextlib.contextmanager
def local_pool(workers: int) -> Iterator[Executor]:
    """``workers`` processes on this machine, each with its share of Aer threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: Aer's thread pools do not survive a fork.
    mp = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=mp,
        initializer=_worker_init,
        initargs=(os.getpid(), aer_threads(workers)),
    ) as pool:
        yield pool


@contextlib.contextmanager
def open_executor(value: str, workers: int | None) -> Iterator[Executor | None]:
    """The executor for ``value`` and ``workers``; None means this process, serially.

    ``local`` with one worker (the default) runs in this process; ``local`` with more is a
    process pool; ``dask`` is a LocalCluster of ``workers`` (default: the core count);
    ``dask://HOST:PORT`` joins a running scheduler.
    """
    if value != "local":
        with dask_executor(value, workers=workers or os.cpu_count() or 2) as pool:
            yield pool
    elif (workers or 1) > 1:
        with local_pool(int(workers or 1)) as pool:
            yield pool
    else:
        yield None


def executor_width(executor: Executor) -> int:
    """How many jobs the executor runs at once: its processes, or its Dask workers' threads.

    The run loop keeps twice that many jobs in flight, so no worker waits for the next job
    and memory stays bounded; a fixed window of 8 held any cluster to 8 jobs at once.
    """
    width = getattr(executor, "_max_workers", None)  # concurrent.futures pools
    if isinstance(width, int) and width > 0:
        return width
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        try:
            total = sum(int(v) for v in nthreads().values())
        except Exception:  # a scheduler that does not answer: the loop's own default
            total = 0
        if total > 0:
            return total
    return DEFAULT_WIDTH
