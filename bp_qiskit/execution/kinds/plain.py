"""The plain sweep: every cell's samples in chunks, planned up front."""

from __future__ import annotations

from ...results import StudyOutcome, build_result
from ...spec import StudySpec
from ...store import BaseStore, JobRecord
from ..jobs import assemble_cell, job_result, plan_cells, plan_jobs, record_for
from .base import StudyKind, require_finished

__all__ = ["PlainKind"]


class PlainKind(StudyKind):
    """Var[grad] per cell from ``sampling.samples`` random circuits at fixed shots."""

    name = "plain"

    def plan(self, spec: StudySpec) -> list[JobRecord]:
        """One job per chunk of every cell."""
        return [record_for(spec, j) for j in plan_jobs(spec)]

    def collect(self, store: BaseStore, study_id: str, spec: StudySpec) -> StudyOutcome:
        """Concatenate each cell's chunks in order and summarise."""
        jobs = require_finished(store, study_id)
        results = store.get_results(study_id)
        data = []
        for cell in plan_cells(spec):
            recs = sorted(
                (
                    j
                    for j in jobs
                    if (j.num_qubits, j.num_layers) == (cell.num_qubits, cell.num_layers)
                ),
                key=lambda j: j.index,
            )
            data.append(assemble_cell(cell, [job_result(results[j.key], j) for j in recs]))
        return StudyOutcome(
            study_id, self.name, result=build_result(spec.to_dict(), data), data=tuple(data)
        )
