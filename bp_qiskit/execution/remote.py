"""Remote jobs (a QPU) as a persisted state machine: nothing is lost, nothing is billed twice.

The run loop hands jobs on a remote backend to :func:`run_remote`. Every step is written to
the store's submissions table before or as it happens:

1. **Submit up front.** Every job that needs a submission gets a fresh tag, is recorded as
   SUBMITTING *before* the submit call, and becomes SUBMITTED with its id the moment the id
   exists. All jobs go in before any is waited for, so a batch gets its jobs together and a
   session has no idle gaps between them.
2. **Collect as they finish.** Jobs are polled in turn, less often the longer they sit in
   one state (up to once a minute); a DONE job's result is committed with its provenance and
   usage. A network or server hiccup (``TransientServiceError``) backs off and polls again
   later: it is never a reason to submit again.
3. **Retry by cause** (``RemoteStatus.cause``, as the backend reads its service's codes):
   only failures with an infrastructure retry code, submissions the service throttled (429)
   and submissions it never got are submitted again, with backoff, and at most
   ``max_attempts`` times in a row
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
from typing import Any

from ..backends.remote import (
    MAX_TRANSIENT_FAILURES,
    JobVanishedError,
    RemoteBackend,
    RemoteStatus,
    SubmitRefusedError,
    SubmitRejectedError,
    TransientServiceError,
    backoff,
    new_tag,
)
from ..errors import StudyPausedError
from ..store import JobRecord, JobState, SubmissionRecord, SubmissionState
from .context import RunContext
from .remote_members import (
    Live,
    Member,
    RemoteRunner,
    Study,
    json_safe,
    member_of,
    pack_members,
    task_of,
    update_members,
)
from .remote_records import (
    HOLDING_CAUSES,
    adopt_lost,
    check_new_limit,
    latest_submissions,
    retry_streak,
)

__all__ = [
    "DEFAULT_DOUBT_GRACE_S",
    "DEFAULT_JOB_SECONDS",
    "DOUBT_LOOKUPS",
    "run_remote",
    "run_remote_group",
]

# A job in doubt is looked up this many times, spread over the grace period, before it is
# declared LOST: the service can take a while to list a job it has just created.
DOUBT_LOOKUPS = 4
DEFAULT_DOUBT_GRACE_S = 300.0
MAX_POLL_INTERVAL_S = 60.0
# What one remote job may hold, by the offline model, unless backend.options.job_seconds says.
DEFAULT_JOB_SECONDS = 120.0


def run_remote(
    ctx: RunContext,
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
    (failed,) = run_remote_group([(ctx, runner, on_done)], [records])
    return failed


def run_remote_group(
    studies: Sequence[tuple[RunContext, RemoteRunner, Callable[[JobRecord], None] | None]],
    records: Sequence[Sequence[JobRecord]],
) -> list[list[JobRecord]]:
    """Run several studies' jobs on one remote backend, sharing PUBs and jobs where they can.

    ``studies`` are ``(ctx, runner, on_done)``, all with the same ``ctx.backend``; ``records``
    the jobs of each. Jobs of different studies with the same circuits and parameter values
    (the costs of one spec: same seed, same draws) become one PUB over all their observables,
    and PUBs are packed into jobs of up to ``backend.options.job_seconds`` QPU seconds (by the
    offline model; 0: one PUB per job). Returns each study's failed records; raises
    StudyPausedError when any job is held, after the rest finished.
    """
    return _RemoteRun(studies).run(records)


class _RemoteRun:
    """One call of :func:`run_remote_group`: the live jobs and what this run did to them."""

    def __init__(
        self, studies: Sequence[tuple[RunContext, RemoteRunner, Callable[[JobRecord], None] | None]]
    ) -> None:
        self.studies = [Study(ctx, runner, on_done) for ctx, runner, on_done in studies]
        first = self.studies[0].ctx
        if not isinstance(first.backend, RemoteBackend):
            raise TypeError(f"run_remote: {first.backend!r} is not a RemoteBackend")
        self.backend: RemoteBackend = first.backend
        self.resubmit = bool(first.resubmit)
        self.max_attempts = int(first.max_attempts)
        options = first.spec.backend.options
        self.options = options
        self.interval = float(options.get("poll_interval", 5.0))
        self.grace = float(options.get("in_doubt_grace", DEFAULT_DOUBT_GRACE_S))
        self.spacing = max(self.interval, self.grace / (DOUBT_LOOKUPS - 1))  # doubt lookups
        self.job_seconds = float(options.get("job_seconds", DEFAULT_JOB_SECONDS))
        self.limit = options.get("max_execution_time")
        self.live: dict[str, Live] = {}
        self.deferred: dict[str, tuple[float, list[Member]]] = {}

    # -- planning ---------------------------------------------------------------------------

    def run(self, records: Sequence[Sequence[JobRecord]]) -> list[list[JobRecord]]:
        """Plan, submit everything, then collect as jobs finish."""
        to_submit: list[Member] = []
        for study, recs in zip(self.studies, records, strict=True):
            to_submit += self.plan(study, recs)
        try:
            for job in self.pack(to_submit):
                self.submit(job)
            self.wait()
        except KeyboardInterrupt:
            for entry in self.live.values():
                note = "interrupted by the user"
                if entry.job_id:
                    note += f"; remote job {entry.job_id} keeps running and resume collects it"
                for m in entry.members:
                    m.study.store.fail_job(m.study.sid, m.rec.key, note, state=JobState.PENDING)
            for _, members in self.deferred.values():
                for m in members:
                    m.study.store.fail_job(
                        m.study.sid, m.rec.key, "interrupted by the user", state=JobState.PENDING
                    )
            raise
        held = [(s, msg) for s in self.studies for msg in s.held]
        if held:
            study, first = held[0]
            more = len(held) - 1
            raise StudyPausedError(
                f"study {study.sid} is paused: {first}"
                + (f" ({more} more job(s) held; see bp-qiskit status)" if more else "")
            )
        return [s.failed for s in self.studies]

    def plan(self, study: Study, records: Sequence[JobRecord]) -> list[Member]:
        """Re-attach, hold or queue each unfinished job of one study; return those to submit."""
        store, sid = study.store, study.sid
        adopt_lost(store, sid, self.backend.find)
        subs = store.get_submissions(sid)
        latest = latest_submissions(subs)
        live = {s.key: s for s in subs if s.state.may_be_running()}
        out = []
        for rec in records:
            if rec.state.is_finished():
                continue
            last = latest.get(rec.key)
            if rec.key in live:
                self.reattach(study, rec, live[rec.key])
            elif last is not None and last.cause in HOLDING_CAUSES and not self.resubmit:
                study.hold(rec, last.remote_job_id or last.tag, last.cause, last.reason)
            elif not self.resubmit and retry_streak(subs, rec.key) >= self.max_attempts:
                n = retry_streak(subs, rec.key)
                job = (last.remote_job_id or last.tag) if last else "-"
                reason = last.reason if last else ""
                study.hold(rec, job, "retries", f"{n} submissions in a row failed; last: {reason}")
            else:
                if last is not None and last.cause == "timeout":
                    check_new_limit(rec.key, last, self.limit)
                out.append(Member(study, rec, study.runner.build(study.ctx.builder, rec)))
        return out

    def reattach(self, study: Study, rec: JobRecord, sub: SubmissionRecord) -> None:
        """Follow a live submission again, in the same remote job as its group's members."""
        group, member = member_of(study, rec, sub)
        entry = self.live.get(group)
        if entry is None:
            self.live[group] = Live([member], sub.remote_job_id, sub.created_at)
        else:
            entry.members.append(member)
            entry.job_id = entry.job_id or sub.remote_job_id

    def pack(self, members: Sequence[Member]) -> list[list[list[Member]]]:
        """Members as jobs of PUBs (:func:`~.remote_members.pack_members`)."""
        return pack_members(members, self.backend, self.options, self.job_seconds)

    # -- submitting -------------------------------------------------------------------------

    def submit(self, job: list[list[Member]]) -> None:
        """Record every member's submission, then make it; ids are persisted as they exist."""
        members = [m for group in job for m in group]
        shared = len(job) > 1 or len(members) > 1
        group_id = new_tag().removeprefix("bpq-")
        for i, group in enumerate(job):
            for j, m in enumerate(group):
                m.pub, m.obs, m.shared_with = i, (j if len(group) > 1 else None), len(members)
                suffix = f"-p{i}" + (f"o{j}" if len(group) > 1 else "")
                m.tag = f"bpq-{group_id}{suffix}" if shared else f"bpq-{group_id}"
        for m in members:
            store, sid = m.study.store, m.study.sid
            m.study.tries[m.rec.key] = m.study.tries.get(m.rec.key, 0) + 1
            store.claim_job(sid, m.rec.key)
            store.add_submission(sid, m.rec.key, m.tag)  # before the call: a crash leaves a trace
        entry = Live(members, None, time.time())
        self.live[group_id] = entry
        tasks = [task_of(group) for group in job]
        try:
            sub = self.backend.submit(
                tasks,
                seed=members[0].built.seed,
                tag=members[0].tag,
                more_tags=[m.tag for m in members[1:]],
            )
        except TransientServiceError:
            return  # in doubt: the service may have the job; the tag lookups decide
        except SubmitRefusedError as exc:
            del self.live[group_id]
            update_members(members, state=SubmissionState.FAILED, cause="refused", reason=str(exc))
            self.retry(members, members[0].tag, str(exc))
            return
        except Exception as exc:
            # The service refused the job (HTTP 4xx), or the client refused to send it: the
            # same job would be refused again, so it is held with the service's reason.
            del self.live[group_id]
            why = (
                str(exc) if isinstance(exc, SubmitRejectedError) else f"{type(exc).__name__}: {exc}"
            )
            update_members(members, state=SubmissionState.FAILED, cause="rejected", reason=why)
            for m in members:
                m.study.hold(m.rec, m.tag, "rejected", why)
            return
        for m in members:
            m.study.store.update_submission(
                m.study.sid,
                m.tag,
                state=SubmissionState.SUBMITTED,
                remote_job_id=sub.job_id,
                provenance={
                    **sub.provenance,
                    "pub": m.pub,
                    "observable": m.obs,
                    "shared_with": m.shared_with,
                },
            )
        entry.job_id = sub.job_id

    def retry(self, members: list[Member], job: str, why: str) -> None:
        """Submit the members again after a backoff, unless their retries are used up."""
        streaks = []
        for m in members:
            if self.resubmit:
                streaks.append(m.study.tries.get(m.rec.key, 0))  # --resubmit starts a new count
            else:
                streaks.append(retry_streak(m.study.store.get_submissions(m.study.sid), m.rec.key))
        streak = max(streaks)
        if streak >= self.max_attempts:
            for m in members:
                m.study.hold(m.rec, job, "retries", f"{streak} submissions in a row failed; {why}")
            return
        for m in members:
            m.study.store.fail_job(
                m.study.sid, m.rec.key, f"{job}: {why}; submitting again", state=JobState.PENDING
            )
        self.deferred[members[0].tag] = (
            time.monotonic() + backoff(self.interval, streak),
            members,
        )

    # -- following --------------------------------------------------------------------------

    def wait(self) -> None:
        """Poll every live job, and make the deferred resubmissions, until none is left."""
        while self.live or self.deferred:
            now = time.monotonic()
            for key, (when, members) in list(self.deferred.items()):
                if when <= now:
                    del self.deferred[key]
                    for job in self.pack(members):
                        self.submit(job)
            for group, entry in list(self.live.items()):
                if entry.next_poll <= now:
                    self.step(group, entry)
            due = [e.next_poll for e in self.live.values()]
            due += [when for when, _ in self.deferred.values()]
            if due:
                time.sleep(min(max(0.0, min(due) - time.monotonic()), MAX_POLL_INTERVAL_S))

    def resolve_doubt(self, group: str, entry: Live) -> bool:
        """Look a job in doubt up by its tag; True once it has an id to poll.

        Not found: looked up again later, until ``DOUBT_LOOKUPS`` lookups over the grace
        period have come back empty; only then is it LOST and submitted afresh (counted).
        """
        ids = self.backend.find(entry.tag)
        entry.lookups += 1
        if not ids:
            waited = time.time() - entry.since
            if entry.lookups < DOUBT_LOOKUPS or waited < self.grace:
                entry.next_poll = time.monotonic() + self.spacing
                return False
            # The service never got it: record that, and submit afresh (counted).
            why = f"no job with this tag after {entry.lookups} lookups over {waited:.0f} s"
            del self.live[group]
            update_members(entry.members, state=SubmissionState.LOST, cause="lost", reason=why)
            self.retry(entry.members, entry.tag, why)
            return False
        entry.job_id = ids[0]
        update_members(entry.members, state=SubmissionState.SUBMITTED, remote_job_id=ids[0])
        return True

    def step(self, group: str, entry: Live) -> None:
        """Advance one live job by one poll (or one tag lookup while it is in doubt)."""
        backend = self.backend
        try:
            if entry.job_id is None and not self.resolve_doubt(group, entry):
                return
            assert entry.job_id is not None
            status = backend.poll(entry.job_id)
            if status.state == "DONE":
                tasks = [m.built.task for m in entry.members if m.obs is None]
                evaluations = backend.collect(entry.job_id, tasks)
            entry.failures = 0
        except JobVanishedError as exc:
            del self.live[group]
            update_members(
                entry.members, state=SubmissionState.LOST, cause="vanished", reason=str(exc)
            )
            for m in entry.members:
                m.study.hold(m.rec, entry.job_id or entry.tag, "vanished", str(exc))
            return
        except TransientServiceError as exc:
            entry.failures += 1
            if entry.failures > MAX_TRANSIENT_FAILURES:
                # Give up for this run, but keep the submission live: resume re-attaches.
                self.lose(group, entry, f"lost contact with the service ({exc})")
            else:
                entry.next_poll = time.monotonic() + backoff(self.interval, entry.failures)
            return
        except Exception as exc:
            # Not a hiccup (an expired account): stop following the job, but keep its
            # submission live so nothing submits it again.
            self.lose(group, entry, f"could not follow it: {type(exc).__name__}: {exc}")
            return
        if status.state == "DONE":
            del self.live[group]
            self.finish(entry, evaluations)
        elif status.final:
            del self.live[group]
            self.ended(entry, status)
        else:
            # Poll less often the longer a job sits in one state (a queue can take hours).
            entry.quiet = entry.quiet + 1 if status.state == entry.last_state else 0
            entry.last_state = status.state
            wait = min(MAX_POLL_INTERVAL_S, self.interval * 1.5**entry.quiet)
            entry.next_poll = time.monotonic() + wait

    def lose(self, group: str, entry: Live, why: str) -> None:
        """Stop following a job in this run; its submissions stay live for resume."""
        del self.live[group]
        for m in entry.members:
            m.study.store.fail_job(
                m.study.sid,
                m.rec.key,
                f"job {entry.job_id or entry.tag}: {why}; it may still run; resume re-attaches "
                "to it",
            )
            m.study.failed.append(m.rec)

    def finish(self, entry: Live, evaluations: list[Any]) -> None:
        """Commit each member's slice of a DONE job, with its provenance and usage share."""
        assert entry.job_id is not None
        usage = self.backend.usage(entry.job_id)
        record = self.backend.execution_record(entry.job_id)
        for m in entry.members:
            ev = evaluations[m.pub]
            if m.obs is not None:
                ev = dataclasses.replace(ev, evs=ev.evs[m.obs], stds=ev.stds[m.obs])
            study, store, sid = m.study, m.study.store, m.study.sid
            out = study.runner.combine(study.ctx.builder, m.built, [ev])
            share = None if usage is None else usage / max(1, m.shared_with)
            store.update_submission(
                sid,
                m.tag,
                state=SubmissionState.DONE,
                provenance={
                    "shots_executed": out.shots,
                    "result_metadata": json_safe(ev.metadata),
                    **record,
                },
            )
            store.set_submission_usage(sid, m.tag, share)
            store.finish_job(sid, m.rec.key, out.arrays, out.shots, share)
            if study.on_done is not None:
                study.on_done(m.rec)

    def ended(self, entry: Live, status: RemoteStatus) -> None:
        """A job ended without a result: hold it, or resubmit it (counted, with backoff)."""
        assert entry.job_id is not None
        cause = status.cause or "unknown"  # a backend that does not say: held
        state = SubmissionState.CANCELLED if status.state == "CANCELLED" else SubmissionState.FAILED
        update_members(entry.members, state=state, cause=cause, reason=status.reason)
        usage = self.backend.usage(entry.job_id)
        for m in entry.members:
            share = None if usage is None else usage / max(1, m.shared_with)
            m.study.store.set_submission_usage(m.study.sid, m.tag, share)
        if cause in HOLDING_CAUSES:
            for m in entry.members:
                m.study.hold(m.rec, entry.job_id, cause, status.reason)
        else:
            self.retry(entry.members, entry.job_id, f"failed ({cause}): {status.reason}")
