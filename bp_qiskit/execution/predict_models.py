"""Models built on the predictions: the deep-circuit Var[C] limit and the planner's noise model.

:func:`dla_cost_variance` closes the circuit's dynamical Lie algebra
(:mod:`bp_qiskit.core.dla`); :func:`noise_model` turns a cell's prediction into the shot
planner's :class:`~bp_qiskit.core.planning.NoiseModel` (``bp-qiskit budget``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.dla import closure, limit_cost_variance, limit_gradient_variance
from ..core.four_copies import exact_fourth_moment, sampled_fourth_moment
from ..core.gradients import parameter_indices
from ..core.light_cone import reduce_to_light_cone
from ..core.planning import NoiseModel
from ..core.propagation import (
    Rotation,
    Term,
    exact_first_moment,
    exact_second_moment,
)
from ..spec import StudySpec
from .predict import predict_cell
from .predict_circuit import DEFAULT_PATHS
from .predict_methods import MAX_PAIRS
from .predict_program import _grammar, _program, _terms, unsupported

__all__ = ["dla_cost_variance", "dla_gradient_variance", "noise_model"]


def dla_cost_variance(spec: StudySpec, num_qubits: int) -> float | None:
    """The deep-circuit Var[C] from the dynamical Lie algebra (:mod:`bp_qiskit.core.dla`).

    Only for circuits made of Pauli rotations alone (``entangler = "none"``, e.g. the
    matchgate preset) and Pauli costs; None otherwise. Assumes the algebra is simple (the
    matchgate algebra so(2n) is, for n >= 3).
    """
    g = _grammar(spec)
    if unsupported(spec) or g.entangler != "none":
        return None
    terms, projector = _terms(spec, num_qubits)
    if projector:
        return None
    program = _program(spec, num_qubits, 1, None)
    generators = {
        p for gate in program.gates if isinstance(gate, Rotation) for p in gate.generators
    }
    return limit_cost_variance(closure(generators), terms, program.bloch)


def dla_gradient_variance(spec: StudySpec, num_qubits: int, num_layers: int) -> float | None:
    """The deep-circuit Var[dC/dtheta] from the dynamical Lie algebra, for a gate deep inside.

    The limit of a parameter with deep circuit on both sides of its gate
    (:func:`~bp_qiskit.core.dla.limit_gradient_variance`); the mean over the differentiated
    parameters for several. The same scope as :func:`dla_cost_variance`; None outside it.
    """
    g = _grammar(spec)
    n = num_qubits
    if unsupported(spec) or g.entangler != "none":
        return None
    terms, projector = _terms(spec, n)
    if projector:
        return None
    generators = {
        p for gate in _program(spec, n, 1, None).gates if isinstance(gate, Rotation)
        for p in gate.generators
    }  # fmt: skip
    algebra = closure(generators)
    limits = []
    for k in parameter_indices(spec.gradient.parameter, g.num_params(n, num_layers), num_layers):
        program = _program(spec, n, num_layers, int(k))
        (gate,) = [r for r in program.gates if isinstance(r, Rotation) and r.differentiated]
        limit = limit_gradient_variance(algebra, terms, program.bloch, gate.generators)
        if limit is None:
            return None
        limits.append(limit)
    return float(np.mean(limits))


def noise_model(
    spec: StudySpec, num_qubits: int, *, paths: int = DEFAULT_PATHS
) -> tuple[NoiseModel | None, str]:
    """A shot-budget model from the prediction, or None and the reason.

    The model is a :class:`~bp_qiskit.core.planning.NoiseModel`:

    - V = Var(g): the predicted Var[dC].
    - T, the mean single-shot variance term, is exact for a cost measured in the computational
      basis (every term a Z-string: ``zz``, ``local``, Z-type Pauli sums, the projector up to
      8 qubits). A shot of such a cost O is one value O(b), so its single-shot variance is
      <O^2> - <O>^2; the shifted angles are uniform too, so T = (E[<O^2>] - E[<O>^2]) / 2.
    - alpha = Var(g^2) = E[g^4] - V^2 from four-copy propagation: exact where the quadruples
      stay few, else sampled (accepted at a relative SE of at most 25%). The gradient's tails
      set alpha, and with it the number of circuits; a normal guess (alpha = 2 V^2) is 6x too
      low for the seed circuit at n = 7, so none is made.
    - Q = T^2 and C = 0: the shot noise taken as constant over circuits, as it nearly is for a
      Pauli cost on a plateau (<O>^2 << 1). For the projector it is not; the seed experiment
      has its own exact model (:func:`~bp_qiskit.core.planning.seed_circuit_model`).
    """
    layers = spec.circuit.layer_counts(num_qubits)[0]
    p = predict_cell(spec, num_qubits, layers, paths=paths, seed=spec.study.seed)
    if p.grad_var is None or p.method not in ("exact", "monte_carlo") or p.grad_var <= 0:
        return (
            None,
            f"n={num_qubits}: no predicted value ({p.method}{': ' + p.note if p.note else ''})",
        )
    g = _grammar(spec)
    indices = parameter_indices(spec.gradient.parameter, g.num_params(num_qubits, layers), layers)
    if len(indices) != 1:
        return None, "the planner's model is per parameter: set gradient.parameter to one"
    program = _program(spec, num_qubits, layers, None)
    if program.projector or any(t.pauli[0] for t in program.terms):
        why = "the cost is not measured in the Z basis, or is the projector beyond 8 qubits"
        return None, f"n={num_qubits}: {why}"
    program = reduce_to_light_cone(program)
    if len(program.terms) ** 2 > MAX_PAIRS or program.num_qubits > 64:
        return None, f"n={num_qubits}: the cost has too many terms for its shot-noise moments"
    second = exact_second_moment(program, max_pairs=MAX_PAIRS)
    if second is None:
        return None, f"n={num_qubits}: E[C^2] is beyond exact propagation"
    square: dict[int, float] = {}
    for a in program.terms:
        for b in program.terms:
            z = a.pauli[1] ^ b.pauli[1]
            square[z] = square.get(z, 0.0) + a.coeff * b.coeff
    squared = dataclasses.replace(program, terms=tuple(Term(c, (0, z)) for z, c in square.items()))
    t = (exact_first_moment(squared) - second) / 2
    derivative = reduce_to_light_cone(_program(spec, num_qubits, layers, int(indices[0])))
    fourth = exact_fourth_moment(derivative, max_states=20_000)
    if fourth is None:
        rng = np.random.default_rng(
            np.random.SeedSequence(spec.study.seed, spawn_key=(num_qubits, 4))
        )
        sampled = sampled_fourth_moment(derivative, paths, rng)
        if sampled.value <= 0 or sampled.se > 0.25 * sampled.value:
            return None, (
                f"n={num_qubits}: E[g^4] is not resolved by {paths} sampled paths "
                f"({sampled.value:.3g} +/- {sampled.se:.2g})"
            )
        fourth = sampled.value
    v = p.grad_var
    alpha = max(fourth - v * v, 0.0)
    return NoiseModel(num_qubits, v, t, alpha=alpha, C=0.0, Q=t * t, source="prediction"), ""
