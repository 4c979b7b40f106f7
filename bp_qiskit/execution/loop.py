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

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

from ..backends import Backend, make_backend
from ..backends.protocol import OnSubmit
from ..spec import StudySpec
from ..store import JobRecord, JobState, StoreError
from .context import JobOutput, JobRunner, RunContext
from .jobs import JobBuilder
from .remote import run_remote

__all__ = ["run_jobs"]


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
    if ctx.executor is None and ctx.backend is None:
        raise ValueError("backend: a run without an executor needs a backend")
    if ctx.executor is None and ctx.backend is not None and ctx.backend.capabilities.remote:
        return run_remote(ctx, runner, records, on_done=on_done)
    return _LocalRun(ctx, runner, on_done).run(records)


class _LocalRun:
    """One call of :func:`run_jobs` on this process or an executor: claims, retries, commits."""

    def __init__(
        self, ctx: RunContext, runner: JobRunner, on_done: Callable[[JobRecord], None] | None
    ) -> None:
        self.ctx, self.runner, self.on_done = ctx, runner, on_done
        self.store, self.sid = ctx.store, ctx.study_id
        self.executor = ctx.executor or _InlineExecutor()
        self.window = ctx.max_in_flight if ctx.executor is not None else 1
        self.todo: deque[JobRecord] = deque()
        self.tries: dict[str, int] = {}
        self.in_flight: dict[Future[JobOutput], JobRecord] = {}
        self.claimed: set[str] = set()
        self.failed: list[JobRecord] = []

    def run(self, records: Sequence[JobRecord]) -> list[JobRecord]:
        """Keep up to ``window`` jobs in flight until every job finished or ran out of tries."""
        self.todo.extend(r for r in records if not r.state.is_finished())
        try:
            while self.todo or self.in_flight:
                while self.todo and len(self.in_flight) < self.window:
                    self.submit(self.todo.popleft())
                done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
                for fut in [f for f in self.in_flight if f in done]:
                    self.settle(fut, self.in_flight.pop(fut))
        except KeyboardInterrupt:
            for fut in self.in_flight:
                fut.cancel()
            for key in self.claimed:
                self.store.fail_job(
                    self.sid, key, "interrupted by the user", state=JobState.PENDING
                )
            raise
        except BaseException:
            # Anything else (a store error, a dying process) leaves the claimed jobs RUNNING: a
            # resume treats them as interrupted and runs them again.
            for fut in self.in_flight:
                fut.cancel()
            raise
        return self.failed

    def submit(self, rec: JobRecord) -> None:
        """Claim the job (its attempt is counted) and start it."""
        ctx, store, sid = self.ctx, self.store, self.sid
        self.tries[rec.key] = self.tries.get(rec.key, 0) + 1
        store.claim_job(sid, rec.key)
        self.claimed.add(rec.key)
        if ctx.executor is not None:
            fut = self.executor.submit(_in_worker, self.runner, ctx.spec, rec)
        else:
            assert ctx.backend is not None

            def persist(job_id: str, key: str = rec.key) -> None:
                store.set_remote_id(sid, key, job_id)

            fut = self.executor.submit(
                _in_process, self.runner, ctx.builder, rec, ctx.backend, persist
            )
        self.in_flight[fut] = rec

    def settle(self, fut: Future[JobOutput], rec: JobRecord) -> None:
        """Commit a finished job, or record its failure and queue it again while tries last."""
        store, sid = self.store, self.sid
        exc = fut.exception()
        if isinstance(exc, StoreError):
            raise exc
        if exc is not None:
            store.fail_job(sid, rec.key, f"{type(exc).__name__}: {exc}")
            self.claimed.discard(rec.key)
            if self.tries[rec.key] < self.ctx.max_attempts:
                self.todo.appendleft(rec)
            else:
                self.failed.append(next(j for j in store.get_jobs(sid) if j.key == rec.key))
            return
        out = fut.result()
        store.finish_job(sid, rec.key, out.arrays, out.shots, out.usage_seconds)
        self.claimed.discard(rec.key)
        if self.on_done is not None:
            self.on_done(rec)
