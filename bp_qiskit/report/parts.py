"""How each part of a study's outcome is written, printed and exported, found by its type.

A kind's outcome carries the gradient summary (when it has one) and its own parts
(:attr:`~bp_qiskit.results.StudyOutcome.parts`). The output folder, the console and the
exports ask each part's :class:`PartWriter` for its files, its table, its JSON and its CSV
rows, so none of them asks which kind ran. A new part type is a writer here and one entry
in :data:`WRITERS`; a part without one is refused by name rather than left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..results import AdaptiveReport, BudgetResult, StudyOutcome
from .tables import format_adaptive, format_budget

__all__ = ["WRITERS", "PartWriter", "writer_for"]


class PartWriter:
    """What one part type contributes; the defaults contribute nothing."""

    def files(self, part: Any, outcome: StudyOutcome, out_dir: Path, plots: bool) -> list[Path]:
        """Write the part's files into ``out_dir``; return their paths."""
        return []

    def table(self, part: Any) -> str | None:
        """The part's console table, printed after the gradient summary's."""
        return None

    def export(self, part: Any) -> dict[str, Any]:
        """Keys the part adds to ``bp-qiskit export --format json``."""
        return {}

    def csv_rows(self, part: Any, study_id: str, writer: Any) -> bool:
        """Write the part's CSV rows instead of the per-sample ones; True if it did."""
        return False


class AdaptiveWriter(PartWriter):
    """``adaptive.json``, the allocation table, and the reports in the export."""

    def files(
        self, part: AdaptiveReport, outcome: StudyOutcome, out_dir: Path, plots: bool
    ) -> list[Path]:
        path = out_dir / "adaptive.json"
        path.write_text(part.to_json(outcome.study_id), encoding="utf-8")
        return [path]

    def table(self, part: AdaptiveReport) -> str:
        return format_adaptive(part.cells)

    def export(self, part: AdaptiveReport) -> dict[str, Any]:
        return {"adaptive": [r.to_dict() for r in part.cells]}


class BudgetWriter(PartWriter):
    """``budget.json`` and ``budget.png``, the splits' table, and every repetition's rows."""

    def files(
        self, part: BudgetResult, outcome: StudyOutcome, out_dir: Path, plots: bool
    ) -> list[Path]:
        paths = [out_dir / "budget.json"]
        paths[0].write_text(part.to_json(), encoding="utf-8")
        if plots:
            from .plots import plot_budget  # matplotlib only when a figure is drawn

            paths.append(out_dir / "budget.png")
            plot_budget(part, paths[-1])
        return paths

    def table(self, part: BudgetResult) -> str:
        return format_budget(part)

    def export(self, part: BudgetResult) -> dict[str, Any]:
        return {**json.loads(part.to_json()), "estimates": part.estimates}

    def csv_rows(self, part: BudgetResult, study_id: str, writer: Any) -> bool:
        shots = part.spec["budget"]["shots"]
        writer.writerow(["study_id", "num_qubits", "repetition", "shots", "grad_var_estimate"])
        for n, table in part.estimates.items():
            for rep, row in enumerate(table):
                for n_shots, est in zip(shots, row, strict=True):
                    writer.writerow([study_id, n, rep, n_shots, repr(float(est))])
        return True


WRITERS: dict[type, PartWriter] = {AdaptiveReport: AdaptiveWriter(), BudgetResult: BudgetWriter()}


def writer_for(part: Any) -> PartWriter:
    """The writer of a part's type; a TypeError naming the type if none is registered."""
    writer = WRITERS.get(type(part))
    if writer is None:
        raise TypeError(
            f"no writer for outcome part {type(part).__name__}; add one to WRITERS in "
            "bp_qiskit/report/parts.py"
        )
    return writer
