"""Results: the schema of what a study produced, and its files in one key convention.

Layer 4: imports :mod:`bp_qiskit.core` only (statistics for the summary, array bytes for
files). Nothing here runs a circuit, so results can be re-read and re-summarised anywhere.
"""

from __future__ import annotations

from .data import Cell, CellData
from .files import cell_arrays, read_npz, write_npz
from .outcome import AdaptiveCell, AdaptiveReport, BudgetPoint, BudgetResult, StudyOutcome
from .schema import CellResult, FitResult, SeriesFit, StudyResult, build_result

__all__ = [
    "AdaptiveCell",
    "AdaptiveReport",
    "BudgetPoint",
    "BudgetResult",
    "Cell",
    "CellData",
    "CellResult",
    "FitResult",
    "SeriesFit",
    "StudyOutcome",
    "StudyResult",
    "build_result",
    "cell_arrays",
    "read_npz",
    "write_npz",
]
