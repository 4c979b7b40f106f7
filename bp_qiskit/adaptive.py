"""Adaptive allocation: add circuits and shots per cell until a target relative error.

Per cell, starting from a pilot of ``sampling.chunk`` circuits at ``sampling.shots`` shots:

1. estimate the noise model (V, T, alpha, C, Q) from all samples so far
   (:func:`~bp_qiskit.planning.model_from_samples`);
2. stop if the measured relative standard error of the corrected variance is <= target, or
   if the cell's shot budget cannot pay for two more circuits;
3. otherwise ask the planner for the optimal N* and the number of circuits S* it needs, and
   run a round of min(S* - S, S) new circuits at N* (at most doubling, so a poor early
   estimate cannot commit the whole budget), then go back to 1.

Every round is a job with its own random stream (the same derivation as plain studies), and
the decisions depend only on the data, so an adaptive run is reproducible from its seed.
The budget ``max_shots`` is per cell and counts every executed shot (both shifts).
``fixed_shots`` runs the same loop with N held fixed: the baseline of the benchmark.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .backends import EstimatorBackend
from .planning import model_from_samples, optimal_plan
from .results import StudyResult, build_result
from .spec import SpecError, StudySpec
from .statistics import corrected_variance
from .study import CellData, JobKey, JobResult, assemble_cell, backend_for, execute_job, plan_cells

__all__ = ["AdaptiveCell", "run_adaptive"]

_MAX_ROUNDS = 200


@dataclasses.dataclass(frozen=True)
class AdaptiveCell:
    """What adaptive allocation reached in one cell and what it cost."""

    num_qubits: int
    num_layers: int
    samples: int
    final_shots: int
    total_shots: int
    rel_error: float
    reached: bool
    rounds: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return dataclasses.asdict(self)


def _rel_error(results: list[JobResult]) -> float:
    grads = np.concatenate([r.grads for r in results])
    shot_var = np.concatenate([r.shot_var for r in results])
    var, se = corrected_variance(grads, shot_var)
    return se / var if var > 0 else math.inf


def run_adaptive(
    spec: StudySpec,
    *,
    target_rel_error: float,
    max_shots: int,
    fixed_shots: int | None = None,
    backend: EstimatorBackend | None = None,
    progress: bool = True,
) -> tuple[StudyResult, list[CellData], list[AdaptiveCell]]:
    """Run every cell of ``spec`` adaptively; see the module docstring."""
    if not 0 < target_rel_error < 1:
        raise SpecError(f"--target-rel-error: got {target_rel_error}; allowed: a number in (0, 1)")
    if max_shots < 1:
        raise SpecError(f"--max-shots: got {max_shots}; allowed: an integer >= 1")
    if spec.sampling.shots < 2:
        raise SpecError(
            "sampling.shots: adaptive allocation needs the pilot's shots per point (>= 2), "
            f"got {spec.sampling.shots}"
        )
    if spec.gradient.parameter == "all":
        raise SpecError("gradient.parameter: adaptive allocation supports one parameter, not 'all'")
    backend = backend or backend_for(spec)
    pilot_n = fixed_shots or spec.sampling.shots
    reports, cells_data = [], []
    cells = plan_cells(spec)
    with tqdm(total=len(cells), disable=not progress, unit="cell", desc=spec.study.name) as bar:
        for cell in cells:
            results: list[JobResult] = []
            spent, n_now, s_now, reached = 0, pilot_n, 0, False
            add = min(spec.sampling.chunk, max_shots // (2 * pilot_n))
            for round_index in range(_MAX_ROUNDS):
                if add < 2:
                    break
                job = JobKey(cell, round_index, s_now, s_now + add)
                results.append(execute_job(spec, job, backend, shots=n_now))
                spent += 2 * add * n_now
                s_now += add
                bar.set_postfix_str(f"n={cell.num_qubits} S={s_now} N={n_now} shots={spent}")
                if _rel_error(results) <= target_rel_error:
                    reached = True
                    break
                grads = np.concatenate([r.grads for r in results])
                shot_var = np.concatenate([r.shot_var for r in results])
                shots = np.concatenate([np.full(len(r.grads), r.shots) for r in results])
                model = model_from_samples(cell.num_qubits, grads, shot_var, shots)
                if fixed_shots is None and model.V > 0:
                    plan = optimal_plan(model, target_rel_error, per_circuit_s=0.0)
                    n_now = plan.shots
                    need = plan.samples - s_now
                elif model.V > 0:
                    need = math.ceil(model.var_z(n_now) / (target_rel_error * model.V) ** 2) - s_now
                else:
                    need = s_now  # not resolved yet: double the circuits at the current N
                # At least 10% more circuits per round keeps the number of rounds logarithmic.
                add = min(max(need, s_now // 10, 2), s_now, (max_shots - spent) // (2 * n_now))
            data = assemble_cell(cell, results)
            cells_data.append(data)
            reports.append(
                AdaptiveCell(
                    num_qubits=cell.num_qubits,
                    num_layers=cell.num_layers,
                    samples=s_now,
                    final_shots=n_now,
                    total_shots=spent,
                    rel_error=_rel_error(results) if results else math.inf,
                    reached=reached,
                    rounds=len(results),
                )
            )
            bar.update(1)
    return build_result(spec.to_dict(), cells_data), cells_data, reports
