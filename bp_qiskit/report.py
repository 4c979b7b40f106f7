"""Presentation: the console table, the semilog variance plot, and the output folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .results import StudyResult, write_npz

__all__ = ["format_table", "plot_variance", "write_outputs"]


def format_table(result: StudyResult) -> str:
    """A fixed-width table of the cells and the fit, as printed by ``bp-qiskit run``."""
    shots = any(c.shots for c in result.cells)
    head = (
        f"{'n':>3} {'L':>4} {'samples':>8} {'shots':>7} {'mean':>11} {'Var[grad]':>11} {'se':>10}"
    )
    if shots:
        head += f" {'floor':>10} {'resolved':>8}"
    lines = [head, "-" * len(head)]
    for c in result.cells:
        row = (
            f"{c.num_qubits:>3} {c.num_layers:>4} {c.samples:>8} {c.shots_executed:>7} "
            f"{c.grad_mean:>11.3e} {c.grad_var:>11.4e} {c.grad_var_se:>10.2e}"
        )
        if shots:
            row += f" {c.shot_noise_var:>10.2e} {'yes' if c.resolved else 'no':>8}"
        lines.append(row)
    if result.fit is not None:
        f = result.fit
        lines.append(
            f"fit over n={list(f.points)}: log Var = ({f.slope:.4f} +/- {f.slope_se:.4f}) n "
            f"+ {f.intercept:.3f}"
        )
    else:
        lines.append("fit: fewer than 2 resolved cells, no fit")
    return "\n".join(lines)


def plot_variance(result: StudyResult, path: Path) -> None:
    """Semilog plot of Var[grad] against n with error bars, the fit and the shot-noise floor."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    cells = result.cells
    n = np.array([c.num_qubits for c in cells], dtype=float)
    var = np.array([c.grad_var for c in cells])
    se = np.array([c.grad_var_se for c in cells])
    resolved = np.array([c.resolved for c in cells])
    fig, ax = plt.subplots(figsize=(6, 4.2))
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
    unres = ~pos
    if np.any(unres):
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
    if any(c.shots for c in cells):
        floor = np.array([c.shot_noise_var for c in cells])
        ax.semilogy(n, floor, "--", color="0.5", label="shot-noise floor")
    if result.fit is not None:
        f = result.fit
        xs = np.linspace(n.min(), n.max(), 50)
        ax.semilogy(
            xs,
            np.exp(f.slope * xs + f.intercept),
            "-.",
            label=f"Slope {f.slope:.3f} ± {f.slope_se:.3f}",
        )
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("N qubits")
    obs = result.spec.get("observable", {}).get("kind", "?")
    ax.set_ylabel(r"Var$[\partial_\theta \langle O \rangle]$")
    name = result.spec.get("study", {}).get("name", "study")
    ax.set_title(f"{name}: {result.spec.get('circuit', {}).get('ansatz', '?')} ansatz, {obs} cost")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    # A fixed "Software" metadata keeps the PNG free of version strings that change.
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def plot_comparison(results: Sequence[tuple[str, StudyResult]], path: Path) -> None:
    """Variance curves of the same study on several backends (e.g. noiseless vs device noise)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, (name, result) in enumerate(results):
        cells = [c for c in result.cells if c.grad_var > 0]
        label = name
        if result.fit is not None:
            label += f" (slope {result.fit.slope:.3f} ± {result.fit.slope_se:.3f})"
        ax.errorbar(
            [c.num_qubits for c in cells],
            [c.grad_var for c in cells],
            yerr=[c.grad_var_se for c in cells],
            fmt="o-",
            color=f"C{i}",
            capsize=3,
            label=label,
            mfc="none" if i else None,
        )
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("N qubits")
    ax.set_ylabel(r"Var$[\partial_\theta \langle O \rangle]$")
    ax.set_title(f"{results[0][1].spec['study']['name']}: backends compared")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_outputs(
    out_dir: Path, result: StudyResult, arrays: dict[str, NDArray[Any]]
) -> Sequence[Path]:
    """Write ``results.json``, ``samples.npz`` and ``variance.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.json", out_dir / "samples.npz", out_dir / "variance.png"]
    paths[0].write_text(result.to_json(), encoding="utf-8")
    write_npz(paths[1], arrays)
    plot_variance(result, paths[2])
    return paths
