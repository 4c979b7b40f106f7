"""Adaptive allocation: add circuits and shots per cell until a target relative error.

Per cell, starting from a pilot of ``sampling.chunk`` circuits at ``sampling.shots`` shots:

1. estimate the noise model (V, T, alpha, C, Q) from all samples so far
   (:func:`~bp_qiskit.core.planning.model_from_samples`);
2. stop if the measured relative standard error of the corrected variance is <= target, or
   if the cell's shot budget cannot pay for two more circuits;
3. otherwise ask the planner for the optimal N* and the number of circuits S* it needs, and
   run a round of min(S* - S, S) new circuits at N* (at most doubling, so a poor early
   estimate cannot commit the whole budget), then go back to 1.

Every round is a job with its own random stream (the same derivation as plain studies), and
the decisions depend only on the data, so an adaptive run is reproducible from its seed, and
a stored study is resumed or collected by *replaying* the decisions over its stored rounds
(a stored round that disagrees with the replay is an error). The budget ``max_shots`` is per
cell and counts every executed shot (both shifts). ``fixed_shots`` runs the same loop with N
held fixed: the baseline of the benchmark.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Generator

import numpy as np
from tqdm.auto import tqdm

from ...core.planning import model_from_samples, optimal_plan
from ...core.statistics import corrected_variance
from ...errors import SpecError, StudyFailedError
from ...results import AdaptiveCell, AdaptiveReport, Cell, CellData, StudyOutcome, build_result
from ...spec import StudySpec
from ...store import BaseStore, JobRecord, StoreError
from ..context import RunContext
from ..jobs import JobKey, JobResult, assemble_cell, job_key, job_result, plan_cells, record_for
from ..loop import run_jobs
from .base import StudyKind

__all__ = ["AdaptiveKind"]

_MAX_ROUNDS = 200

RoundFn = Callable[[JobKey, int], JobResult]
# A cell's walk: yields (round, N), is sent the round's data, returns the cell's outcome.
Walk = Generator[tuple[JobKey, int], JobResult, tuple[CellData, AdaptiveCell]]


def _rel_error(results: list[JobResult]) -> float:
    grads = np.concatenate([r.grads for r in results])
    shot_var = np.concatenate([r.shot_var for r in results])
    var, se = corrected_variance(grads, shot_var)
    return se / var if var > 0 else math.inf


def _walk_cell(spec: StudySpec, cell: Cell, round_fn: RoundFn) -> tuple[CellData, AdaptiveCell]:
    """One cell's walk, driven to the end with ``round_fn(job, N)`` supplying each round."""
    walk = _walk(spec, cell)
    try:
        request = next(walk)
        while True:
            request = walk.send(round_fn(*request))
    except StopIteration as stop:
        return stop.value


def _walk_cells(
    spec: StudySpec,
    cells: list[Cell],
    rounds_fn: Callable[[list[tuple[JobKey, int]]], list[JobResult]],
) -> list[tuple[CellData, AdaptiveCell]]:
    """Every cell's walk in lockstep: each step's rounds of all cells are run together.

    A cell's decisions depend only on its own rounds, so the outcome is the one the cells
    would reach one after another; running a step's rounds together lets a QPU batch take
    them all at once.
    """
    walks = {cell: _walk(spec, cell) for cell in cells}
    requests = {cell: next(walk) for cell, walk in walks.items()}
    done: dict[Cell, tuple[CellData, AdaptiveCell]] = {}
    while requests:
        order = list(requests)
        results = rounds_fn([requests[c] for c in order])
        requests = {}
        for cell, result in zip(order, results, strict=True):
            try:
                requests[cell] = walks[cell].send(result)
            except StopIteration as stop:
                done[cell] = stop.value
    return [done[c] for c in cells]


def _walk(spec: StudySpec, cell: Cell) -> Walk:
    """The allocation decisions of one cell, as a generator of rounds."""
    assert spec.adaptive is not None
    target, budget = spec.adaptive.target_rel_error, spec.adaptive.max_shots
    fixed = spec.adaptive.fixed_shots or None
    pilot_n = fixed or spec.sampling.shots
    results: list[JobResult] = []
    spent, n_now, s_now, reached = 0, pilot_n, 0, False
    add = min(spec.sampling.chunk, budget // (2 * pilot_n))
    for round_index in range(_MAX_ROUNDS):
        if add < 2:
            break
        job = JobKey(cell, round_index, s_now, s_now + add)
        results.append((yield job, n_now))
        spent += 2 * add * n_now
        s_now += add
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


def _stored_round(
    study_id: str, stored: dict[str, JobRecord], job: JobKey, shots: int
) -> JobRecord | None:
    """The stored record of a round, checked against the replay's decision."""
    rec = stored.get(job_key(job))
    if rec is not None and (rec.start, rec.stop, rec.shots_requested) != (
        job.start,
        job.stop,
        shots,
    ):
        raise StoreError(
            f"adaptive study {study_id}: stored round {rec.key} ({rec.start}-{rec.stop}, N="
            f"{rec.shots_requested}) differs from the replay ({job.start}-{job.stop}, N={shots})"
        )
    return rec


class AdaptiveKind(StudyKind):
    """Circuits and shots per cell chosen round by round; see the module docstring."""

    name = "adaptive"
    section = "adaptive"
    unit = "cell"

    def plan(self, spec: StudySpec) -> list[JobRecord]:
        """No jobs up front: each round is planned from the data of the rounds before it."""
        if spec.sampling.shots < 2:
            raise SpecError(
                "sampling.shots: adaptive allocation needs the pilot's shots per point (>= 2), "
                f"got {spec.sampling.shots}"
            )
        if spec.gradient.parameter == "all":
            raise SpecError(
                "gradient.parameter: adaptive allocation supports one parameter, not 'all'"
            )
        assert spec.adaptive is not None
        pilot = spec.adaptive.fixed_shots or spec.sampling.shots
        if spec.adaptive.max_shots < 4 * pilot:
            # Below two circuits x two shifts at the pilot's N there is no round to run.
            raise SpecError(
                f"adaptive.max_shots: got {spec.adaptive.max_shots}; allowed: at least "
                f"{4 * pilot} (2 circuits x 2 shifts x {pilot} shots, the pilot's N)"
            )
        return []

    def submissions(self, spec: StudySpec, cell: Cell, k: int) -> list[tuple[int, int]]:
        """At most: the rounds are chosen from the data, and stop at ``adaptive.max_shots``.

        Priced as one PUB spending all of it at the pilot's N (the rounds' PUBs add only
        their per-job seconds).
        """
        assert spec.adaptive is not None
        pilot = spec.adaptive.fixed_shots or spec.sampling.shots
        return [(spec.adaptive.max_shots // pilot, pilot)]

    def run(self, ctx: RunContext) -> None:
        """Replay the stored rounds, then run new ones until every cell stops.

        The cells walk in lockstep: each step's rounds, one per cell still going, are run
        with one call of the run loop, so on a QPU they are all submitted up front.
        """
        store, sid = ctx.store, ctx.study_id
        stored = {j.key: j for j in store.get_jobs(sid)}
        arrays = store.get_results(sid)
        cells = plan_cells(ctx.spec)
        bar = tqdm(
            total=len(cells), disable=not ctx.progress, unit="cell", desc=ctx.spec.study.name
        )

        def rounds_fn(requests: list[tuple[JobKey, int]]) -> list[JobResult]:
            recs = []
            for job, shots in requests:
                rec = _stored_round(sid, stored, job, shots)
                if rec is None:
                    rec = dataclasses.replace(record_for(ctx.spec, job, shots), study_id=sid)
                    store.add_job(sid, rec)
                    stored[rec.key] = rec
                recs.append(rec)
            todo = [r for r in recs if not r.state.is_finished()]
            if todo:
                failed = run_jobs(ctx, self, todo)
                if failed:
                    error = next(j.error for j in store.get_jobs(sid) if j.key == failed[0].key)
                    raise StudyFailedError(
                        f"round {failed[0].key} of study {sid} failed after retries: "
                        f"{error or 'no reason recorded'}; retry with: bp-qiskit resume {sid}"
                    )
                fresh = store.get_results(sid)
                now = {j.key: j for j in store.get_jobs(sid)}
                for rec in todo:
                    arrays[rec.key] = fresh[rec.key]
                    stored[rec.key] = now[rec.key]
            bar.set_postfix_str(f"round {max(job.index for job, _ in requests)}")
            return [job_result(arrays[r.key], stored[r.key]) for r in recs]

        with bar:
            _walk_cells(ctx.spec, cells, rounds_fn)
            bar.update(len(cells))

    def is_finished(self, store: BaseStore, study_id: str, spec: StudySpec) -> bool:
        """Rounds are planned as the study goes: finished when the replay needs no new round."""
        try:
            self.collect(store, study_id, spec)
        except StoreError:
            return False
        return True

    def collect(self, store: BaseStore, study_id: str, spec: StudySpec) -> StudyOutcome:
        """Replay the decisions over the stored rounds; every round must be DONE."""
        stored = {j.key: j for j in store.get_jobs(study_id)}
        arrays = store.get_results(study_id)

        def round_fn(job: JobKey, shots: int) -> JobResult:
            rec = _stored_round(study_id, stored, job, shots)
            if rec is None or not rec.state.is_finished():
                raise StoreError(
                    f"study {study_id} is not finished: round {job_key(job)} has not run; "
                    f"run 'bp-qiskit resume {study_id}'"
                )
            return job_result(arrays[rec.key], rec)

        walked = [_walk_cell(spec, cell, round_fn) for cell in plan_cells(spec)]
        data = tuple(d for d, _ in walked)
        assert spec.adaptive is not None  # this kind runs only specs with [adaptive]
        return StudyOutcome(
            study_id,
            self.name,
            result=build_result(spec.to_dict(), data),
            data=data,
            parts=(
                AdaptiveReport(
                    tuple(r for _, r in walked),
                    spec.adaptive.target_rel_error,
                    spec.adaptive.max_shots,
                ),
            ),
        )
