"""Bring your own circuit: the gradient variance of any parameterised Qiskit circuit.

:func:`gradient_variance` takes a ``QuantumCircuit`` (``n_local``, ``efficient_su2``, a
hand-built ansatz) and an observable (``SparsePauliOp``, ``SparseObservable`` or a Pauli
label), draws ``samples`` parameter vectors uniformly from ``angles``, and returns the cost
and the gradient at each, with the same shot-noise-corrected variance statistics as the
random-circuit studies.

Why the general shift rule: the two-term parameter-shift rule holds for a gate
exp(-i a P / 2) with P a Pauli and a the gate's angle. A parameter that enters several
gates, or enters through an expression (2t, t + s), is differentiated by the chain rule: every
*occurrence* gets its own angle phi_j = e_j(theta), is shifted by +-pi/2 on its own, and

    dC/dtheta_k = sum_j (de_j/dtheta_k) * (C(phi_j + pi/2) - C(phi_j - pi/2)) / 2.

So the circuit is first rewritten with one fresh parameter per occurrence (gates are
decomposed until each is a Pauli rotation: rx, ry, rz, rxx, ryy, rzz, rzx, or p, which is rz
up to a global phase), and each occurrence's expression must be linear in the parameters.
Gates with a non-Pauli generator (crx, cu, ...) are decomposed into Pauli rotations when
their definition allows; otherwise the error names the gate. All evaluations of one call
(every sample, its cost, and both shifts of every occurrence of a differentiated parameter)
are one PUB.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.quantum_info import SparseObservable, SparsePauliOp

from ..backends import Backend, ExpectationTask, make_backend
from ..backends.adjoint import compile_circuit, gradients, wants_adjoint
from ..backends.remote import PricedBackend
from ..core.statistics import corrected_variance
from ..errors import CostLimitError, SpecError
from .pricing import PER_JOB_S, CostEstimate, check_cost, mitigation_overhead, price_of

__all__ = [
    "GradientVariance",
    "as_observable",
    "chosen_parameters",
    "expand_occurrences",
    "gradient_variance",
    "occurrence_offsets",
    "touched_occurrences",
]

# Gates whose angle a enters as exp(-i a P / 2) for one Pauli string P (p: rz up to phase).
PAULI_ROTATIONS = frozenset({"rx", "ry", "rz", "rxx", "ryy", "rzz", "rzx", "p"})
_MAX_DECOMPOSE = 8


@dataclasses.dataclass(frozen=True)
class GradientVariance:
    """The gradient statistics of one circuit and observable.

    Attributes:
        parameters: Names of the differentiated parameters, in ``circuit.parameters`` order.
        params: The drawn angles, shape (samples, circuit.num_parameters).
        grads: The gradients, shape (samples, K).
        costs: The cost at the drawn angles, shape (samples,).
        shot_var: Shot-noise variance of each gradient, shape (samples, K) (0 when exact).
        variance: Shot-noise-corrected variance of each gradient, shape (K,).
        variance_se: Its standard error, shape (K,).
        cost_variance: Variance of the cost over the draws (cost concentration), shot-noise
            corrected like ``variance``.
        shots: Shots per evaluation (0 = exact).
        job_ids: The QPU job ids this call submitted (empty on a simulator).
        qpu_seconds_estimate: What the cost gate priced the call at (None on a simulator).
        method: ``"shift"`` or ``"adjoint"``: how the gradients were taken (``method=``).
    """

    parameters: tuple[str, ...]
    params: NDArray[np.float64]
    grads: NDArray[np.float64]
    costs: NDArray[np.float64]
    shot_var: NDArray[np.float64]
    variance: NDArray[np.float64]
    variance_se: NDArray[np.float64]
    cost_variance: float
    shots: int
    job_ids: tuple[str, ...] = ()
    qpu_seconds_estimate: float | None = None
    method: str = "shift"

    @property
    def mean_variance(self) -> float:
        """The gradient variance averaged over the differentiated parameters."""
        return float(np.mean(self.variance))


def _flatten(circuit: QuantumCircuit) -> QuantumCircuit:
    """Decompose until every parameterised gate is a Pauli rotation (or nothing changes)."""
    for _ in range(_MAX_DECOMPOSE):
        bad = [
            i.operation.name
            for i in circuit.data
            if i.operation.params
            and any(isinstance(p, ParameterExpression) for p in i.operation.params)
            and i.operation.name not in PAULI_ROTATIONS
        ]
        if not bad:
            return circuit
        flat = circuit.decompose(gates_to_decompose=sorted(set(bad)))
        if flat == circuit:
            break
        circuit = flat
    raise SpecError(
        f"circuit: gate {bad[0]!r} has a parameter but no decomposition into Pauli rotations "
        f"({', '.join(sorted(PAULI_ROTATIONS))}); the parameter-shift rule needs them"
    )


def expand_occurrences(
    circuit: QuantumCircuit,
) -> tuple[QuantumCircuit, list[ParameterExpression], NDArray[np.float64]]:
    """One fresh parameter per occurrence of a parameter in a Pauli rotation.

    Returns:
        The rewritten circuit (parameters ``phi[0..J-1]``), each occurrence's expression in
        the original parameters, and the chain-rule matrix ``c`` of shape (J, P) with
        ``c[j, k] = d e_j / d theta_k`` (P = circuit.num_parameters, in its order).
    """
    flat = _flatten(circuit)
    originals = list(circuit.parameters)
    index = {p: k for k, p in enumerate(originals)}
    exprs: list[ParameterExpression] = []
    for inst in flat.data:
        for p in inst.operation.params:
            if isinstance(p, ParameterExpression) and p.parameters:
                exprs.append(p)
    phi = ParameterVector("phi", len(exprs))
    return _one_parameter_per_occurrence(flat, phi), exprs, _chain_rule(exprs, index)


def _one_parameter_per_occurrence(flat: QuantumCircuit, phi: ParameterVector) -> QuantumCircuit:
    """``flat`` with its parameterised angles replaced by phi[0], phi[1], ... in order."""
    out = flat.copy_empty_like()
    j = 0
    for inst in flat.data:
        op = inst.operation
        params = list(op.params)
        changed = False
        for i, p in enumerate(params):
            if isinstance(p, ParameterExpression) and p.parameters:
                params[i] = phi[j]
                j += 1
                changed = True
        if changed:
            op = op.copy()
            op.params = params
        out.append(op, inst.qubits, inst.clbits)
    return out


def _chain_rule(
    exprs: Sequence[ParameterExpression], index: dict[Parameter, int]
) -> NDArray[np.float64]:
    """c[j, k] = d e_j / d theta_k; an angle that is not linear in a parameter is refused."""
    chain = np.zeros((len(exprs), len(index)))
    for j, e in enumerate(exprs):
        for p in e.parameters:
            d = e.gradient(p)
            if isinstance(d, ParameterExpression):
                raise SpecError(
                    f"circuit: the angle {e} is not linear in {p}; the shift rule needs "
                    "angles linear in the parameters"
                )
            chain[j, index[p]] = float(d)
    return chain


def occurrence_offsets(exprs: Sequence[ParameterExpression]) -> NDArray[np.float64]:
    """Each occurrence's angle at all-zero parameters (the constant of a linear expression)."""
    return np.array([float(e.bind(dict.fromkeys(e.parameters, 0.0))) for e in exprs])


def touched_occurrences(
    chain: NDArray[np.float64], chosen: Sequence[int] | NDArray[np.int64]
) -> NDArray[np.int64]:
    """The occurrences whose angle depends on any of the ``chosen`` parameters."""
    return np.flatnonzero(np.any(chain[:, list(chosen)] != 0.0, axis=1))


def chosen_parameters(
    originals: Sequence[Parameter], parameters: Sequence[Parameter | int] | None
) -> list[int]:
    """Indices into ``originals`` of the parameters asked for (objects or indices; all)."""
    if parameters is None:
        return list(range(len(originals)))
    out = []
    for p in parameters:
        k = p if isinstance(p, int) else originals.index(p) if p in originals else -1
        if not 0 <= k < len(originals):
            raise SpecError(f"parameters: {p!r} is not a parameter of the circuit")
        out.append(k)
    return out


def as_observable(observable: Any, num_qubits: int) -> SparseObservable:
    """A SparseObservable from a SparsePauliOp, SparseObservable or label, size-checked."""
    if isinstance(observable, SparseObservable):
        obs = observable
    elif isinstance(observable, SparsePauliOp):
        obs = SparseObservable.from_sparse_pauli_op(observable)
    elif isinstance(observable, str):
        obs = SparseObservable(observable)
    else:
        raise SpecError(
            "observable: give a SparsePauliOp, a SparseObservable or a Pauli label, got "
            f"{type(observable).__name__}"
        )
    if obs.num_qubits != num_qubits:
        raise SpecError(
            f"observable: acts on {obs.num_qubits} qubits; the circuit has {num_qubits}"
        )
    return obs


def _checked_inputs(
    circuit: QuantumCircuit, samples: int, angles: tuple[float, float]
) -> tuple[float, float]:
    """One line per bad argument; the angle range as floats."""
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 2:
        raise SpecError(f"samples: got {samples!r}; allowed: an integer >= 2")
    if circuit.num_parameters == 0:
        raise SpecError("circuit: has no parameters to differentiate")
    low, high = (float(a) for a in angles)
    if not high > low:
        raise SpecError(f"angles: got {angles!r}; allowed: (low, high) with high > low")
    return low, high


def gradient_variance(
    circuit: QuantumCircuit,
    observable: Any,
    *,
    samples: int,
    seed: int,
    backend: str | Backend = "aer",
    shots: int = 0,
    parameters: Sequence[Parameter | int] | None = None,
    angles: tuple[float, float] = (0.0, 2 * math.pi),
    max_qpu_seconds: float | None = None,
    approve_cost: bool = False,
    on_submit: Callable[[str], None] | None = None,
    method: str = "auto",
) -> GradientVariance:
    """The gradient variance of ``observable`` on ``circuit`` over uniformly drawn angles.

    Args:
        circuit: Any parameterised circuit of Pauli rotations (after decomposition).
        observable: ``SparsePauliOp``, ``SparseObservable`` or a Pauli label.
        samples: Parameter vectors drawn (>= 2).
        seed: Seed of the draws and of the shot sampling: the same seed, the same bytes.
        backend: A backend name (``aer``, ``statevector``, ``aer:<device>``, ...) or object.
        shots: Shots per evaluation (0 = exact).
        parameters: The parameters to differentiate (objects or indices into
            ``circuit.parameters``); all by default.
        angles: Every parameter is drawn uniformly from [low, high).
        max_qpu_seconds: On a QPU backend (``ibm:<name>``): the most QPU seconds the call may
            spend, by the same estimate as the CLI's cost gate. A QPU call needs this or
            ``approve_cost``; without either it submits nothing.
        approve_cost: Submit to a QPU whatever the estimate.
        on_submit: Called with each QPU job id the moment it exists (persist it there: the
            job keeps running, and billing, if this process dies).
        method: ``"shift"`` (the shift rule through the backend), ``"adjoint"`` (one forward
            and one backward pass, backends/adjoint.py: exact noiseless statevector only), or
            ``"auto"``: adjoint where it applies and more than one occurrence is shifted.

    Returns:
        A :class:`GradientVariance`.

    Raises:
        CostLimitError: On a QPU, without ``max_qpu_seconds`` or ``approve_cost``, or when
            the estimate is above ``max_qpu_seconds``.
    """
    low, high = _checked_inputs(circuit, samples, angles)
    originals = list(circuit.parameters)
    chosen = chosen_parameters(originals, parameters)
    obs = as_observable(observable, circuit.num_qubits)
    expanded, exprs, chain = expand_occurrences(circuit)
    draw_ss, shots_ss = np.random.SeedSequence(seed).spawn(2)
    theta = np.random.default_rng(draw_ss).uniform(low, high, size=(samples, len(originals)))
    # phi_j = e_j(theta): linear, so phi = theta @ c^T + offset (offset = e_j at theta = 0).
    phi = theta @ chain.T + occurrence_offsets(exprs)
    # Only the occurrences of the differentiated parameters are shifted: the rest have
    # de_j/dtheta_k = 0, and shifting them would cost 2 evaluations each for nothing (one
    # parameter of a 195-rotation circuit: 3 evaluations per sample instead of 391).
    touched = touched_occurrences(chain, chosen)
    values = np.repeat(phi[:, None, :], 1 + 2 * len(touched), axis=1)
    for i, j in enumerate(touched):
        values[:, 1 + 2 * i, j] += math.pi / 2
        values[:, 2 + 2 * i, j] -= math.pi / 2
    own = isinstance(backend, str)
    be: Backend = (
        make_backend(backend, tags=["bp_qiskit:gradient_variance"])
        if isinstance(backend, str)
        else backend
    )
    if wants_adjoint(method, shots, be, field="method") and (
        method == "adjoint" or len(touched) > 1
    ):
        program = compile_circuit(expanded)
        if program is None and method == "adjoint":
            raise SpecError(
                "method: got 'adjoint'; allowed: 'auto' or 'shift' for this circuit (a gate or "
                "angle the adjoint pass does not take)"
            )
        if program is not None:
            if own:
                be.close()
            # The expanded circuit's columns are the occurrences: phi is its binding.
            costs, occ = gradients(program, obs, phi, touched)
            c = chain[np.ix_(touched, np.asarray(chosen, dtype=np.int64))]
            return _summary(originals, chosen, c, theta, costs,
                            occ, np.zeros_like(occ), 0, (), None, "adjoint")  # fmt: skip
    task = ExpectationTask(expanded, obs, values, shots)
    job_ids: list[str] = []
    estimate = None

    def persist(job_id: str) -> None:
        job_ids.append(job_id)
        if on_submit is not None:
            on_submit(job_id)

    try:
        if be.capabilities.remote:
            estimate = _qpu_gate(be, task, max_qpu_seconds, approve_cost)
        (ev,) = be.evaluate([task], seed=int(shots_ss.generate_state(1)[0]), on_submit=persist)
    finally:
        if own:
            be.close()
    evs, stds = np.asarray(ev.evs), np.asarray(ev.stds)
    occ = (evs[:, 1::2] - evs[:, 2::2]) / 2  # (S, T) per-occurrence derivatives
    occ_var = (stds[:, 1::2] ** 2 + stds[:, 2::2] ** 2) / 4
    c = chain[np.ix_(touched, np.asarray(chosen, dtype=np.int64))]  # (T, K)
    return _summary(originals, chosen, c, theta, evs[:, 0], occ, occ_var, int(ev.shots),
                    tuple(job_ids), estimate, "shift", cost_shot_var=stds[:, 0] ** 2)  # fmt: skip


def _summary(
    originals: Sequence[Parameter],
    chosen: Sequence[int],
    c: NDArray[np.float64],
    theta: NDArray[np.float64],
    costs: NDArray[np.float64],
    occ: NDArray[np.float64],
    occ_var: NDArray[np.float64],
    shots: int,
    job_ids: tuple[str, ...],
    estimate: float | None,
    method: str,
    cost_shot_var: NDArray[np.float64] | None = None,
) -> GradientVariance:
    """The chain rule over the occurrences (``c``: (T, K)) and the variance statistics.

    With shots, both variances are shot-noise corrected: each sample's estimated shot
    variance is taken off, as the studies do
    (:func:`~bp_qiskit.core.statistics.corrected_variance`).
    """
    grads = occ @ c
    shot_var = occ_var @ (c**2)
    stats = [
        corrected_variance(grads[:, k], shot_var[:, k] if shots else None)
        for k in range(len(chosen))
    ]
    return GradientVariance(
        parameters=tuple(originals[k].name for k in chosen),
        params=theta,
        grads=grads,
        costs=costs,
        shot_var=shot_var,
        variance=np.array([v for v, _ in stats]),
        variance_se=np.array([s for _, s in stats]),
        cost_variance=corrected_variance(costs, cost_shot_var if shots else None)[0],
        shots=shots,
        job_ids=job_ids,
        qpu_seconds_estimate=estimate,
        method=method,
    )


def _qpu_gate(
    backend: Backend, task: ExpectationTask, limit_s: float | None, approve: bool
) -> float:
    """Price one QPU call as the cost gate does (one job) and refuse it where not allowed."""
    if not isinstance(backend, PricedBackend):
        raise TypeError(f"backend {backend.name}: the cost gate cannot price it; nothing was sent")
    overhead = mitigation_overhead(getattr(backend, "options", {}))
    price = price_of(backend, task, overhead)
    seconds = PER_JOB_S + price.seconds
    estimate = CostEstimate(seconds, "offline model", overhead, 1, price.executions, None)
    if limit_s is None and not approve:
        raise CostLimitError(
            f"gradient_variance on {backend.name}: {estimate.summary()}; nothing was "
            "submitted; pass max_qpu_seconds= (a limit) or approve_cost=True"
        )
    check_cost(estimate, limit_s=float(limit_s or 0.0), approve=approve)
    return seconds
