"""The ``predict`` command's figure: predicted Var[dC] against n, far beyond simulation.

Built like every figure (:mod:`bp_qiskit.report.plots`: a ``matplotlib.figure.Figure``,
never pyplot), on a log10 axis of its own: predictions reach 10^-450.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from .figure_style import GRAD_LABEL, describe, log_axis, save

if TYPE_CHECKING:  # annotations only: drawing loads no Qiskit (report/render.py)
    from ..execution.predict import Prediction

__all__ = ["plot_predictions"]


def plot_predictions(
    rows: Sequence[Prediction], spec: dict[str, Any], path: Path | None = None
) -> Figure:
    """Predicted log10 Var[dC/dtheta] against n per cost and depth, bounds as triangles.

    The axis is log10 itself, not a log scale: the global cost at n = 1000 is about 10^-450,
    below the smallest float, and is drawn from the logarithm the tensor network keeps.
    """
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    curves = sorted({(p.observable, p.num_layers if _fixed_depth(rows) else -1) for p in rows})
    for i, (cost, depth) in enumerate(curves):
        on = [p for p in rows if p.observable == cost and (depth < 0 or p.num_layers == depth)]
        valued: list[tuple[Prediction, float]] = []
        for p in on:
            y = _log10(p) if p.method != "bound" else None
            if y is not None:
                valued.append((p, y))
        bounds = [p for p in on if p.method == "bound" and p.upper_bound]
        label = cost if depth < 0 else f"{cost}, L = {depth}"
        if valued:
            ax.errorbar(
                [p.num_qubits for p, _ in valued],
                [y for _, y in valued],
                yerr=[
                    (p.grad_var_se or 0.0) / (p.grad_var * math.log(10)) if p.grad_var else 0.0
                    for p, _ in valued
                ],
                fmt="o-",
                color=f"C{i}",
                capsize=3,
                label=f"{label} (predicted)",
            )
        if bounds:
            ax.plot(
                [p.num_qubits for p in bounds],
                [math.log10(float(p.upper_bound or 1.0)) for p in bounds],
                "v",
                mfc="none",
                color=f"C{i}",
                label=f"{label}: upper bound",
            )
    if max((p.num_qubits for p in rows), default=1) > 50:
        log_axis(ax, "x")
    ax.set_xlabel("N qubits")
    ax.set_ylabel("log₁₀ predicted " + GRAD_LABEL)
    name = spec.get("study", {}).get("name", "study")
    ax.set_title(f"{name}: predicted by Pauli propagation\n{describe(spec)}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)


def _log10(p: Prediction) -> float | None:
    """log10 of a predicted value, from the value or, where it underflows, its logarithm."""
    if p.grad_var is not None and p.grad_var > 0:
        return math.log10(p.grad_var)
    return p.log10_grad_var


def _fixed_depth(rows: Sequence[Prediction]) -> bool:
    """Whether L is the same for every n (then each depth is a curve)."""
    by_n: dict[int, set[int]] = {}
    for p in rows:
        by_n.setdefault(p.num_qubits, set()).add(p.num_layers)
    return len({frozenset(v) for v in by_n.values()}) == 1
