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
from numpy.typing import NDArray
from tqdm.auto import tqdm

from .backends import ExpectationTask
from .circuits import draw_samples, template_circuit, template_values
from .gradients import combine_shifts, parameter_indices, shift_parameters, shot_noise_variance
from .manager import DEFAULT_MAX_ATTEMPTS, create_study, record_for
from .observables import make_observable
from .planning import NoiseModel, predicted_rel_error, seed_circuit_model
from .spec import SpecError, StudySpec
from .statistics import corrected_variance
from .store import BaseStore, InMemoryStore, JobRecord, JobState, StoreError
from .store._owner import current_owner
from .study import Cell, JobKey, backend_for

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


def _check_model(spec: StudySpec, n: int) -> NoiseModel:
    model = model_for(spec, n)
    if model is None:
        raise SpecError(
            "budget: a budget study needs the exact seed-circuit model: "
            "circuit.ansatz 'seed', observable.kind 'global', gradient.parameter 'last', "
            "circuit.angles [0, '2pi']"
        )
    return model


def budget_jobs(spec: StudySpec) -> list[JobRecord]:
    """One job per (qubit count, repetition): its pool and every split's estimate."""
    budget = spec.budget
    if budget is None:
        raise SpecError("budget: the spec has no [budget] table")
    pool = budget.total_shots // (2 * min(budget.shots))
    jobs = []
    for n in spec.circuit.qubits:
        _check_model(spec, n)
        layers = spec.circuit.num_layers(n)
        for rep in range(budget.repeats):
            # A repetition draws one pool of `pool` circuits; its splits use prefixes of it.
            job = JobKey(Cell(n, layers), rep, 0, pool)
            jobs.append(record_for(spec, job, shots=0, key=f"n{n}_L{layers}_r{rep}"))
    return jobs


def _repetition(spec: StudySpec, job: JobRecord, backend: Any) -> NDArray[np.float64]:
    """The corrected variance of every split of one repetition, on one shared pool."""
    assert spec.budget is not None
    n, layers, rep = job.num_qubits, job.num_layers, job.index
    circuit = template_circuit(n, layers, ansatz=spec.circuit.ansatz)
    obs = make_observable(spec.observable, n)
    idx = parameter_indices(spec.gradient.parameter, n * layers)
    ss = np.random.SeedSequence(spec.study.seed, spawn_key=(n, layers, rep))
    draw_ss, *split_ss = ss.spawn(1 + len(spec.budget.shots))
    pool = draw_samples(
        np.random.default_rng(draw_ss),
        job.stop,
        n,
        layers,
        ansatz=spec.circuit.ansatz,
        angles=spec.circuit.angles,
    )
    values = template_values(pool.gates, shift_parameters(pool.params, idx))
    out = []
    for shots, sseed in zip(spec.budget.shots, split_ss, strict=True):
        s = spec.budget.total_shots // (2 * shots)
        task = ExpectationTask(circuit, obs, values[:s], shots)
        (ev,) = backend.evaluate([task], seed=int(sseed.generate_state(1)[0]))
        var, _ = corrected_variance(combine_shifts(ev.evs), shot_noise_variance(ev.stds))
        out.append(var)
    return np.array(out)


def run_budget_study(
    spec: StudySpec,
    *,
    progress: bool = True,
    store: BaseStore | None = None,
    study_id: str | None = None,
    backend: Any = None,
) -> BudgetResult:
    """Run (or, with ``study_id``, resume) the ``[budget]`` study of ``spec``.

    Each repetition is a job in ``store`` (in memory by default): its per-split estimates are
    committed with its DONE state, so a killed study resumes without recomputing them.
    """
    budget = spec.budget
    if budget is None:
        raise SpecError("budget: the spec has no [budget] table")
    store = store if store is not None else InMemoryStore()
    if study_id is None:
        study_id = create_study(store, spec)
    backend = backend or backend_for(spec)
    owner = current_owner()
    store.acquire_study(study_id, owner)
    try:
        jobs = store.get_jobs(study_id)
        todo = [j for j in jobs if not j.state.is_finished()]
        with tqdm(
            total=len(jobs),
            initial=len(jobs) - len(todo),
            disable=not progress,
            unit="rep",
            desc=spec.study.name,
        ) as bar:
            for job in todo:
                _run_repetition(store, spec, job, backend)
                bar.update(1)
    finally:
        store.release_study(study_id, owner)
    stored = store.get_results(study_id)
    points = []
    for n in spec.circuit.qubits:
        model = _check_model(spec, n)
        reps = sorted((j for j in jobs if j.num_qubits == n), key=lambda j: j.index)
        table = np.array([stored[j.key]["estimates"] for j in reps])
        for col, shots in enumerate(budget.shots):
            e = table[:, col]
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


def _run_repetition(store: BaseStore, spec: StudySpec, job: JobRecord, backend: Any) -> None:
    """Claim, compute and commit one repetition; Ctrl-C puts it back to PENDING."""
    try:
        for _ in range(DEFAULT_MAX_ATTEMPTS):
            store.claim_job(job.study_id, job.key)
            try:
                estimates = _repetition(spec, job, backend)
            except Exception as exc:  # recorded, then retried
                store.fail_job(job.study_id, job.key, f"{type(exc).__name__}: {exc}")
                continue
            store.finish_job(job.study_id, job.key, {"estimates": estimates}, 0)
            return
    except KeyboardInterrupt:
        store.fail_job(job.study_id, job.key, "interrupted by the user", state=JobState.PENDING)
        raise
    raise StoreError(f"budget repetition {job.key} failed {DEFAULT_MAX_ATTEMPTS} times")


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
