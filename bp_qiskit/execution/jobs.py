"""A study's jobs as build -> execute -> combine, and their records in the store.

A *cell* is one point of the sweep (qubit count n, layer count L). A cell's S samples are
split into *jobs* of ``sampling.chunk`` samples. Every job draws its circuits from its own
random stream, ``SeedSequence(study.seed, spawn_key=(n, L, chunk_index))``, so a job's
result depends only on the spec and its identity: not on the order jobs run in, on resuming,
or on how many workers there are. Adding samples appends jobs and leaves earlier draws alone.

A job is executed as a single PUB: the cell's template circuit, the observable and a
parameter array of shape (s, K, 2, 3P) holding every sample and both shifts of every
differentiated parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from ..backends import Backend, Evaluation, ExpectationTask
from ..backends.adjoint import AdjointProgram, compile_circuit
from ..backends.protocol import OnSubmit
from ..core.circuits import CircuitSamples
from ..results import Cell, CellData
from ..spec import StudySpec
from ..store import JobRecord, JobState
from .adjoint import ADJOINT, adjoint_gradients, wants_adjoint
from .families import CircuitFamily, family_for, gradient_indices

__all__ = [
    "BuiltJob",
    "JobBuilder",
    "JobKey",
    "JobResult",
    "assemble_cell",
    "job_key",
    "job_of",
    "job_result",
    "job_seed",
    "plan_cells",
    "plan_jobs",
    "record_for",
]


@dataclasses.dataclass(frozen=True, order=True)
class JobKey:
    """Identity of one job: a cell and the sample range [start, stop) of chunk ``index``."""

    cell: Cell
    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of samples in the job."""
        return self.stop - self.start


@dataclasses.dataclass(frozen=True)
class JobResult:
    """The per-sample data a job produced.

    Attributes:
        gates: (s, L, n) int8 gate codes.
        params: (s, L*n) angles.
        grads: (s, K) gradients.
        shot_var: (s, K) shot-noise variance of each gradient (0 when exact).
        shots: Shots executed per expectation value (0 = exact).
        job_id: The estimator job id.
        usage_seconds: QPU usage the service reported (None for simulators).
        costs: (s,) the cost at random angles (None where the circuits cannot give it).
        cost_shot_var: (s,) the shot-noise variance of each cost (0 when exact).
        peak_memory: Peak resident bytes of the process while the job ran (None where not
            measured: remote jobs, older stores).
        method: How the gradients were taken: ``"shift"`` (parameter shift through the
            backend) or ``"adjoint"`` (execution/adjoint.py; the costs are then at the drawn
            angles themselves).
    """

    gates: NDArray[np.int8]
    params: NDArray[np.float64]
    grads: NDArray[np.float64]
    shot_var: NDArray[np.float64]
    shots: int
    job_id: str | None
    usage_seconds: float | None = None
    costs: NDArray[np.float64] | None = None
    cost_shot_var: NDArray[np.float64] | None = None
    peak_memory: int | None = None
    method: str = "shift"

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The arrays the store keeps for the job."""
        out: dict[str, NDArray[Any]] = {
            "gates": self.gates,
            "params": self.params,
            "grads": self.grads,
            "shot_var": self.shot_var,
        }
        if self.costs is not None and self.cost_shot_var is not None:
            out["costs"] = self.costs
            out["cost_shot_var"] = self.cost_shot_var
        if self.peak_memory is not None:
            out["peak_memory"] = np.array(self.peak_memory, dtype=np.int64)
        if self.method == ADJOINT:  # shift jobs store no marker: their bytes stay as they were
            out["adjoint"] = np.array(1, dtype=np.int8)
        return out


def plan_cells(spec: StudySpec) -> list[Cell]:
    """Return the cells of a study, in sweep order."""
    return [Cell(n, layers) for n in spec.circuit.qubits for layers in spec.circuit.layer_counts(n)]


def plan_jobs(spec: StudySpec, cells: Iterable[Cell] | None = None) -> list[JobKey]:
    """Split every cell's samples into chunks."""
    chunk = spec.sampling.chunk
    total = spec.sampling.samples
    jobs = []
    for cell in cells if cells is not None else plan_cells(spec):
        for i, start in enumerate(range(0, total, chunk)):
            jobs.append(JobKey(cell, i, start, min(start + chunk, total)))
    return jobs


def job_seed(spec: StudySpec, job: JobKey) -> np.random.SeedSequence:
    """The job's random stream: a pure function of the study seed and the job identity."""
    key = (job.cell.num_qubits, job.cell.num_layers, job.index)
    return np.random.SeedSequence(spec.study.seed, spawn_key=key)


def job_key(job: JobKey) -> str:
    """The job's key in the store: ``n<n>_L<L>_c<index>``."""
    return f"n{job.cell.num_qubits}_L{job.cell.num_layers}_c{job.index}"


def job_of(rec: JobRecord) -> JobKey:
    """The job a store record describes."""
    return JobKey(Cell(rec.num_qubits, rec.num_layers), rec.index, rec.start, rec.stop)


def record_for(
    spec: StudySpec, job: JobKey, shots: int | None = None, *, key: str | None = None
) -> JobRecord:
    """The store record of a planned job (PENDING, attempts 0); ``key`` defaults to job_key."""
    n, layers = job.cell.num_qubits, job.cell.num_layers
    return JobRecord(
        study_id="",
        key=key or job_key(job),
        num_qubits=n,
        num_layers=layers,
        index=job.index,
        start=job.start,
        stop=job.stop,
        rng=(spec.study.seed, n, layers, job.index),
        backend=spec.backend.name,
        state=JobState.PENDING,
        attempts=0,
        shots_requested=spec.sampling.shots if shots is None else shots,
        shots_executed=None,
        remote_job_id=None,
        error=None,
        created_at=0.0,
        started_at=None,
        finished_at=None,
    )


def job_result(arrays: Mapping[str, NDArray[Any]], rec: JobRecord) -> JobResult:
    """A stored job's arrays and record as a :class:`JobResult`."""
    return JobResult(
        gates=arrays["gates"],
        params=arrays["params"],
        grads=arrays["grads"],
        shot_var=arrays["shot_var"],
        shots=int(rec.shots_executed or 0),
        job_id=rec.remote_job_id,
        # Stores written before costs were recorded hold none: Var[C] is then left out.
        costs=arrays.get("costs"),
        cost_shot_var=arrays.get("cost_shot_var"),
        peak_memory=int(np.ravel(arrays["peak_memory"])[0]) if "peak_memory" in arrays else None,
        method=ADJOINT if "adjoint" in arrays else "shift",
    )


@dataclasses.dataclass(frozen=True)
class BuiltJob:
    """A job ready to execute: its circuits, its single task, and its shot-sampling seed."""

    samples: CircuitSamples
    task: ExpectationTask
    seed: int
    family: CircuitFamily
    indices: NDArray[np.int64]


class JobBuilder:
    """Builds, executes and combines the jobs of one study.

    Each cell's circuits (:class:`~bp_qiskit.execution.families.CircuitFamily`: template,
    observable, drawing and shift rule) are built once per builder: the cache lives exactly
    as long as the study run that owns the builder, and a runtime backend's ISA transpiler
    (which caches by circuit object) then transpiles each cell once.
    """

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec
        self._cells: dict[Cell, CircuitFamily] = {}
        self._programs: dict[Cell, AdjointProgram | None] = {}
        self._pairs: dict[Cell, int] = {}

    def family(self, cell: Cell) -> CircuitFamily:
        """The cell's circuits."""
        if cell not in self._cells:
            self._cells[cell] = family_for(self.spec, cell)
        return self._cells[cell]

    def cell_objects(self, cell: Cell) -> tuple[QuantumCircuit, SparseObservable]:
        """The cell's template circuit and observable."""
        family = self.family(cell)
        return family.template, family.observable

    def build(self, job: JobKey, *, shots: int | None = None) -> BuiltJob:
        """Draw the job's circuits from its own stream and lay out every sample and shift."""
        spec = self.spec
        circuit_ss, shots_ss = job_seed(spec, job).spawn(2)
        family = self.family(job.cell)
        samples = family.draw(np.random.default_rng(circuit_ss), job.size)
        indices = gradient_indices(spec, family)
        n_shots = spec.sampling.shots if shots is None else shots
        task = ExpectationTask(
            family.template, family.observable, family.values(samples, indices), n_shots
        )
        return BuiltJob(samples, task, int(shots_ss.generate_state(1)[0]), family, indices)

    @staticmethod
    def combine(built: BuiltJob, ev: Evaluation) -> JobResult:
        """Gradients and their shot-noise variances from the evaluated shifts."""
        evs, stds = np.asarray(ev.evs), np.asarray(ev.stds)
        grads, shot_var = built.family.gradients(evs, stds, built.indices)
        costs = built.family.costs(evs, stds)
        return JobResult(
            gates=built.samples.gates,
            params=built.samples.params,
            grads=grads,
            shot_var=shot_var,
            shots=ev.shots,
            job_id=ev.job_id,
            usage_seconds=ev.usage_seconds,
            costs=None if costs is None else costs[0],
            cost_shot_var=None if costs is None else costs[1],
        )

    def execute(
        self,
        job: JobKey,
        backend: Backend,
        *,
        shots: int | None = None,
        on_submit: OnSubmit | None = None,
    ) -> JobResult:
        """Build the job, evaluate both shifts in one PUB, combine into gradients.

        ``shots`` overrides ``spec.sampling.shots`` (adaptive allocation changes N per round).
        """
        n_shots = self.spec.sampling.shots if shots is None else shots
        if wants_adjoint(self.spec.gradient.method, n_shots, backend):
            result = self.execute_adjoint(job)
            if result is not None:
                return result
        built = self.build(job, shots=shots)
        (ev,) = backend.evaluate([built.task], seed=built.seed, on_submit=on_submit)
        return self.combine(built, ev)

    def execute_adjoint(self, job: JobKey) -> JobResult | None:
        """The job's gradients by the adjoint pass, or None where it does not apply.

        The same draws as :meth:`build` (the job's circuit stream), the same shifted pairs
        and chain rule; no shots, so no shot stream is used. The costs are taken at the same
        point as on the shift path.
        """
        family = self.family(job.cell)
        indices = gradient_indices(self.spec, family)
        if job.cell not in self._pairs:
            # The shifted pairs per sample, from one throwaway draw: under ``auto`` a single
            # pair stays on the shift path, and is known before anything is compiled.
            probe = family.draw(np.random.default_rng(0), 1)
            self._pairs[job.cell] = family.values(probe, indices).shape[1]
        if self.spec.gradient.method != ADJOINT and self._pairs[job.cell] < 2:
            return None
        if job.cell not in self._programs:
            self._programs[job.cell] = compile_circuit(family.template)
        circuit_ss, _ = job_seed(self.spec, job).spawn(2)
        samples = family.draw(np.random.default_rng(circuit_ss), job.size)
        out = adjoint_gradients(
            self._programs[job.cell], family, samples, indices, self.spec.gradient.method
        )
        if out is None:
            return None
        diffs, costs = out
        grads, shot_var = family.chain_rule(diffs, np.zeros_like(diffs), indices)
        return JobResult(
            gates=samples.gates,
            params=samples.params,
            grads=grads,
            shot_var=shot_var,
            shots=0,
            job_id=None,
            costs=costs,
            cost_shot_var=None if costs is None else np.zeros_like(costs),
            method=ADJOINT,
        )


def assemble_cell(cell: Cell, results: Sequence[JobResult]) -> CellData:
    """Concatenate a cell's job results (given in chunk order)."""
    return CellData(
        cell=cell,
        gates=np.concatenate([r.gates for r in results]),
        params=np.concatenate([r.params for r in results]),
        grads=np.concatenate([r.grads for r in results]),
        shot_var=np.concatenate([r.shot_var for r in results]),
        shots=min((r.shots for r in results), default=0),
        costs=_joined([r.costs for r in results]),
        cost_shot_var=_joined([r.cost_shot_var for r in results]),
        peak_memory=_peak([r.peak_memory for r in results]),
        gradient_method=_method([r.method for r in results]),
    )


def _method(methods: Sequence[str]) -> str | None:
    """The cell's gradient method (None: parameter shift throughout)."""
    if ADJOINT not in methods:
        return None
    return ADJOINT if set(methods) == {ADJOINT} else "adjoint, shift"


def _peak(parts: Sequence[int | None]) -> int | None:
    """The largest measured peak of a cell's jobs, or None when none was measured."""
    known = [p for p in parts if p is not None]
    return max(known) if known else None


def _joined(parts: Sequence[NDArray[np.float64] | None]) -> NDArray[np.float64] | None:
    """Concatenate per-job arrays, or None when any job lacks them (an older store)."""
    if not parts or any(p is None for p in parts):
        return None
    return np.concatenate([p for p in parts if p is not None])
