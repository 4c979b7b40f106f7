"""The one run loop: claim, execute, commit, retry, interrupt, re-attach.

Every job of a study is recorded (PENDING) before it runs, so a crash at any moment loses
only the jobs in flight. Running a job is: claim it (RUNNING, attempts + 1), execute it, and
commit its result arrays together with the DONE state in one transaction. Jobs found RUNNING
when a study is resumed were interrupted (crash, kill -9): they run again, and the extra
attempt is counted. A job's random stream depends only on the study seed and the job's
identity, so what is recomputed is bit for bit what would have been computed.

Jobs run in this process one at a time, or through any ``concurrent.futures.Executor`` (a
process pool, a Dask cluster's ``client.get_executor()``). This process alone writes to the
store. Jobs on a remote backend (a QPU) take their own path,
:func:`~bp_qiskit.execution.remote.run_remote`: all submitted up front, every submission
persisted, re-attached after a crash, and resubmitted only by cause.

Ctrl-C puts every claimed job back to PENDING, keeping its remote id, and re-raises;
``fail_job`` never touches a job whose DONE commit got through.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, Protocol

from numpy.typing import NDArray

from ..backends import Backend, make_backend
from ..backends.protocol import OnSubmit
from ..spec import StudySpec
from ..store import BaseStore, JobRecord, JobState, StoreError
from .jobs import BuiltJob, JobBuilder
from .remote import run_remote

__all__ = ["DEFAULT_MAX_ATTEMPTS", "JobOutput", "JobRunner", "RunContext", "run_jobs"]

DEFAULT_MAX_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class JobOutput:
    """What one job commits: its arrays, the shots executed, and the QPU usage reported."""

    arrays: dict[str, NDArray[Any]]
    shots: int
    usage_seconds: float | None = None


class JobRunner(Protocol):
    """What the loop asks of a study kind: run one job, or build and combine it in steps."""

    def execute(
        self, builder: JobBuilder, rec: JobRecord, backend: Backend, on_submit: OnSubmit
    ) -> JobOutput:
        """Build, evaluate and combine one job."""
        ...

    def build(self, builder: JobBuilder, rec: JobRecord) -> BuiltJob:
        """The job's task (the remote path submits it itself)."""
        ...

    def combine(self, builder: JobBuilder, built: BuiltJob, evaluations: list[Any]) -> JobOutput:
        """The job's output from the evaluations of its task."""
        ...


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Everything a run of one study needs; built once per ``run``/``resume``.

    Attributes:
        store: Where jobs and results are recorded.
        study_id: The study.
        spec: Its resolved spec.
        builder: The study's job builder (owns the per-cell circuit cache).
        backend: The backend jobs run on in this process (None with an executor).
        executor: Runs jobs in worker processes; each worker builds its own backend.
        progress: Show progress bars.
        max_attempts: Attempts per job in one run.
        max_in_flight: Jobs handed to the executor at a time (bounds memory).
        resubmit: Remote jobs that were cancelled, timed out or rejected are submitted
            again (otherwise they hold the study as paused).
    """

    store: BaseStore
    study_id: str
    spec: StudySpec
    builder: JobBuilder
    backend: Backend | None = None
    executor: Executor | None = None
    progress: bool = True
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_in_flight: int = 8
    resubmit: bool = False


class _InlineExecutor(Executor):
    """Runs each job when it is submitted, in this thread.

    Exceptions go into the future like a pool's would; ``KeyboardInterrupt`` and other
    ``BaseException`` s propagate at once, so Ctrl-C stops the loop where it is.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # delivered through the future, as a pool would
            fut.set_exception(exc)
        return fut


def _in_process(
    runner: JobRunner, builder: JobBuilder, rec: JobRecord, backend: Backend, on_submit: OnSubmit
) -> JobOutput:
    return runner.execute(builder, rec, backend, on_submit)


def _in_worker(runner: JobRunner, spec: StudySpec, rec: JobRecord) -> JobOutput:
    """Executed in a worker process: its own builder and backend, closed when done."""
    backend = make_backend(spec.backend.name, options=spec.backend.options)
    try:
        return runner.execute(JobBuilder(spec), rec, backend, lambda _job_id: None)
    finally:
        backend.close()


def run_jobs(
    ctx: RunContext,
    runner: JobRunner,
    records: Sequence[JobRecord],
    *,
    on_done: Callable[[JobRecord], None] | None = None,
) -> list[JobRecord]:
    """Run every unfinished job of ``records``; return the records of jobs that still failed.

    Each job gets up to ``ctx.max_attempts`` attempts. ``on_done`` is called after each
    commit (progress bars). Store errors are never retried: they propagate.
    """
    store, sid = ctx.store, ctx.study_id
    if ctx.executor is None and ctx.backend is None:
        raise ValueError("backend: a run without an executor needs a backend")
    if ctx.executor is None and ctx.backend is not None and ctx.backend.capabilities.remote:
        return run_remote(ctx, runner, records, on_done=on_done)
    executor = ctx.executor or _InlineExecutor()
    window = ctx.max_in_flight if ctx.executor is not None else 1
    todo = deque(r for r in records if not r.state.is_finished())
    tries: dict[str, int] = {}
    in_flight: dict[Future[JobOutput], JobRecord] = {}
    claimed: set[str] = set()
    failed: list[JobRecord] = []

    def submit(rec: JobRecord) -> None:
        tries[rec.key] = tries.get(rec.key, 0) + 1
        store.claim_job(sid, rec.key)
        claimed.add(rec.key)
        if ctx.executor is not None:
            fut = executor.submit(_in_worker, runner, ctx.spec, rec)
        else:
            assert ctx.backend is not None

            def persist(job_id: str, key: str = rec.key) -> None:
                store.set_remote_id(sid, key, job_id)

            fut = executor.submit(_in_process, runner, ctx.builder, rec, ctx.backend, persist)
        in_flight[fut] = rec

    try:
        while todo or in_flight:
            while todo and len(in_flight) < window:
                submit(todo.popleft())
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in [f for f in in_flight if f in done]:
                rec = in_flight.pop(fut)
                exc = fut.exception()
                if isinstance(exc, StoreError):
                    raise exc
                if exc is not None:
                    store.fail_job(sid, rec.key, f"{type(exc).__name__}: {exc}")
                    claimed.discard(rec.key)
                    if tries[rec.key] < ctx.max_attempts:
                        todo.appendleft(rec)
                    else:
                        failed.append(next(j for j in store.get_jobs(sid) if j.key == rec.key))
                    continue
                out = fut.result()
                store.finish_job(sid, rec.key, out.arrays, out.shots, out.usage_seconds)
                claimed.discard(rec.key)
                if on_done is not None:
                    on_done(rec)
    except KeyboardInterrupt:
        for fut in in_flight:
            fut.cancel()
        for key in claimed:
            store.fail_job(sid, key, "interrupted by the user", state=JobState.PENDING)
        raise
    except BaseException:
        # Anything else (a store error, a dying process) leaves the claimed jobs RUNNING: a
        # resume treats them as interrupted and runs them again.
        for fut in in_flight:
            fut.cancel()
        raise
    return failed
