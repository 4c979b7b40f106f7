"""A batched Estimator V2 on Aer: exact expectations or real sampled shots, projectors native.

Why not qiskit-aer's own ``EstimatorV2``? Two measured reasons (see ``docs/concepts.md``):

1. It only takes Pauli observables, so ``|0...0><0...0|`` must be expanded into 2**n Pauli
   strings (52x slower at 10 qubits, unusable beyond).
2. Its ``precision > 0`` does not sample: it adds Gaussian noise to the exact value. A
   gradient-variance study needs the real shot distribution (Bernoulli for a projector).

:class:`AerEstimator` implements :class:`~qiskit.primitives.BaseEstimatorV2` and evaluates
each PUB in one ``AerSimulator`` run with runtime parameter binding (every binding of the
PUB shares the compiled circuit):

- exact (precision 0 or ``default_shots == 0``): projector terms over all qubits are read as
  one squared amplitude, other diagonal terms from the marginal probabilities of their
  qubits, Pauli terms through ``save_expectation_value``. Cost stays O(2**n) per binding.
- shots (precision p > 0 means N = round(1 / p**2) shots, or ``default_shots``): the circuit is
  measured in the computational basis (after basis changes for X/Y terms, grouped qubit-wise)
  and every observable is evaluated *per shot*, so the returned ``stds`` is the exact standard
  error of the mean from the sampled outcomes: ``stds**2 = s**2 / N`` with s**2 the unbiased
  single-shot variance, correlations between terms of one group included.

``stds`` is 0 for exact values. ``metadata["shots"]`` is the number of shots executed per
value (0 for exact).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import BaseEstimatorV2, DataBin, EstimatorPub, PrimitiveResult, PubResult
from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.primitives.containers.estimator_pub import EstimatorPubLike
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparseObservable
from qiskit_aer import AerSimulator

from .aer_readout import (
    ExactPlan,
    ShotGroup,
    confused,
    counts_by_value,
    exact_plan,
    moments,
    outcome_values,
    readout_confusion,
    shot_groups,
    two_valued,
)
from .aer_reads import active_qubits, arrange, has_expressions, light_cone, reads_for
from .batched import evaluate as evaluate_batched
from .batched import worth_it as batched_worth_it
from .fused import evaluate as evaluate_fused
from .fused import worth_it as fused_worth_it
from .protocol import precision_to_shots, shots_to_precision

__all__ = ["AerEstimator"]

# Bound on simultaneously simulated statevectors (bytes). Aer runs all bindings of a call
# together; 400 bindings at 20 qubits peaked at 6.5 GB, so larger PUBs are split.
_DEFAULT_MAX_STATE_BYTES = 1 << 30
# Groups on up to this many qubits are sampled from their marginal distribution (2**k floats
# per binding); larger ones go through Aer's measurement sampling.
_MAX_PROB_QUBITS = 12
_SAMPLERS = ("auto", "aer")


class _DoneJob(BasePrimitiveJob[PrimitiveResult[PubResult], JobStatus]):
    """A job that has already run: local simulation is synchronous."""

    def __init__(self, result: PrimitiveResult[PubResult]) -> None:
        super().__init__(job_id=f"aer-{id(result):x}")
        self._result = result

    def result(self) -> PrimitiveResult[PubResult]:
        return self._result

    def status(self) -> JobStatus:
        return JobStatus.DONE

    def done(self) -> bool:
        return True

    def running(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def in_final_state(self) -> bool:
        return True

    def cancel(self) -> None:
        return None


class AerEstimator(BaseEstimatorV2):
    """Estimator V2 on ``AerSimulator`` with native projectors and real shot sampling.

    Args:
        default_shots: Shots per value when neither the PUB nor ``run`` sets a precision;
            0 gives exact expectation values.
        seed: Seed for shot sampling. Each ``run`` call and each PUB inside it gets its own
            stream spawned from it, so no two PUBs share noise.
        backend_options: Extra ``AerSimulator`` options.
        max_state_bytes: Bound on the memory of simultaneously simulated states.
        sampler: ``"auto"`` draws the N shots of each binding from the exact outcome
            distribution that Aer computes (binomial / multinomial: the same distribution as N
            measurements, at the cost of an exact run); ``"aer"`` always uses Aer's
            measurement sampling. Both are real shot noise.
        simulator: A preconfigured ``AerSimulator`` instead of the default one, e.g.
            ``AerSimulator.from_backend(fake, method="density_matrix")`` for exact noisy
            expectations (then noisy shots are drawn from the exact noisy distribution).
    """

    def __init__(
        self,
        *,
        default_shots: int = 0,
        seed: int | None = None,
        backend_options: dict[str, Any] | None = None,
        max_state_bytes: int = _DEFAULT_MAX_STATE_BYTES,
        sampler: str = "auto",
        simulator: AerSimulator | None = None,
    ) -> None:
        if (
            isinstance(default_shots, bool)
            or not isinstance(default_shots, int)
            or default_shots < 0
        ):
            raise ValueError(f"default_shots: got {default_shots!r}; allowed: an integer >= 0")
        if sampler not in _SAMPLERS:
            raise ValueError(f"sampler: got {sampler!r}; allowed: {', '.join(_SAMPLERS)}")
        self._sampler = sampler
        self._default_shots = default_shots
        self._seed = seed
        self._calls = 0
        self._max_state_bytes = max_state_bytes
        if simulator is not None:
            self._sim = simulator
        else:
            opts: dict[str, Any] = {"method": "statevector", "runtime_parameter_bind_enable": True}
            opts.update(backend_options or {})
            self._sim = AerSimulator(**opts)
        self._density = self._sim.options.method == "density_matrix"
        # Small noiseless statevector runs go through one vectorised numpy pass instead
        # (backends/batched.py); Aer remains the path for everything else.
        self._batched = (
            simulator is None
            and self._sim.options.method == "statevector"
            and self._sim.options.device == "CPU"
            and self._sim.options.noise_model is None
        )
        self._mps = self._sim.options.method == "matrix_product_state"
        # The device's readout errors, which the exact-probability routes apply themselves.
        self._confusion = readout_confusion(self._sim.options.noise_model)

    @property
    def default_shots(self) -> int:
        """Shots used when no precision is given (0 = exact)."""
        return self._default_shots

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> BasePrimitiveJob[PrimitiveResult[PubResult], JobStatus]:
        """Evaluate the PUBs synchronously and return a finished job."""
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        call = self._calls
        self._calls += 1
        results = [self._run_pub(pub, (call, i)) for i, pub in enumerate(coerced)]
        return _DoneJob(PrimitiveResult(results, metadata={"version": 2}))

    # -- internals ---------------------------------------------------------------------------

    def _prepare(self, circuit: QuantumCircuit, sim: AerSimulator) -> QuantumCircuit:
        supported = set(sim.configuration().basis_gates) | {"barrier"}
        if any(inst.operation.name not in supported for inst in circuit.data):
            circuit = transpile(circuit, sim, optimization_level=0)
        return circuit

    def _bindings(self, pub: EstimatorPub) -> tuple[NDArray[np.float64], tuple[int, ...]]:
        values = pub.parameter_values
        params = list(pub.circuit.parameters)
        shape = values.shape
        if not params:  # one binding per point of the shape, with nothing in it
            return np.zeros((math.prod(shape), 0)), shape
        return values.as_array(params).reshape(-1, len(params)), shape

    def _chunks(self, num_bindings: int, num_qubits: int) -> list[slice]:
        if self._mps:
            # An MPS holds n tensors of 2 x chi x chi amplitudes; chi is not known before the
            # run, so budget for chi = 64 (a shallow circuit stays far below it).
            per_state = 16 * 2 * 64 * 64 * max(1, num_qubits)
        else:
            per_state = 16 << (2 * num_qubits if self._density else num_qubits)
        per = max(1, self._max_state_bytes // per_state)
        return [slice(i, min(i + per, num_bindings)) for i in range(0, num_bindings, per)]

    def _simulate(
        self,
        sim: AerSimulator,
        circuit: QuantumCircuit,
        flat: NDArray[np.float64],
        chunk: slice,
        **run_options: Any,
    ) -> list[Any]:
        params = list(circuit.parameters)
        rows = flat[chunk]
        if params:
            binds = [{p: rows[:, j] for j, p in enumerate(params)}]
            res = sim.run(circuit, parameter_binds=binds, **run_options).result()
        else:
            res = sim.run(circuit, **run_options).result()
        if not res.success:
            raise RuntimeError(f"Aer simulation failed: {res.status}")
        return [r.data.to_dict() for r in res.results]

    def _run_pub(self, pub: EstimatorPub, key: tuple[int, int]) -> PubResult:
        shots = self._default_shots if pub.precision is None else precision_to_shots(pub.precision)
        flat, bshape = self._bindings(pub)
        obs_list = list(pub.observables.sparse_observables_array().ravel())
        if shots == 0:
            table, stds_table = self._exact(pub.circuit, obs_list, flat), None
        else:
            table, stds_table = self._sampled(pub.circuit, obs_list, flat, shots, key)
        oshape = pub.observables.shape
        shape = np.broadcast_shapes(oshape, bshape)
        oi = np.broadcast_to(np.arange(len(obs_list)).reshape(oshape), shape)
        bi = np.broadcast_to(np.arange(flat.shape[0]).reshape(bshape), shape)
        evs = table[oi, bi]
        stds = np.zeros(shape) if stds_table is None else stds_table[oi, bi]
        data = DataBin(evs=evs, stds=stds, shape=shape)
        meta = {
            "target_precision": shots_to_precision(shots),
            "shots": shots,
            "circuit_metadata": pub.circuit.metadata,
            # how it was simulated: the contract checks that backend.options.method arrives
            "simulator_method": self._sim.options.method,
        }
        return PubResult(data, metadata=meta)

    def _exact(
        self,
        circuit: QuantumCircuit,
        observables: Sequence[SparseObservable],
        flat: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        sim = self._sim
        base = self._prepare(circuit, sim)
        n = base.num_qubits
        plans = [exact_plan(o) for o in observables]  # once: both paths read them
        if self._batched:
            values = self._numpy_pass(base, plans, flat)
            if values is not None:
                return values
        # Saved on the observable's own qubits, not on all n, Aer drops the qubits outside the
        # observable's light cone (its truncation pass) and simulates fewer. Not on circuits
        # whose gates carry parameter expressions (ISA circuits: rz(theta + pi)): there Aer
        # 0.18's truncation returned wrong values (tests/test_hardware.py caught it).
        truncate = not has_expressions(base)
        reads = [r for i, plan in enumerate(plans) for r in reads_for(plan, i, n)]
        if truncate and sim.options.method == "statevector":
            runs = arrange(base, reads)
        else:
            # One run. Split per light cone, Aer 0.18's matrix-product-state method crashed
            # (SIGSEGV, jobs/alternating_mps.toml); density matrices are left as they were.
            runs = [(reads, active_qubits(base))]
        out = np.zeros((len(observables), flat.shape[0]))
        for run_reads, width in runs:
            qc = base.copy()
            for j, read in enumerate(run_reads):
                read.save(qc, f"r{j}", truncate)
            for chunk in self._chunks(flat.shape[0], width):
                datas = self._simulate(sim, qc, flat, chunk)
                for j, read in enumerate(run_reads):
                    # One array per saved quantity over the chunk's bindings, one product
                    # each: the per-binding loop this replaced took 7% of the seed's compute.
                    out[read.index, chunk] += read.value([d[f"r{j}"] for d in datas])
        for i, plan in enumerate(plans):
            out[i] += plan.constant
        return out

    def _numpy_pass(
        self, base: QuantumCircuit, plans: list[ExactPlan], flat: NDArray[np.float64]
    ) -> NDArray[np.float64] | None:
        """The values by one of the numpy passes where it beats Aer; None where it does not."""
        n = base.num_qubits
        if batched_worth_it(base):
            out = np.empty((len(plans), flat.shape[0]))
            for chunk in self._chunks(flat.shape[0], n):
                values = evaluate_batched(base, plans, flat[chunk])
                if values is None:  # a gate or angle only Aer handles
                    return None
                out[:, chunk] = values
            return out
        # Only where the observables' light cones cover the register: Aer simulates no qubit
        # outside them, and this pass simulates all.
        if not fused_worth_it(base):
            return None
        read = {q for i, plan in enumerate(plans) for r in reads_for(plan, i, n) for q in r.qubits}
        if len(light_cone(base, read)) == n:
            return evaluate_fused(base, plans, flat)
        return None

    def _sampled(
        self,
        circuit: QuantumCircuit,
        observables: Sequence[SparseObservable],
        flat: NDArray[np.float64],
        shots: int,
        key: tuple[int, int],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        base = self._prepare(circuit, self._sim)
        num_b = flat.shape[0]
        means = np.zeros((len(observables), num_b))
        variances = np.zeros((len(observables), num_b))  # of the mean, summed over groups
        for i, obs in enumerate(observables):
            constant, groups = shot_groups(obs)
            means[i] += constant
            for gi, group in enumerate(groups):
                ss = np.random.SeedSequence(self._seed, spawn_key=(*key, i, gi))
                counts, values = self._sample_group(base, group, flat, shots, ss)
                m, v = moments(counts, values, shots)
                means[i] += m
                variances[i] += v
        return means, np.sqrt(variances)

    def _sample_group(
        self,
        base: QuantumCircuit,
        group: ShotGroup,
        flat: NDArray[np.float64],
        shots: int,
        ss: np.random.SeedSequence,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Counts (B, V) of the group's per-shot values ``values`` (V,) in N shots per binding.

        Three routes, all drawing N independent outcomes from the exact Born distribution,
        read through the noise model's readout errors where it has them:
        a two-valued observable (one Pauli string or one projector term) is Binomial with the
        success probability given by its exact expectation; a group on at most
        ``_MAX_PROB_QUBITS`` qubits is Multinomial over the marginal probabilities of those
        qubits; anything else is sampled by Aer's own measurement sampling (slower: about
        0.5 us per shot).
        """
        n = base.num_qubits
        rng = np.random.default_rng(ss)
        qubits = sorted(group.basis)
        two = two_valued(group)
        # A readout error on a measured qubit makes the outcome depend on more than the
        # exact expectation (an asymmetric one shifts it too): the multinomial route below.
        misread = any(q in self._confusion for q in qubits)
        if self._sampler == "auto" and two is not None and not misread:
            lo, hi = two
            obs = SparseObservable.from_sparse_list(group.terms, n)
            expect = self._exact(base, [obs], flat)[0]
            p_hi = np.clip((expect - lo) / (hi - lo), 0.0, 1.0)
            k = rng.binomial(shots, p_hi)
            return np.stack([shots - k, k], axis=1).astype(float), np.array([lo, hi])
        rotated = base.copy()
        for q, b in group.basis.items():
            if b == "X":
                rotated.h(q)
            elif b == "Y":
                rotated.sdg(q)
                rotated.h(q)
        if self._sampler == "auto" and len(qubits) <= _MAX_PROB_QUBITS:
            local = ShotGroup(
                {i: "Z" for i in range(len(qubits))},
                [(lbl, [qubits.index(q) for q in qs], c) for lbl, qs, c in group.terms],
            )
            values = outcome_values(local, np.arange(1 << len(qubits)))
            rotated.save_probabilities(qubits, label="probs")
            counts = np.empty((flat.shape[0], 1 << len(qubits)))
            for chunk in self._chunks(flat.shape[0], active_qubits(rotated)):
                datas = self._simulate(self._sim, rotated, flat, chunk)
                probs = np.clip(np.array([d["probs"] for d in datas]), 0.0, None)
                probs /= probs.sum(axis=1, keepdims=True)
                if misread:
                    probs = confused(probs, qubits, self._confusion)
                counts[chunk] = rng.multinomial(shots, probs)
            return counts, values
        rotated.measure_all()
        blocks = []
        for chunk in self._chunks(flat.shape[0], active_qubits(rotated)):
            seed = int(rng.integers(0, 2**31 - 1))
            datas = self._simulate(
                self._sim, rotated, flat, chunk, shots=shots, seed_simulator=seed
            )
            blocks.append(counts_by_value(group, datas))
        all_values = np.unique(np.concatenate([v for _, v in blocks]))
        counts = np.zeros((flat.shape[0], len(all_values)))
        row = 0
        for c, v in blocks:
            counts[row : row + len(c), np.searchsorted(all_values, v)] = c
            row += len(c)
        return counts, all_values
