"""Predict, then measure: the expected Var[dC] (and Var[C]) of a spec's cells, without states.

A cell is translated into a :class:`~bp_qiskit.core.propagation.Program` (rotations with
uniform angles, Clifford entanglers, a product initial state, the cost's Pauli terms) and its
second moment is propagated (:mod:`bp_qiskit.core.propagation`):

- ``exact``: full propagation of the distribution over Pauli pairs (small supports);
- ``monte_carlo``: sampled Pauli paths, a value with its standard error and path count;
- ``bound``: sampled paths that all vanished: an upper bound, never a bare 0.

Light cones make large n cheap: terms of the cost outside the forward light cone of the
differentiated gate have zero derivative and are dropped, and gates outside the backward
light cone of the remaining terms are dropped too, so a local cost on a shallow circuit at
n = 1000 is a small program. What the predictor cannot read it says, in ``note``: a
``circuit.factory`` circuit, identity blocks (their angles are correlated at initialisation),
angles that do not span whole turns, and device noise (the prediction is the noiseless one).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backends.blocks import map_over_cores, single_blas_thread
from ..core.four_copies import exact_fourth_moment
from ..core.light_cone import reduce_to_light_cone
from ..core.propagation import (
    Moment,
    Program,
)
from ..core.tensor_network import (
    NetworkMoment,
)
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .device_noise import DeviceNoise, cell_device_noise
from .factories import call_factory
from .families import family_for, gradient_indices
from .predict_circuit import DEFAULT_PATHS, parameter_moments
from .predict_methods import SAMPLED_QUBITS, cost_variance, second_moment
from .predict_program import _program, cell_programs, unsupported

__all__ = [
    "DEFAULT_PATHS",
    "Prediction",
    "predict_cell",
    "predict_cells",
    "unsupported",
]

# Quadruples summed over gates the exact fourth moment may spend (array steps of about a
# microsecond each, so a failed try costs some 0.03 s). Over the 135 cells of the shipped
# specs (benchmarks/bench_fourth_budget.py), 30,000 gives an exact fourth moment to 65 for 2%
# more compute than 10,000 (61 cells); 100,000 gives 68 for another 13%. McClean at L = 50 needs
# some 300,000 at n = 2, and more beyond.
_FOURTH_WORK = 30_000
_FOURTH_STATES = 20_000


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What theory expects for one cell.

    Attributes:
        num_qubits, num_layers: the cell.
        observable: the cost's kind.
        grad_var: predicted Var[dC/dtheta] (0 with ``method == "bound"``).
        grad_var_se: its uncertainty: the standard error of ``monte_carlo``; for a
            ``tensor_network`` that had to cut, the change in the value when its bond
            dimension is halved (an estimate, not a bound); None when exact.
        method: ``exact``, ``monte_carlo`` or ``bound``.
        upper_bound: with ``bound``, a 95% upper bound on Var[dC/dtheta].
        paths: sampled paths (0 when exact).
        cost_var: predicted Var[C] where computed exactly, else None.
        qubits_used: qubits left after the light-cone reduction.
        note: what the prediction does not cover (device noise), or why there is none.
        truncation: with ``tensor_network``, the largest relative weight one SVD discarded.
        max_bond: with ``tensor_network``, the largest bond dimension it needed.
        log10_grad_var: log10 of Var[dC] where the value itself underflows a float.
        contribution_sd: the standard deviation of one circuit's g^2, sqrt(E[g^4] - Var^2):
            exact where the four-copy propagation gives E[g^4] within a small budget (one
            differentiated parameter, a listed cost), an upper bound for the global
            projector (abs(g) <= 1/2); the z column's spread
            (:func:`~bp_qiskit.core.statistics.prediction_z`). None otherwise.
    """

    num_qubits: int
    num_layers: int
    observable: str
    grad_var: float | None
    grad_var_se: float | None
    method: str
    upper_bound: float | None = None
    paths: int = 0
    cost_var: float | None = None
    qubits_used: int = 0
    note: str = ""
    truncation: float | None = None
    max_bond: int | None = None
    log10_grad_var: float | None = None
    contribution_sd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dataclasses.asdict(self)


def predict_cells(
    todo: Sequence[tuple[StudySpec, int, int]],
    *,
    paths: int = DEFAULT_PATHS,
    seed: int | None = None,
    progress: Callable[[], None] | None = None,
) -> list[Prediction]:
    """:func:`predict_cell` of every (spec, n, layers), in order, over this process's cores.

    The cells are independent, and most of a cell's time is numpy's SVDs and products, which
    release the GIL, so threads share the cores (:func:`~bp_qiskit.backends.blocks.map_over_cores`).
    Every cell runs with one BLAS thread, however many there are, so its bytes do not depend
    on the machine. The largest cells start first. ``seed``: each spec's study seed by
    default; ``progress`` is called once per finished cell.
    """
    order = sorted(range(len(todo)), key=lambda i: -todo[i][1] * todo[i][2])

    def one(i: int) -> Prediction:
        spec, n, layers = todo[i]
        with single_blas_thread():
            out = predict_cell(
                spec, n, layers, paths=paths, seed=spec.study.seed if seed is None else seed
            )
        if progress is not None:
            progress()
        return out

    done = dict(zip(order, map_over_cores(one, order), strict=True))
    return [done[i] for i in range(len(todo))]


def predict_cell(
    spec: StudySpec,
    num_qubits: int,
    num_layers: int,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
) -> Prediction:
    """The predicted Var[dC/dtheta] of one cell (the mean over parameters for ``"all"``)."""
    n, layers = num_qubits, num_layers
    kind = spec.observable.kind
    why = unsupported(spec)
    if why is not None:
        return Prediction(n, layers, kind, None, None, "none", note=why)
    note = ""
    device = None
    if ":" in spec.backend.name and spec.backend.kind in ("aer", "fake", "ibm"):
        device, note = cell_device_noise(spec, n, layers)
    elif "depolarizing" in spec.backend.options:
        note = "with the synthetic depolarising noise of backend.options.depolarizing"
    if spec.circuit.factory:
        return _predict_factory(spec, n, layers, paths, seed, note, device)
    try:
        family = family_for(spec, Cell(n, layers))
        indices = gradient_indices(spec, family)
        # The programs of the differentiated gates, read from the circuit that runs; one
        # the predictor cannot read (a gate it does not know) is a SpecError naming the
        # instruction: no prediction, and why.
        *derivatives, undifferentiated = cell_programs(
            spec, n, layers, [*(int(k) for k in indices), None], device, listed=False
        )
    except SpecError as exc:
        return Prediction(n, layers, kind, None, None, "none", note=str(exc))
    # Each derivative reduced to its light cone (the projector kept whole).
    programs = [p if p.projector else reduce_to_light_cone(p) for p in derivatives]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n, layers)))
    moments: list[Moment] = []
    networks: list[NetworkMoment] = []
    for program in programs:
        moment, network = second_moment(program, paths, rng)
        moments.append(moment)
        if network is not None:
            networks.append(network)
    used = max(p.num_qubits for p in programs)
    cost_var = cost_variance(undifferentiated) if n <= SAMPLED_QUBITS else None
    base = Prediction(n, layers, kind, None, None, "none", cost_var=cost_var, qubits_used=used,
                      note=note)  # fmt: skip
    prediction = _combine(base, moments, networks, paths, projector=programs[0].projector)
    if prediction.method in _VALUED and prediction.grad_var:
        sd = _contribution_sd(programs, prediction.grad_var, prediction.method == "exact")
        prediction = dataclasses.replace(prediction, contribution_sd=sd)
    return prediction


_VALUED = ("exact", "tensor_network", "monte_carlo")


def _contribution_sd(programs: list[Program], grad_var: float, exact: bool) -> float | None:
    """The sd of one circuit's g^2 (the mean over parameters), exact or an upper bound.

    For the global projector, an upper bound: its spectrum is {0, 1}, so a shifted
    difference has abs(g) <= 1/2 and E[g^4] <= Var / 4. Its gradients are products of one
    factor per qubit, with a kurtosis that grows exponentially with n (1.5 (35/18)^(n-1) for
    a product of rotations), so a sample's own spread says nothing about the tails it has
    not seen: at n = 50, 200 circuits measured 1.3e-23 against a prediction of 6.6e-18.
    For one differentiated parameter and a listed cost, exact by the four-copy propagation
    within its budget, where the second moment itself was exact; None otherwise (the z
    then rests on the sample's spread).
    """
    if programs[0].projector:
        return math.sqrt(max(grad_var / 4 - grad_var**2, 0.0))
    # Four copies hold more strings than two: where the second moment was too large for
    # exact propagation (``exact`` false), the fourth cannot fit its smaller budget either,
    # and trying cost 0.1 s per cell (jobs/mcclean2018.toml at L = 50).
    if len(programs) != 1 or not exact:
        return None
    fourth = exact_fourth_moment(programs[0], max_states=_FOURTH_STATES, max_work=_FOURTH_WORK)
    if fourth is None:
        return None
    return math.sqrt(max(fourth - grad_var**2, 0.0))


def _combine(
    base: Prediction,
    moments: list[Moment],
    networks: list[NetworkMoment],
    paths: int,
    *,
    projector: bool,
) -> Prediction:
    """One prediction from the per-parameter moments (their mean), named by its method.

    ``base`` carries the cell, its Var[C], the qubits used and the note; ``projector``: the
    cost is the global projector (which no method reaching says why).
    """
    note = base.note
    replace = functools.partial(dataclasses.replace, base)
    methods = {m.method for m in moments}
    if "none" in methods:
        why = (
            "the global projector beyond 64 qubits: the differentiated gate's light cone is "
            "too wide for the light-cone bound"
            if projector
            else "a listed cost whose light cone holds over 64 qubits, off a chain: neither "
            "exact propagation, the tensor network nor path sampling takes it"
        )
        return replace(cost_var=None, note=f"{why}; {note}" if note else why)
    mean = float(np.mean([m.value for m in moments]))
    if "tensor_network" in methods and methods <= {"exact", "tensor_network"}:
        logs = [nm.log10 for nm in networks if nm.log10 is not None]
        log_mean = None
        if mean == 0.0 and logs and len(logs) == len(moments):
            top = max(logs)
            log_mean = top + math.log10(sum(10 ** (v - top) for v in logs) / len(logs))
        err = math.sqrt(sum(m.se**2 for m in moments)) / len(moments)
        return replace(grad_var=mean, grad_var_se=err or None, method="tensor_network",
                       truncation=max(nm.truncation for nm in networks),
                       max_bond=max(nm.max_bond for nm in networks),
                       log10_grad_var=log_mean)  # fmt: skip
    if methods == {"exact"}:
        return replace(grad_var=mean, method="exact")
    if methods == {"bound"}:
        bound = float(np.mean([m.upper_bound or 0.0 for m in moments]))
        if not any(m.paths for m in moments):
            cones = "a rigorous bound from disjoint light cones (projector_bound)"
            note = f"{cones}; {note}" if note else cones
        return replace(grad_var=0.0, method="bound", upper_bound=bound, cost_var=None,
                       paths=max(m.paths for m in moments), note=note)  # fmt: skip
    se = math.sqrt(sum(m.se**2 for m in moments)) / len(moments)
    return replace(grad_var=mean, grad_var_se=se, method="monte_carlo", paths=paths)


def _predict_factory(
    spec: StudySpec,
    n: int,
    layers: int,
    paths: int,
    seed: int,
    note: str,
    device: DeviceNoise | None,
) -> Prediction:
    """A ``circuit.factory`` cell, read from the circuit the factory builds.

    The same circuit the backend evaluates, read and its moments chosen as for
    :func:`~.predict_circuit.predict_variance`, then combined as a preset's cell is; one
    it cannot read gets ``none`` and the reason, naming the instruction. With a device, its
    noise gate by gate (:func:`~.device_noise.with_device_noise`); where the circuit does not
    run as read there, the noiseless prediction and the reason in the note.
    """
    kind = spec.observable.kind
    family = family_for(spec, Cell(n, layers))
    indices = [int(k) for k in gradient_indices(spec, family)]
    # The user's own, unexpanded circuit: the factory's errors are its own.
    circuit, observable = call_factory(str(spec.circuit.factory), n, layers)
    cost = observable if observable is not None else family.observable
    measured = bool(spec.sampling.shots)
    try:
        try:
            moments, cost_var = parameter_moments(
                circuit, cost, indices, paths, seed, device, measured=measured
            )
        except SpecError as exc:
            if device is None or not str(exc).startswith("backend.name"):
                raise
            note = f"noiseless prediction: {exc}"
            moments, cost_var = parameter_moments(circuit, cost, indices, paths, seed)
    except SpecError as exc:
        return Prediction(n, layers, kind, None, None, "none", note=str(exc))
    used = max(pm.qubits_used for pm in moments)
    base = Prediction(n, layers, kind, None, None, "none", cost_var=cost_var, qubits_used=used,
                      note=note)  # fmt: skip
    networks = [pm.network for pm in moments if pm.network is not None]
    projector = moments[0].projector
    return _combine(base, [pm.moment for pm in moments], networks, paths, projector=projector)


def _cost_variance(
    spec: StudySpec, n: int, layers: int, device: DeviceNoise | None = None
) -> float | None:
    """The cell's Var[C] (:func:`~.predict_methods.cost_variance`), None beyond 64 qubits."""
    if n > SAMPLED_QUBITS:
        return None
    return cost_variance(_program(spec, n, layers, None, device, listed=False))
