"""A study as build -> execute -> combine: cells and jobs, one job's evaluation, assembly.

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
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from .backends import EstimatorBackend, Evaluation, ExpectationTask, make_backend
from .circuits import CircuitSamples, draw_samples, template_circuit, template_values
from .gradients import combine_shifts, parameter_indices, shift_parameters, shot_noise_variance
from .observables import make_observable
from .spec import StudySpec

__all__ = [
    "BuiltJob",
    "Cell",
    "CellData",
    "JobKey",
    "JobResult",
    "assemble_cell",
    "build_job",
    "combine_job",
    "execute_job",
    "job_seed",
    "plan_cells",
    "plan_jobs",
]


@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    """One point of the sweep."""

    num_qubits: int
    num_layers: int

    @property
    def tag(self) -> str:
        """Suffix used in ``samples.npz`` keys: ``<n>_<L>``."""
        return f"{self.num_qubits}_{self.num_layers}"


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
    """

    gates: NDArray[np.int8]
    params: NDArray[np.float64]
    grads: NDArray[np.float64]
    shot_var: NDArray[np.float64]
    shots: int
    job_id: str | None
    usage_seconds: float | None = None


def plan_cells(spec: StudySpec) -> list[Cell]:
    """Return the cells of a study, in sweep order."""
    return [Cell(n, spec.circuit.num_layers(n)) for n in spec.circuit.qubits]


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


@dataclasses.dataclass
class _CellCache:
    circuit: QuantumCircuit
    observable: SparseObservable


_CACHE: dict[tuple[str, int, int, str], _CellCache] = {}


def _cell_objects(spec: StudySpec, cell: Cell) -> _CellCache:
    key = (spec.circuit.ansatz, cell.num_qubits, cell.num_layers, repr(spec.observable))
    if key not in _CACHE:
        circuit = template_circuit(cell.num_qubits, cell.num_layers, ansatz=spec.circuit.ansatz)
        _CACHE[key] = _CellCache(circuit, make_observable(spec.observable, cell.num_qubits))
    return _CACHE[key]


@dataclasses.dataclass(frozen=True)
class BuiltJob:
    """A job ready to execute: its circuits, its single task, and its shot-sampling seed."""

    samples: CircuitSamples
    task: ExpectationTask
    seed: int


def build_job(spec: StudySpec, job: JobKey, *, shots: int | None = None) -> BuiltJob:
    """Draw the job's circuits from its own stream and lay out every sample and shift."""
    circuit_ss, shots_ss = job_seed(spec, job).spawn(2)
    cell = job.cell
    samples = draw_samples(
        np.random.default_rng(circuit_ss),
        job.size,
        cell.num_qubits,
        cell.num_layers,
        ansatz=spec.circuit.ansatz,
        angles=spec.circuit.angles,
    )
    indices = parameter_indices(spec.gradient.parameter, cell.num_qubits * cell.num_layers)
    shifted = shift_parameters(samples.params, indices)
    objs = _cell_objects(spec, cell)
    n_shots = spec.sampling.shots if shots is None else shots
    task = ExpectationTask(
        objs.circuit, objs.observable, template_values(samples.gates, shifted), n_shots
    )
    return BuiltJob(samples, task, int(shots_ss.generate_state(1)[0]))


def combine_job(built: BuiltJob, ev: Evaluation) -> JobResult:
    """Gradients and their shot-noise variances from the evaluated shifts."""
    return JobResult(
        gates=built.samples.gates,
        params=built.samples.params,
        grads=combine_shifts(ev.evs),
        shot_var=shot_noise_variance(ev.stds),
        shots=ev.shots,
        job_id=ev.job_id,
        usage_seconds=ev.usage_seconds,
    )


def execute_job(
    spec: StudySpec,
    job: JobKey,
    backend: EstimatorBackend,
    *,
    shots: int | None = None,
    on_submit: Callable[[str], None] | None = None,
) -> JobResult:
    """Build the job's circuits, evaluate both shifts in one PUB, combine into gradients.

    ``shots`` overrides ``spec.sampling.shots`` (adaptive allocation changes N per round).
    """
    built = build_job(spec, job, shots=shots)
    (ev,) = backend.evaluate([built.task], seed=built.seed, on_submit=on_submit)
    return combine_job(built, ev)


@dataclasses.dataclass(frozen=True)
class CellData:
    """All samples of a cell, concatenated in job order."""

    cell: Cell
    gates: NDArray[np.int8]
    params: NDArray[np.float64]
    grads: NDArray[np.float64]
    shot_var: NDArray[np.float64]
    shots: int


def assemble_cell(cell: Cell, results: Sequence[JobResult]) -> CellData:
    """Concatenate a cell's job results (given in chunk order)."""
    return CellData(
        cell=cell,
        gates=np.concatenate([r.gates for r in results]),
        params=np.concatenate([r.params for r in results]),
        grads=np.concatenate([r.grads for r in results]),
        shot_var=np.concatenate([r.shot_var for r in results]),
        shots=min((r.shots for r in results), default=0),
    )


def backend_for(spec: StudySpec, *, tags: Sequence[str] = ()) -> EstimatorBackend:
    """The backend named by the spec (``tags`` are added to runtime jobs)."""
    return make_backend(spec.backend.name, options=spec.backend.options, tags=tags)  # type: ignore[return-value]
