"""Reports: console tables, plots as public functions, output folders and exports.

Layer 6: reads results (and the dry run's costs); runs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .outputs import export_csv, export_json, write_outputs
from .tables import format_table

if TYPE_CHECKING:
    from .plots import plot_budget, plot_comparison, plot_variance

_PLOTS = ("plot_budget", "plot_comparison", "plot_variance")


def __getattr__(name: str) -> Any:
    # The plots load matplotlib (a third of a second); only a caller that draws pays for it.
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "export_csv",
    "export_json",
    "format_table",
    "plot_budget",
    "plot_comparison",
    "plot_variance",
    "write_outputs",
]
