"""The pieces of a remote run: a study, its members inside remote jobs, and the live jobs.

A remote job may serve several studies (the costs of one spec share circuits and values):
each study's job inside it is a :class:`Member`, one PUB and, in a shared PUB, one of its
observables. :func:`pack_members` groups members into PUBs and PUBs into jobs by the offline
price model. The state machine that submits and collects them is
:mod:`bp_qiskit.execution.remote`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ..backends import ExpectationTask
from ..backends.isa import fingerprint
from ..backends.remote import RemoteBackend, SharedTask
from ..store import BaseStore, JobRecord, SubmissionRecord
from .context import RunContext
from .jobs import BuiltJob, JobBuilder
from .pricing import mitigation_overhead, pack_pubs, price_of
from .remote_records import hold_message, job_state, parse_tag

__all__ = [
    "Live",
    "Member",
    "RemoteRunner",
    "Study",
    "json_safe",
    "pack_members",
    "task_of",
    "update_members",
]


class RemoteRunner(Protocol):
    """What the remote path asks of a study kind: build a job's tasks, combine its result."""

    def build(self, builder: JobBuilder, rec: JobRecord) -> BuiltJob:
        """The job's circuits, its single task and its seed."""
        ...

    def combine(self, builder: JobBuilder, built: BuiltJob, evaluations: list[Any]) -> Any:
        """The job's output (a ``JobOutput``) from its evaluations."""
        ...


@dataclasses.dataclass
class Study:
    """One study of a run: its context, its kind's hooks, and what happened to its jobs."""

    ctx: RunContext
    runner: RemoteRunner
    on_done: Callable[[JobRecord], None] | None
    tries: dict[str, int] = dataclasses.field(default_factory=dict)
    held: list[str] = dataclasses.field(default_factory=list)
    failed: list[JobRecord] = dataclasses.field(default_factory=list)

    @property
    def store(self) -> BaseStore:
        """The study's store."""
        return self.ctx.store

    @property
    def sid(self) -> str:
        """The study's id."""
        return str(self.ctx.study_id)

    def hold(self, rec: JobRecord, job: str, cause: str | None, reason: str | None) -> None:
        """Stop a job until the user says otherwise (``resume --resubmit``)."""
        self.held.append(hold_message(self.sid, rec.key, job, cause, reason))
        self.store.fail_job(self.sid, rec.key, self.held[-1], state=job_state(cause))


@dataclasses.dataclass
class Member:
    """One study's job inside a remote job: which PUB it is, and which of its observables."""

    study: Study
    rec: JobRecord
    built: BuiltJob
    tag: str = ""
    pub: int = 0
    obs: int | None = None
    shared_with: int = 1


@dataclasses.dataclass
class Live:
    """A remote job the service may be running, and the members it serves."""

    members: list[Member]
    job_id: str | None  # None while in doubt (SUBMITTING)
    since: float  # wall-clock time of the submission (the grace period runs from it)
    failures: int = 0
    next_poll: float = 0.0
    lookups: int = 0
    quiet: int = 0  # polls in a row that saw the same state
    last_state: str | None = None

    @property
    def tag(self) -> str:
        """The job's tag (its first member's)."""
        return self.members[0].tag


def pack_members(
    members: Sequence[Member], backend: RemoteBackend, options: Any, job_seconds: float
) -> list[list[list[Member]]]:
    """Members as jobs of PUBs: equal circuits and values share a PUB, PUBs share a job."""
    pubs: list[list[Member]] = []
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
    overhead = mitigation_overhead(options)
    tasks = [task_of(g) for g in pubs]
    prices = [price_of(backend, t, overhead).seconds for t in tasks]
    return [[pubs[i] for i in job] for job in pack_pubs(tasks, prices, job_seconds)]


def task_of(group: Sequence[Member]) -> ExpectationTask | SharedTask:
    """One PUB: the member's own task, or one task over every member's observable."""
    first = group[0].built.task
    if len(group) == 1:
        return first
    return SharedTask(
        first.circuit, tuple(m.built.task.observable for m in group), first.values, first.shots
    )


def json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a result's metadata (what JSON can hold)."""
    return {
        str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None
    }


def update_members(members: Sequence[Member], **fields: Any) -> None:
    """The same submission update (state, cause, reason, ...) for every member's row."""
    for m in members:
        m.study.store.update_submission(m.study.sid, m.tag, **fields)


def member_of(study: Study, rec: JobRecord, sub: SubmissionRecord) -> tuple[str, Member]:
    """A live submission's remote-job group and its member, rebuilt from its tag (on resume)."""
    group, pub, obs = parse_tag(sub.tag)
    built = study.runner.build(study.ctx.builder, rec)
    shared = int(sub.provenance.get("shared_with", 1))
    return group, Member(study, rec, built, sub.tag, pub, obs, shared)
