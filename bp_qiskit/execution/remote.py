"""Remote jobs (a QPU) as a persisted state machine: nothing is lost, nothing is billed twice.

The run loop hands jobs on a remote backend to :func:`run_remote`. Every step is written to
the store's submissions table before or as it happens:

1. **Submit up front.** Every job that needs a submission gets a fresh tag, is recorded as
   SUBMITTING *before* the submit call, and becomes SUBMITTED with its id the moment the id
   exists. All jobs go in before any is waited for, so a batch gets its jobs together and a
   session has no idle gaps between them.
2. **Collect as they finish.** Jobs are polled in turn; a DONE job's result is committed with
   its provenance and usage. A network or server hiccup (:func:`is_transient`) backs off and
   polls again later: it is never a reason to submit again.
3. **Retry by cause** (:func:`~bp_qiskit.backends.remote.failure_cause`): infrastructure
   failures are resubmitted up to ``max_attempts`` submissions per run, each recorded; a
   user's cancel, a job that ran past ``max_execution_time`` (1305) and an invalid job are
   not. Those *hold* the study: it stops as paused and says how to continue
   (``resume --resubmit``).
4. **In doubt.** A submission left SUBMITTING by a crash may or may not have reached the
   service. It is looked up by its tag first; only when the service has no job with that tag
   is it marked LOST and the job submitted again.

The store refuses a new submission while an earlier one of the same job may be running
(:meth:`~bp_qiskit.store.BaseStore.add_submission`), so no path through this module, or
around it, can bill a job twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..backends.remote import (
    RemoteBackend,
    RemoteStatus,
    TransientServiceError,
    failure_cause,
)
from ..backends.runtime import MAX_TRANSIENT_FAILURES, backoff, new_tag
from ..errors import StudyPausedError
from ..store import JobRecord, JobState, SubmissionRecord, SubmissionState
from .jobs import BuiltJob, JobBuilder

__all__ = ["RemoteRunner", "latest_submissions", "run_remote"]

# Causes that stop a job until the user says otherwise (``resume --resubmit``).
HOLDING_CAUSES = ("cancelled", "timeout", "permanent")


class RemoteRunner(Protocol):
    """What the remote path asks of a study kind: build a job's tasks, combine its result."""

    def build(self, builder: JobBuilder, rec: JobRecord) -> BuiltJob:
        """The job's circuits, its single task and its seed."""
        ...

    def combine(self, builder: JobBuilder, built: BuiltJob, evaluations: list[Any]) -> Any:
        """The job's output (a ``JobOutput``) from its evaluations."""
        ...


@dataclasses.dataclass
class _Live:
    """A job with a submission the service may be running."""

    rec: JobRecord
    built: BuiltJob
    tag: str
    job_id: str | None  # None while in doubt (SUBMITTING)
    failures: int = 0
    next_poll: float = 0.0


def latest_submissions(subs: Sequence[SubmissionRecord]) -> dict[str, SubmissionRecord]:
    """The most recent submission of each job key."""
    out: dict[str, SubmissionRecord] = {}
    for s in subs:
        out[s.key] = s
    return out


def _hold_message(study_id: str, key: str, job: str, cause: str | None, reason: str | None) -> str:
    what = {
        "cancelled": "was cancelled on the service (by you or an administrator)",
        "timeout": "ran past max_execution_time (code 1305); raise backend.options."
        "max_execution_time before resubmitting",
        "permanent": "was rejected by the service",
    }[cause or "permanent"]
    return (
        f"job {key} ({job}) {what}: {reason or 'no reason given'}; it was not resubmitted; "
        f"to run it again: bp-qiskit resume {study_id} --resubmit"
    )


def _job_state(cause: str | None) -> JobState:
    return JobState.CANCELLED if cause == "cancelled" else JobState.FAILED


def run_remote(
    ctx: Any,
    runner: RemoteRunner,
    records: Sequence[JobRecord],
    *,
    on_done: Callable[[JobRecord], None] | None = None,
) -> list[JobRecord]:
    """Run the unfinished jobs of ``records`` on ``ctx.backend`` (a RemoteBackend).

    Returns the records of jobs that failed after their submissions in this run. Raises
    :class:`~bp_qiskit.errors.StudyPausedError` after everything else finished when some job
    is held (cancelled, timed out, rejected), and re-raises Ctrl-C after putting the jobs not
    yet submitted back to PENDING (submitted ones keep running; resume re-attaches).
    """
    return _RemoteRun(ctx, runner, on_done).run(records)


class _RemoteRun:
    """One call of :func:`run_remote`: the live jobs and what this run has done to them."""

    def __init__(
        self, ctx: Any, runner: RemoteRunner, on_done: Callable[[JobRecord], None] | None
    ) -> None:
        self.ctx, self.runner, self.on_done = ctx, runner, on_done
        self.store, self.sid = ctx.store, ctx.study_id
        self.backend: RemoteBackend = ctx.backend
        self.interval = float(ctx.spec.backend.options.get("poll_interval", 5.0))
        self.tries: dict[str, int] = {}
        self.live: dict[str, _Live] = {}
        self.held: list[str] = []
        self.failed: list[JobRecord] = []

    def run(self, records: Sequence[JobRecord]) -> list[JobRecord]:
        """Plan, submit everything, then collect as jobs finish."""
        latest = latest_submissions(self.store.get_submissions(self.sid))
        to_submit: list[JobRecord] = []
        # 1. What each unfinished job needs: re-attach, resolve a doubt, hold, or submit.
        for rec in records:
            if rec.state.is_finished():
                continue
            last = latest.get(rec.key)
            if last is not None and last.state.may_be_running():
                built = self.runner.build(self.ctx.builder, rec)
                self.live[rec.key] = _Live(rec, built, last.tag, last.remote_job_id)
            elif (
                last is not None
                and last.cause in HOLDING_CAUSES
                and last.state is not SubmissionState.DONE
                and not self.ctx.resubmit
            ):
                self.hold(rec, last.remote_job_id or last.tag, last.cause, last.reason)
            else:
                to_submit.append(rec)
        try:
            for rec in to_submit:
                self.submit(rec, self.runner.build(self.ctx.builder, rec))
            # 2. Collect as they finish.
            while self.live:
                now = time.monotonic()
                for entry in list(self.live.values()):
                    if entry.next_poll <= now:
                        self.step(entry)
                if self.live:
                    time.sleep(self.interval)
        except KeyboardInterrupt:
            for key, entry in self.live.items():
                note = "interrupted by the user"
                if entry.job_id:
                    note += f"; remote job {entry.job_id} keeps running and resume collects it"
                self.store.fail_job(self.sid, key, note, state=JobState.PENDING)
            raise
        if self.held:
            more = len(self.held) - 1
            raise StudyPausedError(
                f"study {self.sid} is paused: {self.held[0]}"
                + (f" ({more} more job(s) held; see bp-qiskit status)" if more else "")
            )
        return self.failed

    def hold(self, rec: JobRecord, job: str, cause: str | None, reason: str | None) -> None:
        """Stop a job until the user says otherwise (``resume --resubmit``)."""
        self.held.append(_hold_message(self.sid, rec.key, job, cause, reason))
        self.store.fail_job(self.sid, rec.key, self.held[-1], state=_job_state(cause))

    def submit(self, rec: JobRecord, built: BuiltJob) -> None:
        """Record the submission, then make it; the id is persisted as soon as it exists."""
        store, sid = self.store, self.sid
        self.tries[rec.key] = self.tries.get(rec.key, 0) + 1
        tag = new_tag()
        store.claim_job(sid, rec.key)
        store.add_submission(sid, rec.key, tag)  # before the call: a crash leaves a trace
        entry = _Live(rec, built, tag, None)
        self.live[rec.key] = entry
        try:
            sub = self.backend.submit([built.task], seed=built.seed, tag=tag)
        except TransientServiceError:
            return  # in doubt: the service may have the job; the tag lookup decides
        except Exception as exc:
            del self.live[rec.key]
            store.update_submission(
                sid, tag, state=SubmissionState.FAILED, cause="permanent", reason=str(exc)
            )
            store.fail_job(sid, rec.key, f"submission rejected: {type(exc).__name__}: {exc}")
            self.failed.append(rec)
            return
        store.update_submission(
            sid,
            tag,
            state=SubmissionState.SUBMITTED,
            remote_job_id=sub.job_id,
            provenance=sub.provenance,
        )
        entry.job_id = sub.job_id

    def step(self, entry: _Live) -> None:
        """Advance one live job by one poll (or one tag lookup while it is in doubt)."""
        store, sid, backend = self.store, self.sid, self.backend
        try:
            if entry.job_id is None:
                ids = backend.find(entry.tag)
                if not ids:
                    # The service never got it: record that, and submit afresh.
                    store.update_submission(
                        sid, entry.tag, state=SubmissionState.LOST, reason="no job with this tag"
                    )
                    del self.live[entry.rec.key]
                    self.submit(entry.rec, entry.built)
                    return
                entry.job_id = ids[0]
                store.update_submission(
                    sid, entry.tag, state=SubmissionState.SUBMITTED, remote_job_id=ids[0]
                )
            status = backend.poll(entry.job_id)
            if status.state == "DONE":
                evaluations = backend.collect(entry.job_id, [entry.built.task])
            entry.failures = 0
        except TransientServiceError as exc:
            entry.failures += 1
            if entry.failures > MAX_TRANSIENT_FAILURES:
                # Give up for this run, but keep the submission live: resume re-attaches.
                self.lose(entry, f"lost contact with the service ({exc})")
            else:
                entry.next_poll = time.monotonic() + backoff(self.interval, entry.failures)
            return
        except Exception as exc:
            # Not a hiccup (an expired account, a job id the service no longer knows): stop
            # following the job, but keep its submission live so nothing submits it again.
            self.lose(entry, f"could not follow it: {type(exc).__name__}: {exc}")
            return
        if status.state == "DONE":
            del self.live[entry.rec.key]
            self.finish(entry, evaluations)
        elif status.final:
            del self.live[entry.rec.key]
            self.ended(entry, status)

    def lose(self, entry: _Live, why: str) -> None:
        """Stop following a job in this run; its submission stays live for resume."""
        del self.live[entry.rec.key]
        self.store.fail_job(
            self.sid,
            entry.rec.key,
            f"job {entry.job_id or entry.tag}: {why}; it may still run; resume re-attaches to it",
        )
        self.failed.append(entry.rec)

    def finish(self, entry: _Live, evaluations: list[Any]) -> None:
        """Commit a DONE job's result with its provenance and usage."""
        assert entry.job_id is not None
        out = self.runner.combine(self.ctx.builder, entry.built, evaluations)
        usage = self.backend.usage(entry.job_id)
        meta = evaluations[0].metadata if evaluations else {}
        self.store.update_submission(
            self.sid,
            entry.tag,
            state=SubmissionState.DONE,
            provenance={"shots_executed": out.shots, "result_metadata": _json_safe(meta)},
        )
        self.store.set_submission_usage(self.sid, entry.tag, usage)
        self.store.finish_job(self.sid, entry.rec.key, out.arrays, out.shots, usage)
        if self.on_done is not None:
            self.on_done(entry.rec)

    def ended(self, entry: _Live, status: RemoteStatus) -> None:
        """A job ended without a result: hold it, resubmit it, or count it failed."""
        store, sid, key = self.store, self.sid, entry.rec.key
        assert entry.job_id is not None
        cause = failure_cause(status)
        state = SubmissionState.CANCELLED if status.state == "CANCELLED" else SubmissionState.FAILED
        store.update_submission(sid, entry.tag, state=state, cause=cause, reason=status.reason)
        store.set_submission_usage(sid, entry.tag, self.backend.usage(entry.job_id))
        if cause in HOLDING_CAUSES:
            self.hold(entry.rec, entry.job_id, cause, status.reason)
        elif self.tries.get(key, 0) < self.ctx.max_attempts:
            store.fail_job(sid, key, f"job {entry.job_id} failed ({cause}): {status.reason}")
            self.submit(entry.rec, entry.built)  # recorded as the job's next submission
        else:
            store.fail_job(sid, key, f"job {entry.job_id} failed ({cause}): {status.reason}")
            self.failed.append(entry.rec)


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a result's metadata (what JSON can hold)."""
    return {
        str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None
    }
