"""``bp-qiskit predict SPEC``: what theory expects for every cell, without simulating."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..execution.predict import DEFAULT_PATHS, Prediction, predict_cells
from ..report.tables import format_predictions
from ..spec import StudySpec, load_spec, parse_qubits
from .base import Command, CommandContext, check_out, positive_int
from .run import _layers

__all__ = ["PredictCommand"]

MAX_PREDICTED_QUBITS = 100_000
MANY_CELLS = 200  # more than this many cells to predict: say how many, and how to ask fewer


class PredictCommand(Command):
    """Predicted Var[dC/dtheta] (and Var[C]) per cell and cost, at any n."""

    name = "predict"
    help = "predict each cell's gradient variance by Pauli propagation (no simulation)"
    parents = ("json", "progress")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The spec, the cells and the sampling budget."""
        parser.add_argument("spec", help="path to a study spec")
        parser.add_argument("--qubits", help="qubit counts, any size: e.g. 10-1000 or 10,100,1000")
        parser.add_argument("--layers", type=_layers, help="layers L, e.g. 4n, or 1,2,4,8")
        parser.add_argument(
            "--paths",
            type=positive_int,
            default=DEFAULT_PATHS,
            help=f"Pauli paths per cell where sampling is needed (default {DEFAULT_PATHS})",
        )
        parser.add_argument("--out", help="folder for predicted.json and predicted.png")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Predict, print, and write the files when ``--out`` is given."""
        spec = load_spec(args.spec)
        if args.layers is not None:
            spec = spec.with_overrides(**{"circuit.layers": args.layers})
        qubits = (
            parse_qubits("--qubits", args.qubits, maximum=MAX_PREDICTED_QUBITS)
            if args.qubits
            else spec.circuit.qubits
        )
        if args.out:
            check_out(Path(args.out))
        cells = [(n, k) for n in qubits for k in _layer_counts(spec, n)]
        rows = self._predict(spec, cells, args.paths, progress=not args.no_progress)
        if args.json:
            print(json.dumps([p.to_dict() for p in rows], indent=2))
        else:
            print(format_predictions(rows))
            for line in _lie_algebra_limits(spec, cells):
                print(line)
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "predicted.json").write_text(
                json.dumps([p.to_dict() for p in rows], indent=2) + "\n", encoding="utf-8"
            )
            from ..report.predictions_plot import plot_predictions  # matplotlib only when drawing

            plot_predictions(rows, spec.to_dict(), out / "predicted.png")
            if not args.json:
                print(f"wrote {out / 'predicted.json'}, {out / 'predicted.png'}")
        return 0

    @staticmethod
    def _predict(
        spec: StudySpec, cells: list[tuple[int, int]], paths: int, *, progress: bool
    ) -> list[Prediction]:
        from tqdm.auto import tqdm

        variants = spec.variants() if spec.more_observables else [spec]
        todo = [(v, n, k) for v in variants for n, k in cells]
        if len(todo) > MANY_CELLS:
            # A range such as 10-1000 is 991 qubit counts, each with every layer count and
            # cost: say so before the minutes start, not after.
            print(
                f"predicting {len(todo):,} cells ({len(cells):,} (n, L) x {len(variants)} "
                "cost(s)); the progress bar estimates the time left. For a curve, a few sizes "
                "do: --qubits 10,100,1000",
                file=sys.stderr,
            )
        with tqdm(total=len(todo), desc="predict", unit="cell", disable=not progress) as bar:
            return predict_cells(todo, paths=paths, seed=spec.study.seed, progress=bar.update)


def _lie_algebra_limits(spec: StudySpec, cells: list[tuple[int, int]]) -> list[str]:
    """The deep-circuit limits where the circuit's Lie algebra gives them (Pauli rotations only).

    Var[C] for every n; Var[dC] where the differentiated gate is deep inside the circuit (an
    explicit ``[layer, position]`` away from both ends), which the limit assumes.
    """
    from ..execution.predict_models import dla_cost_variance, dla_gradient_variance

    lines = []
    for n in sorted({n for n, _ in cells}):
        try:
            cost = dla_cost_variance(spec, n)
        except ValueError:  # the algebra is too large to close
            continue
        if cost is None:
            continue
        text = f"deep-circuit limit (Lie algebra) at n = {n}: Var[C] -> {cost:.4e}"
        p = spec.gradient.parameter
        deepest = max(k for m, k in cells if m == n)
        if isinstance(p, tuple) and 0 < p[0] % deepest < deepest - 1:
            grad = dla_gradient_variance(spec, n, deepest)
            if grad is not None:
                text += f", Var[dC] -> {grad:.4e} (the gate in layer {p[0]} of {deepest})"
        lines.append(text)
    return lines


def _layer_counts(spec: StudySpec, n: int) -> tuple[int, ...]:
    try:
        return spec.circuit.layer_counts(n)
    except ValueError as exc:  # pragma: no cover - the spec validated its layers
        raise UsageError(str(exc)) from None
