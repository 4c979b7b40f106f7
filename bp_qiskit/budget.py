"""Shot-budget studies: spend a fixed budget on several (S, N) splits, compare with the planner.

For every qubit count n and repetition r a pool of circuits is drawn from
``SeedSequence(study.seed, spawn_key=(n, L, r))``; split N evaluates the first
S = total_shots / (2 N) of them with N shots per shifted point. The achieved relative error
of the corrected variance over the repetitions is compared with
:func:`~bp_qiskit.planning.predicted_rel_error`, using the exact seed-circuit model for both
the reference variance and the prediction.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .backends import ExpectationTask
from .circuits import draw_samples, template_circuit, template_values
from .gradients import combine_shifts, parameter_indices, shift_parameters, shot_noise_variance
from .observables import make_observable
from .planning import NoiseModel, predicted_rel_error, seed_circuit_model
from .spec import SpecError, StudySpec
from .statistics import corrected_variance
from .study import backend_for

__all__ = ["BudgetPoint", "BudgetResult", "model_for", "plot_budget", "run_budget_study"]


def model_for(spec: StudySpec, num_qubits: int) -> NoiseModel | None:
    """The exact noise model when the spec is the seed experiment, else None."""
    c = spec.circuit
    layers = c.num_layers(num_qubits)
    last = parameter_indices(spec.gradient.parameter, num_qubits * layers)
    eligible = (
        c.ansatz in ("seed", "mcclean")
        and layers == 1
        and spec.observable.kind == "global"
        and list(last) == [num_qubits - 1]
        and c.angles[0] == 0.0
        and math.isclose(c.angles[1], 2 * math.pi)
        and num_qubits >= 2
    )
    return seed_circuit_model(num_qubits) if eligible else None


@dataclasses.dataclass(frozen=True)
class BudgetPoint:
    """Achieved against predicted error for one (n, N) split."""

    num_qubits: int
    shots: int
    samples: int
    repeats: int
    reference_var: float
    mean_estimate: float
    achieved_rel_error: float
    achieved_rel_error_se: float
    predicted_rel_error: float


@dataclasses.dataclass(frozen=True)
class BudgetResult:
    """All splits of a budget study."""

    spec: dict[str, Any]
    points: tuple[BudgetPoint, ...]

    def to_json(self) -> str:
        """Deterministic JSON."""
        data = {"spec": self.spec, "points": [dataclasses.asdict(p) for p in self.points]}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def run_budget_study(spec: StudySpec, *, progress: bool = True) -> BudgetResult:
    """Run the ``[budget]`` section of ``spec``."""
    budget = spec.budget
    if budget is None:
        raise SpecError("budget: the spec has no [budget] table")
    backend = backend_for(spec)
    points = []
    pool_size = budget.total_shots // (2 * min(budget.shots))
    total = len(spec.circuit.qubits) * budget.repeats
    with tqdm(total=total, disable=not progress, unit="rep", desc=spec.study.name) as bar:
        for n in spec.circuit.qubits:
            model = model_for(spec, n)
            if model is None:
                raise SpecError(
                    "budget: a budget study needs the exact seed-circuit model: "
                    "circuit.ansatz 'seed', observable.kind 'global', gradient.parameter 'last', "
                    "circuit.angles [0, '2pi']"
                )
            layers = spec.circuit.num_layers(n)
            circuit = template_circuit(n, layers, ansatz=spec.circuit.ansatz)
            obs = make_observable(spec.observable, n)
            idx = parameter_indices(spec.gradient.parameter, n * layers)
            estimates: dict[int, list[float]] = {shots: [] for shots in budget.shots}
            for rep in range(budget.repeats):
                ss = np.random.SeedSequence(spec.study.seed, spawn_key=(n, layers, rep))
                draw_ss, *split_ss = ss.spawn(1 + len(budget.shots))
                pool = draw_samples(
                    np.random.default_rng(draw_ss),
                    pool_size,
                    n,
                    layers,
                    ansatz=spec.circuit.ansatz,
                    angles=spec.circuit.angles,
                )
                values = template_values(pool.gates, shift_parameters(pool.params, idx))
                for shots, sseed in zip(budget.shots, split_ss, strict=True):
                    s = budget.total_shots // (2 * shots)
                    task = ExpectationTask(circuit, obs, values[:s], shots)
                    (ev,) = backend.evaluate([task], seed=int(sseed.generate_state(1)[0]))
                    var, _ = corrected_variance(
                        combine_shifts(ev.evs), shot_noise_variance(ev.stds)
                    )
                    estimates[shots].append(var)
                bar.update(1)
            for shots in budget.shots:
                e = np.array(estimates[shots])
                sq = (e - model.V) ** 2
                rms = math.sqrt(float(sq.mean()))
                # Delta method for sqrt(mean(sq)).
                rms_se = float(sq.std(ddof=1) / math.sqrt(len(e)) / (2 * rms)) if rms > 0 else 0.0
                s = budget.total_shots // (2 * shots)
                points.append(
                    BudgetPoint(
                        num_qubits=n,
                        shots=shots,
                        samples=s,
                        repeats=budget.repeats,
                        reference_var=model.V,
                        mean_estimate=float(e.mean()),
                        achieved_rel_error=rms / model.V,
                        achieved_rel_error_se=rms_se / model.V,
                        predicted_rel_error=predicted_rel_error(model, s, shots),
                    )
                )
    return BudgetResult(spec=spec.to_dict(), points=tuple(points))


def plot_budget(result: BudgetResult, path: Path) -> None:
    """Achieved relative error against N at fixed budget, with the predicted curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    total = int(result.spec["budget"]["total_shots"])
    fig, ax = plt.subplots(figsize=(6, 4.2))
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
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("shots per shifted point N (S = budget / 2N circuits)")
    ax.set_ylabel("relative error of corrected Var[grad]")
    ax.set_title(f"fixed budget {total} shots; dotted: planner's optimal N")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)
