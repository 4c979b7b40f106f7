"""The study-kind contract: plan, run and collect, plus what ``status`` shows.

A kind decides which jobs a study has and what one job computes; the run loop
(:func:`~bp_qiskit.execution.loop.run_jobs`) decides how jobs are claimed, executed,
committed, retried and interrupted. The defaults here are those of a gradient-variance
sweep, so a kind overrides only what differs (qiskit-experiments' "write ``run`` once, vary
the hooks").
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import numpy as np
from tqdm.auto import tqdm

from ...backends import Backend, Evaluation
from ...backends.protocol import OnSubmit
from ...core.statistics import corrected_variance
from ...errors import StudyFailedError
from ...results import Cell, StudyOutcome
from ...spec import StudySpec
from ...store import BaseStore, JobRecord, StoreError
from ..context import JobOutput, RunContext
from ..jobs import BuiltJob, JobBuilder, job_of
from ..loop import run_jobs
from ..memory import peak_memory

__all__ = ["CellProgress", "StudyKind", "require_finished"]


@dataclasses.dataclass(frozen=True)
class CellProgress:
    """Where one cell stands: jobs, samples, shots, and the current estimate."""

    num_qubits: int
    num_layers: int
    jobs_done: int
    jobs_total: int
    samples_done: int
    shots_used: int
    grad_var: float | None
    grad_var_se: float | None


def require_finished(store: BaseStore, study_id: str) -> list[JobRecord]:
    """The study's jobs, or a StoreError that says how to finish it."""
    jobs = store.get_jobs(study_id)
    left = sum(not j.state.is_finished() for j in jobs)
    if left or not jobs:
        raise StoreError(
            f"study {study_id} is not finished: {len(jobs) - left} of {len(jobs)} jobs done; "
            f"run 'bp-qiskit resume {study_id}'"
        )
    return jobs


class StudyKind(abc.ABC):
    """One kind of study. Instances are stateless, so one table entry serves every study.

    Attributes:
        name: The kind's name, as stored and shown.
        section: The optional spec section that selects this kind (None: the default kind).
        unit: What the progress bar counts.
    """

    name: ClassVar[str]
    section: ClassVar[str | None] = None
    unit: ClassVar[str] = "circuit"

    @abc.abstractmethod
    def plan(self, spec: StudySpec) -> list[JobRecord]:
        """The jobs recorded when the study is created (kinds that plan as they go: none)."""

    @abc.abstractmethod
    def collect(self, store: BaseStore, study_id: str, spec: StudySpec) -> StudyOutcome:
        """Assemble the finished study from the store, running nothing."""

    def submissions(self, spec: StudySpec, cell: Cell, k: int) -> list[tuple[int, int]]:
        """``(bindings, shots per binding)`` of every PUB the cell would submit.

        What the dry run prices (``k``: differentiated parameters). By default each planned
        job is one PUB of its samples x k parameters x 2 shifts at its shots.
        """
        return [
            ((r.stop - r.start) * k * 2, r.shots_requested)
            for r in self.plan(spec)
            if (r.num_qubits, r.num_layers) == (cell.num_qubits, cell.num_layers)
        ]

    def is_finished(self, store: BaseStore, study_id: str, spec: StudySpec) -> bool:
        """Whether the study has all its results (default: every planned job is DONE)."""
        jobs = store.get_jobs(study_id)
        return bool(jobs) and all(j.state.is_finished() for j in jobs)

    # -- one job (the loop calls these) -----------------------------------------------------

    def execute(
        self, builder: JobBuilder, rec: JobRecord, backend: Backend, on_submit: OnSubmit
    ) -> JobOutput:
        """A gradient job: build, evaluate both shifts in one PUB, combine.

        A simulator's peak memory is measured around the job (:mod:`..memory`).
        """
        with peak_memory() as peak:
            result = builder.execute(
                job_of(rec), backend, shots=rec.shots_requested, on_submit=on_submit
            )
        if not backend.capabilities.remote:
            result = dataclasses.replace(result, peak_memory=peak.bytes)
        return JobOutput(result.arrays(), result.shots, result.usage_seconds)

    def build(self, builder: JobBuilder, rec: JobRecord) -> BuiltJob:
        """A gradient job's single task (the remote path submits and collects it itself)."""
        return builder.build(job_of(rec), shots=rec.shots_requested)

    def combine(
        self, builder: JobBuilder, built: BuiltJob, evaluations: list[Evaluation]
    ) -> JobOutput:
        """Gradients from the evaluated shifts."""
        (ev,) = evaluations
        result = builder.combine(built, ev)
        return JobOutput(result.arrays(), result.shots, result.usage_seconds)

    # -- a whole study ----------------------------------------------------------------------

    def weight(self, rec: JobRecord) -> int:
        """How much of the progress bar one job fills."""
        return rec.stop - rec.start

    def run(self, ctx: RunContext) -> None:
        """Run every unfinished job of the study; raise StudyFailedError if some still fail."""
        jobs = ctx.store.get_jobs(ctx.study_id)
        total = sum(self.weight(j) for j in jobs)
        done = sum(self.weight(j) for j in jobs if j.state.is_finished())
        with tqdm(
            total=total,
            initial=done,
            disable=not ctx.progress,
            unit=self.unit,
            desc=ctx.spec.study.name,
        ) as bar:

            def advance(rec: JobRecord) -> None:
                bar.set_postfix_str(f"n={rec.num_qubits} L={rec.num_layers}")
                bar.update(self.weight(rec))

            failed = run_jobs(ctx, self, jobs, on_done=advance)
        if failed:
            # The records in ``failed`` were read before their last failure: quote the store's.
            errors = {j.key: j.error for j in ctx.store.get_jobs(ctx.study_id)}
            first = failed[0].key
            raise StudyFailedError(
                f"{len(failed)} job(s) of study {ctx.study_id} failed after retries; first: "
                f"{first}: {errors.get(first) or 'no reason recorded'}; finished work is kept; "
                f"retry with: bp-qiskit resume {ctx.study_id}"
            )

    def progress(self, store: BaseStore, study_id: str, spec: StudySpec) -> list[CellProgress]:
        """The current variance estimate per cell from the jobs finished so far."""
        jobs = store.get_jobs(study_id)
        results = store.get_results(study_id)
        out = []
        for n, layers in sorted({(j.num_qubits, j.num_layers) for j in jobs}):
            recs = [j for j in jobs if (j.num_qubits, j.num_layers) == (n, layers)]
            done = [j for j in recs if j.state.is_finished()]
            var = se = None
            if sum(j.stop - j.start for j in done) >= 2:
                grads = np.concatenate([results[j.key]["grads"] for j in done])
                sv = np.concatenate([results[j.key]["shot_var"] for j in done])
                var, se = corrected_variance(grads, sv if spec.sampling.shots else None)
            used = sum(
                2 * (j.stop - j.start) * results[j.key]["grads"].shape[1] * (j.shots_executed or 0)
                for j in done
            )
            samples = sum(j.stop - j.start for j in done)
            out.append(CellProgress(n, layers, len(done), len(recs), samples, used, var, se))
        return out
