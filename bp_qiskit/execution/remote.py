"""Remote jobs (a QPU) as a persisted state machine: nothing is lost, nothing is billed twice.

The run loop hands jobs on a remote backend to :func:`run_remote`. Every step is written to
the store's submissions table before or as it happens:

1. **Submit up front.** Every job that needs a submission gets a fresh tag, is recorded as
   SUBMITTING *before* the submit call, and becomes SUBMITTED with its id the moment the id
   exists. All jobs go in before any is waited for, so a batch gets its jobs together and a
   session has no idle gaps between them.
2. **Collect as they finish.** Jobs are polled in turn, less often the longer they sit in
   one state (up to once a minute); a DONE job's result is committed with its provenance and
   usage. A network or server hiccup (:func:`is_transient`) backs off and polls again later:
   it is never a reason to submit again.
3. **Retry by cause** (:func:`~bp_qiskit.backends.remote.failure_cause`): only failures with
   an infrastructure retry code, submissions the service throttled (429) and submissions it
   never got are submitted again, with backoff, and at most ``max_attempts`` times in a row
   *across resumes* (the store counts them). A user's cancel, a job that ran past
   ``max_execution_time`` (1305), an invalid job, a refused submission (HTTP 4xx), a job the
   service no longer knows (404) and an ERROR whose reason could not be read all *hold* the
   study: it stops as paused and says how to continue (``resume --resubmit``).
4. **In doubt.** A submission whose POST got no answer, or that a crash left SUBMITTING,
   may or may not have reached the service, which can take a while to list a new job. It is
   looked up by its tag several times (``DOUBT_LOOKUPS``) spread over a grace period
   (``backend.options.in_doubt_grace``, 300 s by default); only when every lookup comes back
   empty is it marked LOST and the job submitted again. Every later ``run``, ``resume`` and
   ``status`` looks LOST tags up again (:func:`adopt_lost`): a job that turns up after all is
   adopted and collected, or, where the job was already submitted again, recorded as a
   duplicate that was billed.

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
    JobVanishedError,
    RemoteBackend,
    RemoteStatus,
    SubmitRefusedError,
    SubmitRejectedError,
    TransientServiceError,
    failure_cause,
)
from ..backends.runtime import MAX_TRANSIENT_FAILURES, backoff, new_tag
from ..errors import StudyPausedError, UsageError
from ..store import BaseStore, JobRecord, JobState, SubmissionRecord, SubmissionState, redact
from .jobs import BuiltJob, JobBuilder

__all__ = [
    "DEFAULT_DOUBT_GRACE_S",
    "DOUBT_LOOKUPS",
    "HOLDING_CAUSES",
    "RemoteRunner",
    "adopt_lost",
    "latest_submissions",
    "retry_streak",
    "run_remote",
]

# Causes that stop a job until the user says otherwise (``resume --resubmit``).
HOLDING_CAUSES = ("cancelled", "timeout", "permanent", "unknown", "rejected", "vanished")
# Causes of a submission that may be made again on its own (counted, with backoff).
RETRY_CAUSES = ("transient", "refused", "lost")

# A job in doubt is looked up this many times, spread over the grace period, before it is
# declared LOST: the service can take a while to list a job it has just created.
DOUBT_LOOKUPS = 4
DEFAULT_DOUBT_GRACE_S = 300.0
MAX_POLL_INTERVAL_S = 60.0


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
    since: float  # wall-clock time of the submission (the grace period runs from it)
    failures: int = 0
    next_poll: float = 0.0
    lookups: int = 0
    quiet: int = 0  # polls in a row that saw the same state
    last_state: str | None = None


def latest_submissions(subs: Sequence[SubmissionRecord]) -> dict[str, SubmissionRecord]:
    """The most recent submission of each job key."""
    out: dict[str, SubmissionRecord] = {}
    for s in subs:
        out[s.key] = s
    return out


def retry_streak(subs: Sequence[SubmissionRecord], key: str) -> int:
    """How many of the job's latest submissions in a row ended in a retryable failure."""
    streak = 0
    for s in reversed([s for s in subs if s.key == key]):
        retryable = s.cause in RETRY_CAUSES and s.state in (
            SubmissionState.FAILED,
            SubmissionState.LOST,
        )
        if not retryable:
            break
        streak += 1
    return streak


def adopt_lost(store: BaseStore, study_id: str, find: Callable[[str], list[str]]) -> list[str]:
    """Look every LOST tag up again; adopt a job that turned up, or record it as a duplicate.

    ``find(tag)`` returns the ids of the service's jobs with that tag. A job found for a key
    that is not finished and has no live submission becomes that key's live submission
    (SUBMITTED with its id), so the run collects it instead of submitting again. Where the
    key was meanwhile submitted again, the found job is recorded on its row as a billed
    duplicate. Returns one message per job found. Hiccups skip a tag (the next call tries).
    """
    subs = store.get_submissions(study_id)
    finished = {j.key for j in store.get_jobs(study_id) if j.state.is_finished()}
    live = {s.key for s in subs if s.state.may_be_running()}
    notes = []
    for s in subs:
        if s.state is not SubmissionState.LOST or s.cause != "lost" or s.remote_job_id:
            continue
        if s.provenance.get("duplicate_job_ids"):
            continue
        try:
            ids = find(s.tag)
        except Exception:  # a hiccup: the next run or status looks again
            continue
        if not ids:
            continue
        if s.key in finished or s.key in live:
            store.update_submission(
                study_id,
                s.tag,
                reason=f"found later as {', '.join(ids)}, after the job was submitted again: "
                "a duplicate that the service ran and billed; its result is not used",
                provenance={"duplicate_job_ids": ids},
            )
            notes.append(
                f"job {s.key}: submission {s.tag} turned up late as {ids[0]} (a duplicate)"
            )
            continue
        store.update_submission(
            study_id,
            s.tag,
            state=SubmissionState.SUBMITTED,
            remote_job_id=ids[0],
            reason="found by its tag after it was declared lost; adopted",
        )
        live.add(s.key)
        notes.append(f"job {s.key}: submission {s.tag} turned up as {ids[0]}; adopted")
    return notes


_HOLD_TEXT = {
    "cancelled": "was cancelled on the service (by you or an administrator)",
    "timeout": "ran past max_execution_time (code 1305); raise it with resume "
    "--max-execution-time SECONDS --resubmit",
    "permanent": "was rejected by the service",
    "rejected": "was refused by the service",
    "unknown": "ended in ERROR with no reason code (it may have run past max_execution_time, "
    "or the job may be at fault)",
    "vanished": "is no longer known to the service (HTTP 404) and will never finish",
    "retries": "failed on the service's side on every try",
}


def _hold_message(study_id: str, key: str, job: str, cause: str | None, reason: str | None) -> str:
    what = _HOLD_TEXT.get(cause or "permanent", _HOLD_TEXT["permanent"])
    return redact(
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
    is held (cancelled, timed out, rejected, ...), and re-raises Ctrl-C after putting the jobs
    not yet submitted back to PENDING (submitted ones keep running; resume re-attaches).
    """
    return _RemoteRun(ctx, runner, on_done).run(records)


def _previous_limit(sub: SubmissionRecord) -> int | None:
    """The max_execution_time a submission was sent with (None: the service's default)."""
    value = (sub.provenance.get("options") or {}).get("max_execution_time")
    return int(value) if isinstance(value, (int, float)) else None


class _RemoteRun:
    """One call of :func:`run_remote`: the live jobs and what this run has done to them."""

    def __init__(
        self, ctx: Any, runner: RemoteRunner, on_done: Callable[[JobRecord], None] | None
    ) -> None:
        self.ctx, self.runner, self.on_done = ctx, runner, on_done
        self.store, self.sid = ctx.store, ctx.study_id
        self.backend: RemoteBackend = ctx.backend
        options = ctx.spec.backend.options
        self.interval = float(options.get("poll_interval", 5.0))
        self.grace = float(options.get("in_doubt_grace", DEFAULT_DOUBT_GRACE_S))
        self.limit = options.get("max_execution_time")
        self.tries: dict[str, int] = {}
        self.live: dict[str, _Live] = {}
        self.deferred: dict[str, tuple[float, JobRecord, BuiltJob]] = {}
        self.held: list[str] = []
        self.failed: list[JobRecord] = []

    def run(self, records: Sequence[JobRecord]) -> list[JobRecord]:
        """Plan, submit everything, then collect as jobs finish."""
        adopt_lost(self.store, self.sid, self.backend.find)
        subs = self.store.get_submissions(self.sid)
        latest = latest_submissions(subs)
        live = {s.key: s for s in subs if s.state.may_be_running()}
        to_submit: list[JobRecord] = []
        # 1. What each unfinished job needs: re-attach, resolve a doubt, hold, or submit.
        for rec in records:
            if rec.state.is_finished():
                continue
            last = latest.get(rec.key)
            if rec.key in live:
                sub = live[rec.key]
                built = self.runner.build(self.ctx.builder, rec)
                self.live[rec.key] = _Live(rec, built, sub.tag, sub.remote_job_id, sub.created_at)
            elif last is not None and last.cause in HOLDING_CAUSES and not self.ctx.resubmit:
                self.hold(rec, last.remote_job_id or last.tag, last.cause, last.reason)
            elif not self.ctx.resubmit and retry_streak(subs, rec.key) >= self.ctx.max_attempts:
                n = retry_streak(subs, rec.key)
                self.hold(
                    rec,
                    last.remote_job_id or last.tag if last else "-",
                    "retries",
                    f"{n} submissions in a row failed; last: {last.reason if last else ''}",
                )
            else:
                if last is not None and last.cause == "timeout":
                    self.check_new_limit(rec, last)
                to_submit.append(rec)
        try:
            for rec in to_submit:
                self.submit(rec, self.runner.build(self.ctx.builder, rec))
            # 2. Collect as they finish.
            while self.live or self.deferred:
                now = time.monotonic()
                for key, (when, rec, built) in list(self.deferred.items()):
                    if when <= now:
                        del self.deferred[key]
                        self.submit(rec, built)
                for entry in list(self.live.values()):
                    if entry.next_poll <= now:
                        self.step(entry)
                due = [e.next_poll for e in self.live.values()]
                due += [when for when, _, _ in self.deferred.values()]
                if due:
                    time.sleep(min(max(0.0, min(due) - time.monotonic()), MAX_POLL_INTERVAL_S))
        except KeyboardInterrupt:
            for key, entry in self.live.items():
                note = "interrupted by the user"
                if entry.job_id:
                    note += f"; remote job {entry.job_id} keeps running and resume collects it"
                self.store.fail_job(self.sid, key, note, state=JobState.PENDING)
            for key in self.deferred:
                self.store.fail_job(
                    self.sid, key, "interrupted by the user", state=JobState.PENDING
                )
            raise
        if self.held:
            more = len(self.held) - 1
            raise StudyPausedError(
                f"study {self.sid} is paused: {self.held[0]}"
                + (f" ({more} more job(s) held; see bp-qiskit status)" if more else "")
            )
        return self.failed

    def check_new_limit(self, rec: JobRecord, last: SubmissionRecord) -> None:
        """A job that ran past its time limit is sent again only with a higher limit."""
        before = _previous_limit(last)
        now = self.limit
        if now is None or (before is not None and now <= before):
            raise UsageError(
                f"job {rec.key} ran past max_execution_time"
                + (f" ({before} s)" if before is not None else " (the service's default)")
                + "; resubmitting with the same limit would bill it again: pass "
                "--max-execution-time SECONDS with a higher value"
            )

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
        entry = _Live(rec, built, tag, None, time.time())
        self.live[rec.key] = entry
        try:
            sub = self.backend.submit([built.task], seed=built.seed, tag=tag)
        except TransientServiceError:
            return  # in doubt: the service may have the job; the tag lookups decide
        except SubmitRefusedError as exc:
            del self.live[rec.key]
            store.update_submission(
                sid, tag, state=SubmissionState.FAILED, cause="refused", reason=str(exc)
            )
            self.retry(rec, built, tag, str(exc))
            return
        except Exception as exc:
            # The service refused the job (HTTP 4xx), or the client refused to send it: the
            # same job would be refused again, so it is held with the service's reason.
            del self.live[rec.key]
            why = (
                str(exc) if isinstance(exc, SubmitRejectedError) else f"{type(exc).__name__}: {exc}"
            )
            store.update_submission(
                sid, tag, state=SubmissionState.FAILED, cause="rejected", reason=why
            )
            self.hold(rec, tag, "rejected", why)
            return
        store.update_submission(
            sid,
            tag,
            state=SubmissionState.SUBMITTED,
            remote_job_id=sub.job_id,
            provenance=sub.provenance,
        )
        entry.job_id = sub.job_id

    def retry(self, rec: JobRecord, built: BuiltJob, job: str, why: str) -> None:
        """Submit the job again after a backoff, unless its retries are used up."""
        if self.ctx.resubmit:
            streak = self.tries.get(rec.key, 0)  # --resubmit starts a new count
        else:
            streak = retry_streak(self.store.get_submissions(self.sid), rec.key)
        if streak >= self.ctx.max_attempts:
            self.hold(rec, job, "retries", f"{streak} submissions in a row failed; last: {why}")
            return
        self.store.fail_job(
            self.sid, rec.key, f"{job}: {why}; submitting again", state=JobState.PENDING
        )
        wait = backoff(self.interval, streak)
        self.deferred[rec.key] = (time.monotonic() + wait, rec, built)

    def lookup_spacing(self) -> float:
        """Seconds between the tag lookups of a job in doubt."""
        return max(self.interval, self.grace / (DOUBT_LOOKUPS - 1))

    def step(self, entry: _Live) -> None:
        """Advance one live job by one poll (or one tag lookup while it is in doubt)."""
        store, sid, backend = self.store, self.sid, self.backend
        try:
            if entry.job_id is None:
                ids = backend.find(entry.tag)
                entry.lookups += 1
                if not ids:
                    waited = time.time() - entry.since
                    if entry.lookups < DOUBT_LOOKUPS or waited < self.grace:
                        entry.next_poll = time.monotonic() + self.lookup_spacing()
                        return
                    # The service never got it: record that, and submit afresh (counted).
                    why = f"no job with this tag after {entry.lookups} lookups over {waited:.0f} s"
                    store.update_submission(
                        sid, entry.tag, state=SubmissionState.LOST, cause="lost", reason=why
                    )
                    del self.live[entry.rec.key]
                    self.retry(entry.rec, entry.built, entry.tag, why)
                    return
                entry.job_id = ids[0]
                store.update_submission(
                    sid, entry.tag, state=SubmissionState.SUBMITTED, remote_job_id=ids[0]
                )
            status = backend.poll(entry.job_id)
            if status.state == "DONE":
                evaluations = backend.collect(entry.job_id, [entry.built.task])
            entry.failures = 0
        except JobVanishedError as exc:
            del self.live[entry.rec.key]
            store.update_submission(
                sid, entry.tag, state=SubmissionState.LOST, cause="vanished", reason=str(exc)
            )
            self.hold(entry.rec, entry.job_id or entry.tag, "vanished", str(exc))
            return
        except TransientServiceError as exc:
            entry.failures += 1
            if entry.failures > MAX_TRANSIENT_FAILURES:
                # Give up for this run, but keep the submission live: resume re-attaches.
                self.lose(entry, f"lost contact with the service ({exc})")
            else:
                entry.next_poll = time.monotonic() + backoff(self.interval, entry.failures)
            return
        except Exception as exc:
            # Not a hiccup (an expired account): stop following the job, but keep its
            # submission live so nothing submits it again.
            self.lose(entry, f"could not follow it: {type(exc).__name__}: {exc}")
            return
        if status.state == "DONE":
            del self.live[entry.rec.key]
            self.finish(entry, evaluations)
        elif status.final:
            del self.live[entry.rec.key]
            self.ended(entry, status)
        else:
            # Poll less often the longer a job sits in one state (a queue can take hours).
            entry.quiet = entry.quiet + 1 if status.state == entry.last_state else 0
            entry.last_state = status.state
            wait = min(MAX_POLL_INTERVAL_S, self.interval * 1.5**entry.quiet)
            entry.next_poll = time.monotonic() + wait

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
            provenance={
                "shots_executed": out.shots,
                "result_metadata": _json_safe(meta),
                **self.backend.execution_record(entry.job_id),
            },
        )
        self.store.set_submission_usage(self.sid, entry.tag, usage)
        self.store.finish_job(self.sid, entry.rec.key, out.arrays, out.shots, usage)
        if self.on_done is not None:
            self.on_done(entry.rec)

    def ended(self, entry: _Live, status: RemoteStatus) -> None:
        """A job ended without a result: hold it, or resubmit it (counted, with backoff)."""
        store, sid = self.store, self.sid
        assert entry.job_id is not None
        cause = failure_cause(status)
        state = SubmissionState.CANCELLED if status.state == "CANCELLED" else SubmissionState.FAILED
        store.update_submission(sid, entry.tag, state=state, cause=cause, reason=status.reason)
        store.set_submission_usage(sid, entry.tag, self.backend.usage(entry.job_id))
        if cause in HOLDING_CAUSES:
            self.hold(entry.rec, entry.job_id, cause, status.reason)
        else:
            self.retry(entry.rec, entry.built, entry.job_id, f"failed ({cause}): {status.reason}")


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a result's metadata (what JSON can hold)."""
    return {
        str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None
    }
