"""``bp-qiskit budget`` (plan circuits and shots) and ``bp-qiskit devices``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from ..backends.devices import available_devices
from ..core.planning import (
    DEFAULT_PER_CIRCUIT_S,
    DEFAULT_PER_SHOT_S,
    NoiseModel,
    model_from_samples,
    optimal_plan,
    qpu_seconds,
)
from ..errors import UsageError
from ..execution.kinds import model_for
from ..execution.predict_models import noise_model
from ..report.tables import format_budget_plan
from ..results import StudyResult, read_npz
from ..spec import StudySpec, load_spec, parse_qubits
from .base import Command, CommandContext

__all__ = ["BudgetCommand", "DevicesCommand"]


def pilot_models(pilot: Path, qubits: Sequence[int] | None) -> list[NoiseModel]:
    """Noise models estimated from a shot-based study's output folder."""
    try:
        result = StudyResult.from_json((pilot / "results.json").read_text(encoding="utf-8"))
        arrays = read_npz(pilot / "samples.npz")
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"--pilot {pilot}: cannot read results.json/samples.npz ({exc})") from exc
    models = []
    for cell in result.cells:
        if qubits and cell.num_qubits not in qubits:
            continue
        tag = f"{cell.num_qubits}_{cell.num_layers}"
        if cell.shots < 2 or f"shot_var_{tag}" not in arrays:
            raise UsageError(f"--pilot {pilot}: the pilot must be a shot-based study (shots >= 2)")
        models.append(
            model_from_samples(
                cell.num_qubits, arrays[f"grads_{tag}"], arrays[f"shot_var_{tag}"], cell.shots
            )
        )
    missing = sorted(set(qubits or []) - {m.num_qubits for m in models})
    if missing:
        raise UsageError(f"--qubits: the pilot has no cell at n = {missing}")
    return models


class BudgetCommand(Command):
    """The (S, N) per qubit count that reach a target relative error.

    Two plans: the fewest total shots, and the least QPU time with the per-circuit overhead.
    """

    name = "budget"
    help = "plan circuits and shots for a target relative error"
    parents = ("json",)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Target, qubits, where the estimates come from, the time model."""
        parser.add_argument(
            "--rel-error", type=float, required=True, help="target relative error r"
        )
        parser.add_argument("--qubits", help="qubit counts, e.g. 2-8")
        parser.add_argument("--pilot", help="output folder of a shot-based study to estimate from")
        parser.add_argument(
            "--spec",
            default="jobs/seed_tutorial.toml",
            help="spec for the model's own estimates (default: the seed experiment)",
        )
        parser.add_argument(
            "--per-shot-s",
            type=float,
            default=DEFAULT_PER_SHOT_S,
            help=f"QPU seconds per shot (default {DEFAULT_PER_SHOT_S})",
        )
        parser.add_argument(
            "--per-circuit-s",
            type=float,
            default=DEFAULT_PER_CIRCUIT_S,
            help=f"QPU seconds per circuit (default {DEFAULT_PER_CIRCUIT_S})",
        )

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Print both plans per qubit count."""
        qubits = list(parse_qubits("--qubits", args.qubits)) if args.qubits else None
        if args.pilot:
            models = pilot_models(Path(args.pilot), qubits)
        else:
            spec = load_spec(args.spec)
            if qubits:
                spec = spec.with_overrides(**{"circuit.qubits": qubits})
            models = [self._model(spec, n) for n in spec.circuit.qubits]
        timing = {"per_shot_s": args.per_shot_s, "per_circuit_s": args.per_circuit_s}
        rows = []
        for m in models:
            # Fewest shots: no per-circuit cost in the objective; its time is then priced in full.
            fewest = optimal_plan(m, args.rel_error, per_shot_s=args.per_shot_s, per_circuit_s=0.0)
            fewest = dataclasses.replace(
                fewest, qpu_seconds=qpu_seconds(fewest.samples, fewest.total_shots, **timing)
            )
            rows.append((m, fewest, optimal_plan(m, args.rel_error, **timing)))
        if args.json:
            data = [
                {"num_qubits": m.num_qubits, "min_shots": a.to_dict(), "min_time": b.to_dict()}
                for m, a, b in rows
            ]
            print(json.dumps(data, indent=2))
            return 0
        print(format_budget_plan(rows, args.rel_error, args.per_shot_s, args.per_circuit_s))
        return 0

    @staticmethod
    def _model(spec: StudySpec, n: int) -> NoiseModel:
        """The seed experiment's exact model, else the prediction's, else a usage error."""
        exact = model_for(spec, n)
        if exact is not None:
            return exact
        predicted, why = noise_model(spec, n)
        if predicted is None:
            raise UsageError(
                f"budget: no model from the prediction ({why}); pass --pilot DIR with a "
                "shot-based study's output"
            )
        return predicted


class DevicesCommand(Command):
    """The device names usable in ``aer:<device>`` and ``fake:<device>``."""

    name = "devices"
    help = "list fake devices for aer:<device> and fake:<device>"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """One line per device."""
        for name, cls in available_devices().items():
            print(f"{name:<20} {cls}")
        return 0
