"""What every figure shares: fixed margins, plain-text log labels, the gradient label, PNG.

Why fixed and plain: ``tight_layout`` and mathtext were the two largest costs of drawing the
seed study's figure (docs/benchmarks.md, "What the figure costs").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

__all__ = ["GRAD_LABEL", "describe", "log_axis", "save"]


# Margins in inches (left, right, bottom, top), what ``tight_layout`` chose for these
# figures, fixed: the layout pass drew every artist once more and took 0.38 s of the seed
# study's 2.5 s process. The top leaves room for a two-line title.
_MARGINS_IN = (0.80, 0.15, 0.58, 0.52)


# The y label of every gradient plot, in plain text: mathtext (``$...$``) costs a parser
# build of about 0.1 s on the first figure of a process, a sixth of drawing the seed study.
GRAD_LABEL = "Var[∂C/∂θ]"
_SUPERSCRIPT = str.maketrans("0123456789-\u2212", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")  # u2212: minus sign


class _PlainLogFormatter(LogFormatterSciNotation):
    """Matplotlib's log labels (which ticks, which mantissas), written as plain text.

    ``10⁻³`` and ``2×10⁻³`` in Unicode instead of mathtext: the same labels, without
    mathtext's parse, which was the largest single cost of drawing ``variance.png``.
    """

    def __call__(self, x: float, pos: int | None = None) -> str:
        label = str(super().__call__(x, pos))
        if not label.startswith("$"):
            return label
        body = label.strip("$").replace(r"\mathdefault{", "").replace("}", "")
        body = body.replace(r"\times", "\u00d7").replace("{", "")  # u00d7: multiplication sign
        mantissa, _, exponent = body.partition("^")
        return mantissa + exponent.translate(_SUPERSCRIPT)


def log_axis(ax: Axes, which: str = "y", base: float = 10) -> None:
    """A log axis (``which`` is ``"x"`` or ``"y"``) whose labels need no mathtext.

    Call it after the plotting calls: ``semilogy`` and ``set_yscale`` reset the formatters.
    """
    getattr(ax, f"set_{which}scale")("log", base=base)
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(_PlainLogFormatter(base))
    axis.set_minor_formatter(_PlainLogFormatter(base, labelOnlyBase=False))


def save(
    fig: Figure,
    path: Path | None,
    *,
    wspace: float = 0.2,
    margins: tuple[float, float, float, float] = _MARGINS_IN,
) -> Figure:
    """Lay the figure out with the fixed margins; write it as a PNG when ``path`` is given."""
    width, height = fig.get_size_inches()
    left, right, bottom, top = margins
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace,
    )
    if path is not None:
        # No "Software" metadata: the PNG holds no version string that changes.
        fig.savefig(path, dpi=120, metadata={"Software": None})
    return fig


def _cost_kinds(observable: Any) -> str:
    """The cost's kind, or the kinds of several ``[[observable]]`` tables."""
    if isinstance(observable, list):
        return " and ".join(str(o.get("kind", "?")) for o in observable)
    return str(observable.get("kind", "?"))


def describe(spec: dict[str, Any]) -> str:
    """One line: ansatz, L, S, N, cost, backend, and whether the backend is noisy."""
    circuit = spec.get("circuit", {})
    sampling = spec.get("sampling", {})
    backend = spec.get("backend", {}).get("name", "?")
    shots = sampling.get("shots", 0)
    noisy = backend.split(":")[0] in ("aer", "fake", "ibm") and ":" in backend
    depolarizing = spec.get("backend", {}).get("options", {}).get("depolarizing")
    ansatz = circuit.get("factory") or f"{circuit.get('ansatz', '?')} ansatz"
    layers = circuit.get("layers", "?")
    if isinstance(layers, list):  # a depth axis
        layers = f"{layers[0]}..{layers[-1]} ({len(layers)} depths)"
    return (
        f"{ansatz}, L = {layers}, "
        f"S = {sampling.get('samples', '?')}, N = {shots if shots else 'exact'}, "
        f"{_cost_kinds(spec.get('observable', {}))} cost, {backend}"
        + (
            " (device noise)"
            if noisy
            else f" (depolarising {depolarizing[0]}, {depolarizing[1]})"
            if depolarizing
            else " (noiseless)"
        )
    )
