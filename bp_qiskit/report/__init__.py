"""Reports: console tables, plots as public functions, output folders and exports.

Layer 6: reads results (and the dry run's costs); runs nothing.
"""

from __future__ import annotations

from .outputs import export_csv, export_json, write_outputs
from .plots import plot_budget, plot_comparison, plot_variance
from .tables import format_table

__all__ = [
    "export_csv",
    "export_json",
    "format_table",
    "plot_budget",
    "plot_comparison",
    "plot_variance",
    "write_outputs",
]
