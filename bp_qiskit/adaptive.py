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
from numpy.typing import NDArray
from tqdm.auto import tqdm

from .backends import EstimatorBackend
from .manager import (
    DEFAULT_MAX_ATTEMPTS,
    create_study,
    job_key,
    job_result,
    record_for,
    run_one,
)
from .planning import model_from_samples, optimal_plan
from .results import StudyResult, build_result
from .runner import StudyFailedError
from .spec import SpecError, StudySpec
from .statistics import corrected_variance
from .store import BaseStore, InMemoryStore, JobRecord, StoreError
from .store._owner import current_owner
from .study import Cell, CellData, JobKey, JobResult, assemble_cell, backend_for, plan_cells

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
    target_rel_error: float | None = None,
    max_shots: int | None = None,
    fixed_shots: int | None = None,
    backend: EstimatorBackend | None = None,
    progress: bool = True,
    store: BaseStore | None = None,
    study_id: str | None = None,
) -> tuple[StudyResult, list[CellData], list[AdaptiveCell]]:
    """Run (or resume) every cell of ``spec`` adaptively; see the module docstring.

    The targets come from the keyword arguments or from the spec's ``[adaptive]`` table and are
    recorded in the study's spec. Every round is a job in ``store`` (an in-memory store by
    default). With ``study_id`` the study is resumed: the rounds already DONE are replayed from
    the store (the decisions depend only on their data, so the replay must agree with what is
    stored, which is checked) and the loop continues where it stopped.
    """
    spec = _with_targets(spec, target_rel_error, max_shots, fixed_shots)
    assert spec.adaptive is not None
    target, budget = spec.adaptive.target_rel_error, spec.adaptive.max_shots
    fixed = spec.adaptive.fixed_shots or None
    if spec.sampling.shots < 2:
        raise SpecError(
            "sampling.shots: adaptive allocation needs the pilot's shots per point (>= 2), "
            f"got {spec.sampling.shots}"
        )
    if spec.gradient.parameter == "all":
        raise SpecError("gradient.parameter: adaptive allocation supports one parameter, not 'all'")
    store = store if store is not None else InMemoryStore()
    if study_id is None:
        study_id = create_study(store, spec)
    backend = backend or backend_for(spec, tags=[f"bp_qiskit:{study_id}"])
    owner = current_owner()
    store.acquire_study(study_id, owner)
    try:
        stored = {j.key: j for j in store.get_jobs(study_id)}
        arrays = store.get_results(study_id)
        reports, cells_data = [], []
        cells = plan_cells(spec)
        with tqdm(total=len(cells), disable=not progress, unit="cell", desc=spec.study.name) as bar:
            for cell in cells:
                data, report = _run_cell(
                    store, study_id, spec, cell, backend, stored, arrays, target, budget, fixed, bar
                )
                cells_data.append(data)
                reports.append(report)
                bar.update(1)
    finally:
        store.release_study(study_id, owner)
    return build_result(spec.to_dict(), cells_data), cells_data, reports


def _with_targets(
    spec: StudySpec, target: float | None, max_shots: int | None, fixed: int | None
) -> StudySpec:
    overrides = {
        "adaptive.target_rel_error": target,
        "adaptive.max_shots": max_shots,
        "adaptive.fixed_shots": fixed,
    }
    if spec.adaptive is None and (target is None or max_shots is None):
        raise SpecError(
            "adaptive: give --target-rel-error and --max-shots (or an [adaptive] table)"
        )
    try:
        return spec.with_overrides(**overrides)
    except SpecError as exc:
        flag = str(exc).split(":")[0].replace("adaptive.", "--").replace("_", "-")
        raise SpecError(f"{flag}:{str(exc).split(':', 1)[1]}") from None


def _run_cell(
    store: BaseStore,
    study_id: str,
    spec: StudySpec,
    cell: Cell,
    backend: EstimatorBackend,
    stored: dict[str, JobRecord],
    arrays: dict[str, dict[str, NDArray[Any]]],
    target: float,
    budget: int,
    fixed: int | None,
    bar: Any,
) -> tuple[CellData, AdaptiveCell]:
    pilot_n = fixed or spec.sampling.shots
    results: list[JobResult] = []
    spent, n_now, s_now, reached = 0, pilot_n, 0, False
    add = min(spec.sampling.chunk, budget // (2 * pilot_n))
    for round_index in range(_MAX_ROUNDS):
        if add < 2:
            break
        job = JobKey(cell, round_index, s_now, s_now + add)
        results.append(_round(store, study_id, spec, job, n_now, backend, stored, arrays))
        spent += 2 * add * n_now
        s_now += add
        bar.set_postfix_str(f"n={cell.num_qubits} S={s_now} N={n_now} shots={spent}")
        if _rel_error(results) <= target:
            reached = True
            break
        grads = np.concatenate([r.grads for r in results])
        shot_var = np.concatenate([r.shot_var for r in results])
        shots = np.concatenate([np.full(len(r.grads), r.shots) for r in results])
        model = model_from_samples(cell.num_qubits, grads, shot_var, shots)
        if fixed is None and model.V > 0:
            plan = optimal_plan(model, target, per_circuit_s=0.0)
            n_now = plan.shots
            need = plan.samples - s_now
        elif model.V > 0:
            need = math.ceil(model.var_z(n_now) / (target * model.V) ** 2) - s_now
        else:
            need = s_now  # not resolved yet: double the circuits at the current N
        # At least 10% more circuits per round keeps the number of rounds logarithmic.
        add = min(max(need, s_now // 10, 2), s_now, (budget - spent) // (2 * n_now))
    report = AdaptiveCell(
        num_qubits=cell.num_qubits,
        num_layers=cell.num_layers,
        samples=s_now,
        final_shots=n_now,
        total_shots=spent,
        rel_error=_rel_error(results) if results else math.inf,
        reached=reached,
        rounds=len(results),
    )
    return assemble_cell(cell, results), report


def _round(
    store: BaseStore,
    study_id: str,
    spec: StudySpec,
    job: JobKey,
    shots: int,
    backend: EstimatorBackend,
    stored: dict[str, JobRecord],
    arrays: dict[str, dict[str, NDArray[Any]]],
) -> JobResult:
    """One round: replayed from the store if DONE, else recorded, executed and committed."""
    key = job_key(job)
    rec = stored.get(key)
    if rec is not None and (rec.start, rec.stop, rec.shots_requested) != (
        job.start,
        job.stop,
        shots,
    ):
        raise StoreError(
            f"adaptive study {study_id}: stored round {key} ({rec.start}-{rec.stop}, N="
            f"{rec.shots_requested}) differs from the replay ({job.start}-{job.stop}, N={shots})"
        )
    if rec is None:
        rec = dataclasses.replace(record_for(spec, job, shots), study_id=study_id)
        store.add_job(study_id, rec)
    if not rec.state.is_finished():
        failed = run_one(store, spec, rec, backend, DEFAULT_MAX_ATTEMPTS)
        if failed is not None:
            raise StudyFailedError(
                f"round {key} of study {study_id} failed after retries: {failed.error}; "
                f"retry with 'bp-qiskit resume {study_id}'"
            )
        arrays[key] = store.get_results(study_id)[key]
        rec = next(j for j in store.get_jobs(study_id) if j.key == key)
    return job_result(arrays[key], rec)
