"""Plots as public functions that return a matplotlib ``Figure``.

The figures are built with the object-oriented API (``matplotlib.figure.Figure``), never
through ``pyplot``: a library must not switch a notebook user's plotting backend or leave
figures open in pyplot's global registry. In a notebook, the returned figure displays
itself; ``path`` also writes it as a PNG without version metadata, so files are stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    MaxNLocator,
    NullFormatter,
    ScalarFormatter,
)
from numpy.typing import NDArray

from ..core.fits import NUMERICAL_ZERO
from ..core.planning import predicted_rel_error, seed_circuit_model
from ..core.references import reference_curve
from ..results import BudgetResult, CellResult, SeriesFit, StudyResult
from .figure_style import GRAD_LABEL, describe, log_axis, save

if TYPE_CHECKING:  # annotations only: drawing loads no Qiskit (report/render.py)
    pass

__all__ = [
    "describe",
    "plot_budget",
    "plot_comparison",
    "plot_depth",
    "plot_parameters",
    "plot_variance",
]


def plot_variance(result: StudyResult, path: Path | None = None) -> Figure:
    """Semilog plot of Var[grad] against n with error bars, the fit and the shot-noise floor.

    A depth axis (``circuit.layers`` a list) is drawn by :func:`plot_depth` instead.
    """
    if result.series:
        return plot_depth(result, path)
    cells = result.cells
    n = np.array([c.num_qubits for c in cells], dtype=float)
    var = np.array([c.grad_var for c in cells])
    se = np.array([c.grad_var_se for c in cells])
    resolved = np.array([c.resolved for c in cells])
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    pos = resolved & (var > 0)
    # Clip the lower error bar at the axis: a log axis cannot show var - se <= 0.
    lower = np.minimum(se, var * (1 - 1e-3))
    ax.errorbar(
        n[pos],
        var[pos],
        yerr=[lower[pos], se[pos]],
        fmt="o",
        capsize=3,
        label="Var[grad] (resolved)",
    )
    _draw_unresolved(ax, cells, n, var, ~pos)
    if any(c.shots for c in cells):
        floor = np.array([c.shot_noise_var for c in cells])
        ax.semilogy(n, floor, "--", color="0.5", label="shot-noise floor")
    _draw_fits(ax, result, n)
    with_cost = [c for c in cells if c.cost_var is not None and c.cost_var > 0]
    if with_cost:
        label = "Var[C] (cost concentration)"
        if result.cost_fit is not None:
            label += f": d ln Var[C] / dn = {result.cost_fit.slope:.3f}"
        ax.errorbar(
            [c.num_qubits for c in with_cost],
            [float(c.cost_var or 0.0) for c in with_cost],
            yerr=[c.cost_var_se or 0.0 for c in with_cost],
            fmt="s",
            mfc="none",
            color="C2",
            capsize=3,
            label=label,
        )
    predicted = [c for c in cells if c.predicted_grad_var and c.predicted_method != "bound"]
    if predicted:
        pv = np.array([float(c.predicted_grad_var or 0.0) for c in predicted])
        ps = np.array([c.predicted_grad_var_se or 0.0 for c in predicted])
        pn = [c.num_qubits for c in predicted]
        ax.semilogy(pn, pv, "-", color="C5", lw=1.2, label="predicted (Pauli propagation)")
        ax.fill_between(pn, np.maximum(pv - 2 * ps, pv * 1e-3), pv + 2 * ps, color="C5", alpha=0.2)
    reference = None if predicted else reference_curve(result.spec)
    if reference is not None:
        label, curve = reference
        ns = np.arange(int(n.min()), int(n.max()) + 1)
        ax.semilogy(ns, [curve(int(k)) for k in ns], ":", color="k", label=label)
    log_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("N qubits")
    ax.set_ylabel(GRAD_LABEL + (", Var[C]" if with_cost else ""))
    name = result.spec.get("study", {}).get("name", "study")
    ax.set_title(f"{name}\n{describe(result.spec)}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)


def _draw_unresolved(
    ax: Any, cells: Sequence[CellResult], n: NDArray[Any], var: NDArray[Any], unres: NDArray[Any]
) -> None:
    """Cells whose interval reaches 0: an open estimate with its upper bound, or the bound."""
    if not np.any(unres):
        return
    upper = np.array([c.grad_var_ci[1] for c in cells])
    est = np.where(var > 0, var, np.nan)
    # Positive estimates: open circle with a whisker up to the 95% upper bound.
    shown = unres & (var > 0)
    if np.any(shown):
        ax.errorbar(
            n[shown],
            est[shown],
            yerr=[np.zeros(shown.sum()), np.maximum(upper[shown] - var[shown], 0)],
            fmt="o",
            mfc="none",
            color="C3",
            capsize=3,
            label="unresolved: estimate, 95% upper bound",
        )
    # Non-positive estimates: only the upper bound can be drawn on a log axis.
    bound = unres & (var <= 0) & (upper > 0)
    if np.any(bound):
        ax.plot(
            n[bound],
            upper[bound],
            "v",
            color="C3",
            mfc="none",
            label="unresolved, estimate <= 0: 95% upper bound",
        )


def _draw_fits(ax: Any, result: StudyResult, n: NDArray[Any]) -> None:
    """The exponential and power-law fits, the preferred one marked."""
    xs = np.linspace(n.min(), n.max(), 50)
    mark = {"exponential": "", "power_law": ""}
    if result.preferred in mark:
        mark[result.preferred] = " (preferred)"
    if result.fit is not None:
        f = result.fit
        ax.semilogy(
            xs,
            np.exp(f.slope * xs + f.intercept),
            "-.",
            label=f"exp. fit: d ln Var / dn = {f.slope:.3f} ± {f.slope_se:.3f}"
            + mark["exponential"],
        )
    if result.fit_power is not None:
        p = result.fit_power
        ax.semilogy(
            xs,
            np.exp(p.slope * np.log(xs) + p.intercept),
            linestyle=(0, (5, 2, 1, 2)),
            color="C4",
            label=f"power law: Var ∝ n^({p.slope:.2f} ± {p.slope_se:.2f})" + mark["power_law"],
        )


def plot_depth(result: StudyResult, path: Path | None = None) -> Figure:
    """A depth axis: Var[grad] against L for each n (McClean's saturation plot).

    With a single depth per curve and several n, the curves are drawn against n instead,
    one per layer item. The 2-design limit of McClean's cost is drawn where it applies.
    """
    cells = result.cells
    qubits = sorted({c.num_qubits for c in cells})
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    reference = reference_curve(result.spec)
    against_depth = len({c.num_layers for c in cells}) > len(result.series) or len(qubits) == 1
    if against_depth:
        for i, n in enumerate(qubits):
            on = sorted((c for c in cells if c.num_qubits == n), key=lambda c: c.num_layers)
            layers = [c.num_layers for c in on]
            ax.errorbar(
                layers,
                [c.grad_var for c in on],
                yerr=[c.grad_var_se for c in on],
                fmt="o-",
                color=f"C{i}",
                capsize=3,
                label=f"n = {n}",
            )
            if reference is not None and reference[0].startswith("2-design"):
                ax.axhline(reference[1](n), color=f"C{i}", ls=":", lw=1)
        if reference is not None and reference[0].startswith("2-design"):
            ax.plot([], [], ":", color="k", label="2-design limit 2^n / (3 (4^n - 1))")
        log_axis(ax, "x", base=2)
        ax.set_xlabel("L layers")
    else:
        for i, series in enumerate(result.series):
            on = [c for c in cells if (c.num_qubits, c.num_layers) in set(series.cells)]
            label = f"L = {series.layers}"
            if series.fit is not None:
                label += f" (d ln Var / dn = {series.fit.slope:.3f} ± {series.fit.slope_se:.3f})"
            ax.errorbar(
                [c.num_qubits for c in on],
                [c.grad_var for c in on],
                yerr=[c.grad_var_se for c in on],
                fmt="o-",
                color=f"C{i}",
                capsize=3,
                label=label,
            )
        if reference is not None:
            ns = np.array(qubits)
            ax.plot(ns, [reference[1](int(k)) for k in ns], ":", color="k", label=reference[0])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("N qubits")
    log_axis(ax)
    ax.set_ylabel(GRAD_LABEL)
    name = result.spec.get("study", {}).get("name", "study")
    ax.set_title(f"{name}\n{describe(result.spec)}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)


def plot_parameters(result: StudyResult, path: Path | None = None) -> Figure:
    """``gradient.parameter = "all"``: Var of every parameter against layer and position.

    One panel per cell (up to the four largest n): rows are layers, columns the positions in
    a layer (the qubits, for the built-in ansätze), colour is ln Var. Parameters whose
    variance is zero to rounding (outside the cost's light cone) are left blank.
    """
    cells = [c for c in result.cells if c.grad_var_params is not None][-4:]
    fig = Figure(figsize=(3.2 * max(1, len(cells)), 3.4))
    axes = fig.subplots(1, max(1, len(cells)), squeeze=False)[0]
    for ax, c in zip(axes, cells, strict=False):
        values = np.array(c.grad_var_params, dtype=float)
        grid = values.reshape(c.num_layers, -1)
        nonzero = grid > NUMERICAL_ZERO * np.max(np.abs(grid))
        shown = np.log(np.where(nonzero, grid, np.nan))
        image = ax.imshow(shown, aspect="auto", origin="lower", cmap="viridis")
        ax.set_title(f"n = {c.num_qubits}, L = {c.num_layers}", fontsize=9)
        ax.set_xlabel("position in layer")
        ax.set_ylabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(image, ax=ax, label="ln Var[dC/dtheta]")
    name = result.spec.get("study", {}).get("name", "study")
    fig.suptitle(f"{name}: variance of every parameter", fontsize=9)
    # Room for each panel's colour bar and its label, the last one included.
    return save(fig, path, wspace=0.75, margins=(0.6, 0.95, 0.58, 0.55))


def _fit_label(fits: StudyResult | SeriesFit) -> str:
    """The preferred model's rate: d ln Var / dn, or the power law's exponent."""
    if fits.preferred == "power_law" and fits.fit_power is not None:
        p = fits.fit_power
        return f" (Var ∝ n^({p.slope:.2f} ± {p.slope_se:.2f}))"
    if fits.fit is not None:
        return f" (d ln Var / dn = {fits.fit.slope:.3f} ± {fits.fit.slope_se:.3f})"
    return ""


def plot_comparison(results: Sequence[tuple[str, StudyResult]], path: Path | None = None) -> Figure:
    """Variance curves of related studies: backends, costs, initialisations.

    A study with a depth axis contributes one curve per depth (dashed from the second on).
    """
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    for i, (name, result) in enumerate(results):
        curves: list[tuple[str, list[CellResult], StudyResult | SeriesFit]] = [
            (name, list(result.cells), result)
        ]
        if result.series:
            curves = [
                (f"{name}, L = {s.layers}", [c for c in result.cells
                                             if (c.num_qubits, c.num_layers) in set(s.cells)], s)
                for s in result.series
            ]  # fmt: skip
        for j, (label, all_cells, fits) in enumerate(curves):
            cells = [c for c in all_cells if c.grad_var > 0]
            label += _fit_label(fits)
            ax.errorbar(
                [c.num_qubits for c in cells],
                [c.grad_var for c in cells],
                yerr=[c.grad_var_se for c in cells],
                fmt="o" + ("-" if j == 0 else "--"),
                color=f"C{i}",
                alpha=1.0 if j == 0 else 0.6,
                capsize=3,
                label=label,
                mfc="none" if i else None,
            )
    log_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("N qubits")
    ax.set_ylabel(GRAD_LABEL)
    ax.set_title(
        f"{results[0][1].spec['study']['name']}: {', '.join(name for name, _ in results)}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)


def plot_budget(result: BudgetResult, path: Path | None = None) -> Figure:
    """Achieved relative error against N at fixed budget, with the predicted curve."""
    total = int(result.spec["budget"]["total_shots"])
    fig = Figure(figsize=(6, 4.2))
    ax = fig.subplots()
    for i, n in enumerate(sorted({p.num_qubits for p in result.points})):
        pts = [p for p in result.points if p.num_qubits == n]
        xs = np.array([p.shots for p in pts])
        ax.errorbar(
            xs,
            [p.achieved_rel_error for p in pts],
            yerr=[p.achieved_rel_error_se for p in pts],
            fmt="o",
            color=f"C{i}",
            capsize=3,
            label=f"n={n} achieved",
        )
        model = seed_circuit_model(n)
        grid = np.geomspace(xs.min() * 0.8, xs.max() * 1.25, 100)
        pred = [predicted_rel_error(model, max(2, int(total // (2 * g))), g) for g in grid]
        ax.plot(grid, pred, "-", color=f"C{i}", alpha=0.7, label=f"n={n} predicted")
        ax.axvline(math.sqrt(2 * model.Q / model.alpha), color=f"C{i}", ls=":", alpha=0.6)
    log_axis(ax, "x")
    log_axis(ax)
    # One labelled tick per N studied: a log axis would label only the powers of ten.
    ns = sorted({p.shots for p in result.points})
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("shots per shifted point N (S = budget / 2N circuits)")
    ax.set_ylabel("relative error of corrected Var[grad]")
    ax.set_title(f"fixed budget {total} shots; dotted: planner's optimal N")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    # Its tick labels (4 x 10^-1) are wider than the other plots': more room on the left.
    return save(fig, path, margins=(1.0, 0.15, 0.58, 0.52))
