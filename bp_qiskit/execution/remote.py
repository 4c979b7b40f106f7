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
import itertools
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ..backends import ExpectationTask
from ..backends.isa import fingerprint
from ..backends.remote import (
    JobVanishedError,
    RemoteBackend,
    RemoteStatus,
    SharedTask,
    SubmitRefusedError,
    SubmitRejectedError,
    TransientServiceError,
    failure_cause,
)
from ..backends.runtime import MAX_TRANSIENT_FAILURES, backoff, new_tag
from ..errors import StudyPausedError, UsageError
from ..store import BaseStore, JobRecord, JobState, SubmissionRecord, SubmissionState, redact
from .jobs import BuiltJob, JobBuilder
from .pricing import mitigation_overhead, pack

__all__ = [
    "DEFAULT_DOUBT_GRACE_S",
    "DOUBT_LOOKUPS",
    "HOLDING_CAUSES",
    "RemoteRunner",
    "adopt_lost",
    "latest_submissions",
    "retry_streak",
    "run_remote",
    "run_remote_group",
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
    (failed,) = run_remote_group([(ctx, runner, on_done)], [records])
    return failed


def run_remote_group(
    studies: Sequence[tuple[Any, RemoteRunner, Callable[[JobRecord], None] | None]],
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


# Tags of the members of a shared job: ``bpq-<group>-p<pub>`` and ``...o<observable>``; a
# job with one PUB for one study keeps the plain ``bpq-<hex>`` tag. The tag is stored with
# the SUBMITTING row before the POST, so a resumed study knows its PUB and observable.
_TAG_RE = re.compile(r"^bpq-([0-9a-f]+)(?:-p(\d+)(?:o(\d+))?)?$")
DEFAULT_JOB_SECONDS = 120.0


def _parse_tag(tag: str) -> tuple[str, int, int | None]:
    """(group, pub, observable) of a member tag; any other tag is a group of its own."""
    found = _TAG_RE.match(tag)
    if not found:
        return tag, 0, None
    obs = found.group(3)
    return found.group(1), int(found.group(2) or 0), int(obs) if obs is not None else None


def _previous_limit(sub: SubmissionRecord) -> int | None:
    """The max_execution_time a submission was sent with (None: the service's default)."""
    value = (sub.provenance.get("options") or {}).get("max_execution_time")
    return int(value) if isinstance(value, (int, float)) else None


@dataclasses.dataclass
class _Study:
    """One study of a run: its context, its kind's hooks, and what happened to its jobs."""

    ctx: Any
    runner: RemoteRunner
    on_done: Callable[[JobRecord], None] | None
    tries: dict[str, int] = dataclasses.field(default_factory=dict)
    held: list[str] = dataclasses.field(default_factory=list)
    failed: list[JobRecord] = dataclasses.field(default_factory=list)

    @property
    def store(self) -> BaseStore:
        return self.ctx.store

    @property
    def sid(self) -> str:
        return str(self.ctx.study_id)

    def hold(self, rec: JobRecord, job: str, cause: str | None, reason: str | None) -> None:
        """Stop a job until the user says otherwise (``resume --resubmit``)."""
        self.held.append(_hold_message(self.sid, rec.key, job, cause, reason))
        self.store.fail_job(self.sid, rec.key, self.held[-1], state=_job_state(cause))


@dataclasses.dataclass
class _Member:
    """One study's job inside a remote job: which PUB it is, and which of its observables."""

    study: _Study
    rec: JobRecord
    built: BuiltJob
    tag: str = ""
    pub: int = 0
    obs: int | None = None
    shared_with: int = 1


@dataclasses.dataclass
class _Live:
    """A remote job the service may be running, and the members it serves."""

    members: list[_Member]
    job_id: str | None  # None while in doubt (SUBMITTING)
    since: float  # wall-clock time of the submission (the grace period runs from it)
    failures: int = 0
    next_poll: float = 0.0
    lookups: int = 0
    quiet: int = 0  # polls in a row that saw the same state
    last_state: str | None = None

    @property
    def tag(self) -> str:
        return self.members[0].tag


class _RemoteRun:
    """One call of :func:`run_remote_group`: the live jobs and what this run did to them."""

    def __init__(
        self, studies: Sequence[tuple[Any, RemoteRunner, Callable[[JobRecord], None] | None]]
    ) -> None:
        self.studies = [_Study(ctx, runner, on_done) for ctx, runner, on_done in studies]
        first = self.studies[0].ctx
        self.backend: RemoteBackend = first.backend
        self.resubmit = bool(first.resubmit)
        self.max_attempts = int(first.max_attempts)
        options = first.spec.backend.options
        self.options = options
        self.interval = float(options.get("poll_interval", 5.0))
        self.grace = float(options.get("in_doubt_grace", DEFAULT_DOUBT_GRACE_S))
        self.job_seconds = float(options.get("job_seconds", DEFAULT_JOB_SECONDS))
        self.limit = options.get("max_execution_time")
        self.live: dict[str, _Live] = {}
        self.deferred: dict[str, tuple[float, list[_Member]]] = {}

    # -- planning ---------------------------------------------------------------------------

    def run(self, records: Sequence[Sequence[JobRecord]]) -> list[list[JobRecord]]:
        """Plan, submit everything, then collect as jobs finish."""
        to_submit: list[_Member] = []
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

    def plan(self, study: _Study, records: Sequence[JobRecord]) -> list[_Member]:
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
                    self.check_new_limit(rec, last)
                out.append(_Member(study, rec, study.runner.build(study.ctx.builder, rec)))
        return out

    def reattach(self, study: _Study, rec: JobRecord, sub: SubmissionRecord) -> None:
        """Follow a live submission again, in the same remote job as its group's members."""
        group, pub, obs = _parse_tag(sub.tag)
        member = _Member(
            study,
            rec,
            study.runner.build(study.ctx.builder, rec),
            sub.tag,
            pub,
            obs,
            int(sub.provenance.get("shared_with", 1)),
        )
        entry = self.live.get(group)
        if entry is None:
            self.live[group] = _Live([member], sub.remote_job_id, sub.created_at)
        else:
            entry.members.append(member)
            entry.job_id = entry.job_id or sub.remote_job_id

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

    def pack(self, members: Sequence[_Member]) -> list[list[list[_Member]]]:
        """Members as jobs of PUBs: equal circuits and values share a PUB, PUBs share a job."""
        pubs: list[list[_Member]] = []
        where: dict[tuple[Any, ...], int] = {}
        for m in members:
            task = m.built.task
            key = (m.rec.key, task.shots, fingerprint(task.circuit))
            i = where.get(key)
            if (
                i is not None
                and all(o.study is not m.study for o in pubs[i])
                and np.array_equal(pubs[i][0].built.task.values, task.values)
            ):
                pubs[i].append(m)
            else:
                where[key] = len(pubs)
                pubs.append([m])
        overhead = mitigation_overhead(self.options)
        jobs: list[list[list[_Member]]] = []
        # One job runs one shot count: PUBs are packed within each run of equal shots.
        for _, run in itertools.groupby(pubs, key=lambda g: g[0].built.task.shots):
            groups = list(run)
            prices = [self.backend.seconds(_task_of(g)) * overhead for g in groups]
            jobs += [[groups[i] for i in job] for job in pack(prices, self.job_seconds)]
        return jobs

    # -- submitting -------------------------------------------------------------------------

    def submit(self, job: list[list[_Member]]) -> None:
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
        entry = _Live(members, None, time.time())
        self.live[group_id] = entry
        tasks = [_task_of(group) for group in job]
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
            self.each(members, state=SubmissionState.FAILED, cause="refused", reason=str(exc))
            self.retry(members, members[0].tag, str(exc))
            return
        except Exception as exc:
            # The service refused the job (HTTP 4xx), or the client refused to send it: the
            # same job would be refused again, so it is held with the service's reason.
            del self.live[group_id]
            why = (
                str(exc) if isinstance(exc, SubmitRejectedError) else f"{type(exc).__name__}: {exc}"
            )
            self.each(members, state=SubmissionState.FAILED, cause="rejected", reason=why)
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

    @staticmethod
    def each(members: Sequence[_Member], **fields: Any) -> None:
        """The same submission update for every member."""
        for m in members:
            m.study.store.update_submission(m.study.sid, m.tag, **fields)

    def retry(self, members: list[_Member], job: str, why: str) -> None:
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

    def lookup_spacing(self) -> float:
        """Seconds between the tag lookups of a job in doubt."""
        return max(self.interval, self.grace / (DOUBT_LOOKUPS - 1))

    def step(self, group: str, entry: _Live) -> None:
        """Advance one live job by one poll (or one tag lookup while it is in doubt)."""
        backend = self.backend
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
                    del self.live[group]
                    self.each(entry.members, state=SubmissionState.LOST, cause="lost", reason=why)
                    self.retry(entry.members, entry.tag, why)
                    return
                entry.job_id = ids[0]
                self.each(entry.members, state=SubmissionState.SUBMITTED, remote_job_id=ids[0])
            status = backend.poll(entry.job_id)
            if status.state == "DONE":
                tasks = [m.built.task for m in entry.members if m.obs is None]
                evaluations = backend.collect(entry.job_id, tasks)
            entry.failures = 0
        except JobVanishedError as exc:
            del self.live[group]
            self.each(entry.members, state=SubmissionState.LOST, cause="vanished", reason=str(exc))
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

    def lose(self, group: str, entry: _Live, why: str) -> None:
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

    def finish(self, entry: _Live, evaluations: list[Any]) -> None:
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
                    "result_metadata": _json_safe(ev.metadata),
                    **record,
                },
            )
            store.set_submission_usage(sid, m.tag, share)
            store.finish_job(sid, m.rec.key, out.arrays, out.shots, share)
            if study.on_done is not None:
                study.on_done(m.rec)

    def ended(self, entry: _Live, status: RemoteStatus) -> None:
        """A job ended without a result: hold it, or resubmit it (counted, with backoff)."""
        assert entry.job_id is not None
        cause = failure_cause(status)
        state = SubmissionState.CANCELLED if status.state == "CANCELLED" else SubmissionState.FAILED
        self.each(entry.members, state=state, cause=cause, reason=status.reason)
        usage = self.backend.usage(entry.job_id)
        for m in entry.members:
            share = None if usage is None else usage / max(1, m.shared_with)
            m.study.store.set_submission_usage(m.study.sid, m.tag, share)
        if cause in HOLDING_CAUSES:
            for m in entry.members:
                m.study.hold(m.rec, entry.job_id, cause, status.reason)
        else:
            self.retry(entry.members, entry.job_id, f"failed ({cause}): {status.reason}")


def _task_of(group: Sequence[_Member]) -> ExpectationTask | SharedTask:
    """One PUB: the member's own task, or one task over every member's observable."""
    first = group[0].built.task
    if len(group) == 1:
        return first
    return SharedTask(
        first.circuit, tuple(m.built.task.observable for m in group), first.values, first.shots
    )


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a result's metadata (what JSON can hold)."""
    return {
        str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None
    }
