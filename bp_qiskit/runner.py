"""Run a study in memory: plan the jobs, execute them with a progress bar, assemble results."""

from __future__ import annotations

from tqdm.auto import tqdm

from .backends import EstimatorBackend
from .results import StudyResult, build_result
from .spec import StudySpec
from .study import (
    CellData,
    JobResult,
    assemble_cell,
    backend_for,
    execute_job,
    plan_cells,
    plan_jobs,
)

__all__ = ["run_study"]


def run_study(
    spec: StudySpec, *, backend: EstimatorBackend | None = None, progress: bool = True
) -> tuple[StudyResult, list[CellData]]:
    """Run every job of ``spec`` and return the summary and the per-cell sample data."""
    backend = backend or backend_for(spec)
    jobs = plan_jobs(spec)
    done: dict[object, JobResult] = {}
    total = sum(j.size for j in jobs)
    with tqdm(total=total, disable=not progress, unit="circuit", desc=spec.study.name) as bar:
        for job in jobs:
            bar.set_postfix_str(f"n={job.cell.num_qubits} L={job.cell.num_layers}")
            done[job] = execute_job(spec, job, backend)
            bar.update(job.size)
    data = [
        assemble_cell(cell, [done[j] for j in jobs if j.cell == cell]) for cell in plan_cells(spec)
    ]
    return build_result(spec.to_dict(), data), data
