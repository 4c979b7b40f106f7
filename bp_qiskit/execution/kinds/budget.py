"""Shot-budget studies: spend a fixed budget on several (S, N) splits, compare with the planner.

For every qubit count n and repetition r a pool of circuits is drawn from
``SeedSequence(study.seed, spawn_key=(n, L, r))``; split N evaluates the first
S = total_shots / (2 N) of them with N shots per shifted point. Each repetition is one job;
its per-split estimates are committed with its DONE state. The achieved relative error of the
corrected variance over the repetitions is compared with
:func:`~bp_qiskit.core.planning.predicted_rel_error`, using the exact seed-circuit model for
both the reference variance and the prediction.
"""

from __future__ import annotations

import math

import numpy as np

from ...backends import Backend, capabilities_of
from ...backends.protocol import ExpectationTask, OnSubmit
from ...core.gradients import (
    parameter_indices,
)
from ...core.planning import NoiseModel, predicted_rel_error, seed_circuit_model
from ...core.statistics import corrected_variance
from ...errors import SpecError
from ...results import BudgetPoint, BudgetResult, Cell, StudyOutcome
from ...spec import StudySpec
from ...store import BaseStore, JobRecord
from ..context import JobOutput
from ..families import gradient_indices
from ..jobs import JobBuilder, JobKey, record_for
from .base import CellProgress, StudyKind, require_finished

__all__ = ["BudgetKind", "model_for"]


def model_for(spec: StudySpec, num_qubits: int) -> NoiseModel | None:
    """The exact noise model when the spec is the seed experiment, else None."""
    c = spec.circuit
    layers = c.num_layers(num_qubits)
    last = parameter_indices(spec.gradient.parameter, num_qubits * layers, layers)
    eligible = (
        c.ansatz in ("seed", "mcclean")
        and c.grammar() is None
        and layers == 1
        and spec.observable.kind == "global"
        and list(last) == [num_qubits - 1]
        and c.angles[0] == 0.0
        and math.isclose(c.angles[1], 2 * math.pi)
        and num_qubits >= 2
    )
    return seed_circuit_model(num_qubits) if eligible else None


def _check_model(spec: StudySpec, n: int) -> NoiseModel:
    model = model_for(spec, n)
    if model is None:
        raise SpecError(
            "budget: a budget study needs the exact seed-circuit model: "
            "circuit.ansatz 'seed', observable.kind 'global', gradient.parameter 'last', "
            "circuit.angles [0, '2pi']"
        )
    return model


class BudgetKind(StudyKind):
    """Achieved against predicted error of the corrected variance at a fixed shot budget."""

    name = "budget"
    section = "budget"
    unit = "rep"

    def plan(self, spec: StudySpec) -> list[JobRecord]:
        """One job per (qubit count, repetition): its pool and every split's estimate."""
        budget = spec.budget
        if budget is None:
            raise SpecError("budget: the spec has no [budget] table")
        if capabilities_of(spec.backend.name).remote:
            # A repetition is several primitive jobs; one stored id could not re-attach them
            # all, and a resumed repetition would be billed again.
            raise SpecError(
                f"backend.name: a shot-budget study runs on a simulator or in local testing "
                f"mode, not on {spec.backend.name!r}"
            )
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

    def submissions(self, spec: StudySpec, cell: Cell, k: int) -> list[tuple[int, int]]:
        """Each repetition spends the whole budget once per shot count.

        That is one PUB of ``total_shots // (2 N)`` circuits at N shots for every N in
        ``budget.shots``, per repetition.
        """
        budget = spec.budget
        assert budget is not None
        one = [(2 * k * (budget.total_shots // (2 * shots)), shots) for shots in budget.shots]
        reps = sum(1 for r in self.plan(spec) if r.num_qubits == cell.num_qubits)
        return one * reps

    def weight(self, rec: JobRecord) -> int:
        """One repetition."""
        return 1

    def execute(
        self, builder: JobBuilder, rec: JobRecord, backend: Backend, on_submit: OnSubmit
    ) -> JobOutput:
        """The corrected variance of every split of one repetition, on one shared pool."""
        spec = builder.spec
        assert spec.budget is not None
        n, layers, rep = rec.num_qubits, rec.num_layers, rec.index
        # The cell's own circuits, drawn and laid out as every job is (JobBuilder's family);
        # only the stream differs: one pool per repetition, shared by every split.
        family = builder.family(Cell(n, layers))
        indices = gradient_indices(spec, family)
        ss = np.random.SeedSequence(spec.study.seed, spawn_key=(n, layers, rep))
        draw_ss, *split_ss = ss.spawn(1 + len(spec.budget.shots))
        pool = family.draw(np.random.default_rng(draw_ss), rec.stop)
        values = family.values(pool, indices)
        out = []
        for shots, sseed in zip(spec.budget.shots, split_ss, strict=True):
            s = spec.budget.total_shots // (2 * shots)
            task = ExpectationTask(family.template, family.observable, values[:s], shots)
            (ev,) = backend.evaluate([task], seed=int(sseed.generate_state(1)[0]))
            grads, shot_var = family.gradients(np.asarray(ev.evs), np.asarray(ev.stds), indices)
            var, _ = corrected_variance(grads, shot_var)
            out.append(var)
        return JobOutput({"estimates": np.array(out)}, 0)

    def collect(self, store: BaseStore, study_id: str, spec: StudySpec) -> StudyOutcome:
        """Achieved against predicted error for every (n, N) over the repetitions."""
        budget = spec.budget
        assert budget is not None
        jobs = require_finished(store, study_id)
        stored = store.get_results(study_id)
        points, estimates = [], {}
        for n in spec.circuit.qubits:
            model = _check_model(spec, n)
            reps = sorted((j for j in jobs if j.num_qubits == n), key=lambda j: j.index)
            table = np.array([stored[j.key]["estimates"] for j in reps])
            estimates[str(n)] = table.tolist()
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
        result = BudgetResult(spec=spec.to_dict(), points=tuple(points), estimates=estimates)
        return StudyOutcome(study_id, self.name, parts=(result,))

    def progress(self, store: BaseStore, study_id: str, spec: StudySpec) -> list[CellProgress]:
        """Repetitions done per qubit count; budget jobs hold estimates, not gradients."""
        jobs = store.get_jobs(study_id)
        out = []
        for n, layers in sorted({(j.num_qubits, j.num_layers) for j in jobs}):
            recs = [j for j in jobs if (j.num_qubits, j.num_layers) == (n, layers)]
            done = [j for j in recs if j.state.is_finished()]
            budget = spec.budget
            used = len(done) * len(budget.shots) * budget.total_shots if budget else 0
            # Each repetition evaluates S = total / (2 N) circuits for every split N.
            circuits = (
                len(done) * sum(budget.total_shots // (2 * shots) for shots in budget.shots)
                if budget
                else 0
            )
            out.append(CellProgress(n, layers, len(done), len(recs), circuits, used, None, None))
        return out
