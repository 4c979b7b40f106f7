"""Predict the gradient variance of *any* circuit, from the circuit itself.

:func:`predict_variance` reads a ``QuantumCircuit`` (the one ``gradient_variance`` measures)
into a :class:`~bp_qiskit.core.propagation.Program` and propagates the second moment of each
derivative, averaged over independent uniform angles, by the method a spec's cell would get
(:func:`~.predict_methods.second_moment`: exact, the tensor network on a chain, sampled
paths, a bound). Nothing is rebuilt from names: what the circuit holds is what is predicted,
and what the propagation cannot represent is refused, naming the first offending
instruction. :func:`read_observable` reads the cost the same way for every prediction, a
spec's cells included: its Pauli strings, or the global projector kept as one product.

What it reads, after decomposing until nothing else is left:

- a parameterised Pauli rotation ``rx``, ``ry``, ``rz`` (``p``: rz up to phase), ``rxx``,
  ``ryy``, ``rzz``, ``rzx`` whose angle is one parameter, used by no other gate, with
  coefficient +-1 plus any constant: over whole turns a constant offset and a sign change
  nothing;
- the Cliffords ``cx``, ``cz``, ``swap`` (three cx), ``h``, ``x``, ``y``, ``z``;
- fixed one-qubit gates *before* any two-qubit gate on their qubit: they only prepare the
  product initial state (the seed's RY(pi/4)).

Refused, each in one line naming the gate: a parameter used twice (correlated angles), an
expression that is not +-theta + c, a fixed non-Clifford gate after an entangler,
measurements and resets, and anything that does not decompose into the above.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression
from qiskit.quantum_info import Operator, Pauli, SparseObservable

from ..core.light_cone import brick_order, reduce_to_light_cone
from ..core.propagation import (
    ONE_QUBIT_CLIFFORDS,
    Clifford,
    Moment,
    Program,
    Rotation,
    Term,
    exact_first_moment,
    pauli,
)
from ..core.tensor_network import NetworkMoment, network_first_moment, supported
from ..errors import SpecError
from .custom import as_observable, chosen_parameters
from .device_noise import DeviceNoise, device_noise, with_device_noise
from .predict_methods import SAMPLED_QUBITS, cost_variance, second_moment

__all__ = ["CircuitPrediction", "predict_variance", "read_observable", "read_program"]

_GENERATORS = {"rx": "X", "ry": "Y", "rz": "Z", "p": "Z", "rxx": "XX", "ryy": "YY", "rzz": "ZZ"}
_CLIFFORDS = {"cx", "cz", "swap", *ONE_QUBIT_CLIFFORDS}
_MAX_DECOMPOSE = 8
DEFAULT_PATHS = 200_000
# The projector as 2^n listed Z-strings: 4^n pairs to start with; beyond this, sampled.
EXACT_PROJECTOR_QUBITS = 8


@dataclasses.dataclass(frozen=True)
class CircuitPrediction:
    """What theory expects for one differentiated parameter of a circuit.

    Attributes:
        parameter: The parameter's name.
        grad_var: Predicted Var[dC/dtheta] (the mean derivative is 0 over whole turns; 0
            with ``method == "bound"``).
        grad_var_se: Its error: the standard error of ``monte_carlo``; for a
            ``tensor_network`` that had to cut, the change when its bond dimension is halved
            (an estimate); 0 when exact.
        cost_var: Predicted Var[C] (the same for every parameter): exact or a network's
            uncut value, else the sampled estimate up to 64 qubits, else None.
        method: ``exact``, ``tensor_network``, ``monte_carlo`` or ``bound``
            (:mod:`.predict_methods`, the same choice as for a spec's cells).
        paths: Sampled paths (0 unless sampled).
        upper_bound: With ``bound``, a rigorous upper bound on Var[dC/dtheta].
        truncation: With ``tensor_network``, the largest relative weight one SVD discarded.
        max_bond: With ``tensor_network``, the largest bond dimension it needed.
        qubits_used: Qubits in the parameter's light cone.
    """

    parameter: str
    grad_var: float
    grad_var_se: float
    cost_var: float | None
    method: str
    paths: int = 0
    upper_bound: float | None = None
    truncation: float | None = None
    max_bond: int | None = None
    qubits_used: int = 0


@dataclasses.dataclass(frozen=True)
class ParameterMoment:
    """One differentiated parameter's second moment, as the method selection returned it."""

    name: str
    moment: Moment
    network: NetworkMoment | None
    qubits_used: int
    projector: bool


def predict_variance(
    circuit: QuantumCircuit,
    observable: Any,
    *,
    parameters: Sequence[Parameter | int] | None = None,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    device: str | None = None,
    measured: bool = False,
) -> list[CircuitPrediction]:
    """Predicted Var[dC] and Var[C] of ``circuit`` and ``observable``, angles uniform in [0, 2pi).

    Args:
        circuit: Pauli rotations with one independent parameter each, Cliffords, and fixed
            one-qubit gates that prepare the initial state (see the module docstring). The
            initial state is |0...0>.
        observable: ``SparsePauliOp``, ``SparseObservable`` or a Pauli label (as for
            :func:`~bp_qiskit.execution.custom.gradient_variance`). The global projector
            ``SparseObservable("0" * n)`` is kept as one product, so a chain circuit takes
            it at any n by the tensor network.
        parameters: Which parameters to differentiate (objects or indices into
            ``circuit.parameters``); all by default.
        paths: Sampled Pauli paths where neither exact propagation nor the tensor network
            fits.
        seed: Seed of the path sampling.
        device: A fake device's name (``"lagos"``): predict with its noise, gate by gate on
            the qubits the circuit's ISA version uses (:func:`~.device_noise.with_device_noise`).
        measured: With ``device``: the cost is measured with shots, so readout error counts.

    Returns:
        One :class:`CircuitPrediction` per differentiated parameter, in the order asked.

    Raises:
        SpecError: naming the first instruction that cannot be predicted, or the parameter
            no method reaches (a listed cost whose light cone holds over 64 qubits, off a
            chain).
    """
    noise = None if device is None else device_noise(device, circuit, {})
    moments, cost_var = parameter_moments(
        circuit, observable, parameters, paths, seed, noise, measured=measured
    )
    out = []
    for pm in moments:
        m, net = pm.moment, pm.network
        if m.method == "none":
            raise SpecError(
                f"circuit: parameter {pm.name}: its light cone holds {pm.qubits_used} qubits "
                "and the circuit is not a chain: neither exact propagation, the tensor "
                "network nor path sampling (at most 64 qubits) takes it"
            )
        out.append(
            CircuitPrediction(
                pm.name,
                m.value,
                m.se,
                cost_var,
                m.method,
                m.paths,
                upper_bound=m.upper_bound,
                truncation=None if net is None else net.truncation,
                max_bond=None if net is None else net.max_bond,
                qubits_used=pm.qubits_used,
            )
        )
    return out


def parameter_moments(
    circuit: QuantumCircuit,
    observable: Any,
    parameters: Sequence[Parameter | int] | None,
    paths: int,
    seed: int,
    device: DeviceNoise | None = None,
    *,
    measured: bool = False,
) -> tuple[list[ParameterMoment], float | None]:
    """Each chosen parameter's second moment (:func:`~.predict_methods.second_moment`), Var[C].

    What :func:`predict_variance` reports, and what a ``circuit.factory`` cell combines as a
    preset's cell does (:mod:`.predict`). ``device``: the noise of the device it runs on
    (:func:`~.device_noise.with_device_noise`; ``measured``: with shots, so readout counts).
    """
    originals = list(circuit.parameters)
    if not originals:
        raise SpecError("circuit: has no parameters to differentiate")
    chosen = chosen_parameters(originals, parameters)
    obs = as_observable(observable, circuit.num_qubits)
    read = read_program(circuit, obs)
    base = read.program
    if device is not None:
        base = with_device_noise(base, read.prep, device, measured=measured)
    # As a spec's cells: commuting noiseless ladders as bricks, for narrower light cones.
    base = dataclasses.replace(base, gates=brick_order(base.gates))
    rng = np.random.default_rng(seed)
    cost_var = _cost_variance(base, paths, rng)
    out = []
    for k in chosen:
        name = originals[k].name
        index = read.rotation_of[name]
        gates = list(base.gates)
        gate = gates[index]
        assert isinstance(gate, Rotation)
        gates[index] = dataclasses.replace(gate, differentiated=True)
        program = dataclasses.replace(base, gates=tuple(gates))
        if not program.projector:  # the projector stays whole (a product)
            program = reduce_to_light_cone(program)
        if program.terms or program.projector:
            moment, network = second_moment(program, paths, rng)
        else:
            moment, network = Moment(0.0, 0.0, "exact"), None
        out.append(ParameterMoment(name, moment, network, program.num_qubits, program.projector))
    return out, cost_var


def _cost_variance(program: Program, paths: int, rng: np.random.Generator) -> float | None:
    """Var[C]: exact or an uncut network's; else sampled, up to 64 qubits; else None."""
    if not program.terms and not program.projector:
        return 0.0
    exact = cost_variance(program)
    if exact is not None or program.num_qubits > SAMPLED_QUBITS:
        return exact
    second = second_moment(program, paths, rng)[0]
    if second.method == "bound":
        return None
    first = network_first_moment(program) if program.projector else exact_first_moment(program)
    return None if first is None else max(0.0, second.value - first**2)


@dataclasses.dataclass(frozen=True)
class ReadProgram:
    """A circuit as a program, and which gate each parameter drives."""

    program: Program
    rotation_of: dict[str, int]
    # The fixed gates that prepared each qubit's initial state, by name (for device noise).
    prep: tuple[tuple[str, ...], ...] = ()


def read_program(
    circuit: QuantumCircuit,
    observable: SparseObservable,
    random_axes: Mapping[str, tuple[str, ...]] | None = None,
) -> ReadProgram:
    """The circuit as a propagation program; a SpecError names what cannot be read.

    ``random_axes``: U gates whose axis each sample draws, by their theta parameter's name
    (a random ansatz's template: :meth:`~.families.CircuitFamily.random_axes`); each is read
    as a rotation about one of those letters, uniformly, with a uniform angle.
    """
    n = circuit.num_qubits
    axes = dict(random_axes or {})
    flat = _flatten(circuit, keep={"u"} if axes else set())
    bloch = [np.array([0.0, 0.0, 1.0]) for _ in range(n)]
    gates: list[Rotation | Clifford] = []
    rotation_of: dict[str, int] = {}
    prep: list[list[str]] = [[] for _ in range(n)]
    index = {bit: i for i, bit in enumerate(flat.qubits)}
    for position, inst in enumerate(flat.data):
        op = inst.operation
        qubits = [index[q] for q in inst.qubits]
        where = f"instruction {position} ({op.name} on qubits {qubits})"
        if op.name in ("measure", "reset") or getattr(op, "condition", None) is not None:
            raise SpecError(f"circuit: {where}: mid-circuit operations cannot be predicted")
        if op.name == "barrier":
            continue
        drawn = axes.get(getattr(op.params[0], "name", "")) if op.name == "u" else None
        if drawn is not None:
            rotation_of[_parameter(op, where, rotation_of, drawn=True)] = len(gates)
            gates.append(Rotation(tuple(pauli(letter, qubits) for letter in drawn)))
            continue
        if op.is_parameterized():
            generator = pauli(_generator(op, where), qubits)
            rotation_of[_parameter(op, where, rotation_of)] = len(gates)
            gates.append(Rotation((generator,)))
            continue
        if op.num_qubits == 1 and not _touched(gates, qubits[0]):
            # Before anything else on its qubit, a fixed gate (a Clifford too: matchgate's
            # H) only prepares the product state.
            bloch[qubits[0]] = _bloch(op, bloch[qubits[0]], where)
            prep[qubits[0]].append(op.name)
            continue
        if op.name in _CLIFFORDS:
            gates += _clifford(op.name, qubits)
            continue
        raise SpecError(
            f"circuit: {where}: a fixed gate that is not a Clifford (cx, cz, swap, h, x, y, z) "
            "after the circuit's first entangler or rotation on that qubit cannot be predicted"
        )
    terms, projector = read_observable(observable)
    states = tuple((float(b[0]), float(b[1]), float(b[2])) for b in bloch)
    program = Program(n, tuple(gates), states, terms, projector=projector)
    if projector and n <= EXACT_PROJECTOR_QUBITS and not supported(program):
        # Off a chain the network cannot take the product; exact propagation takes it listed.
        program = Program(n, tuple(gates), states, projector_terms(n))
    return ReadProgram(program, rotation_of, tuple(tuple(names) for names in prep))


def _flatten(circuit: QuantumCircuit, keep: set[str]) -> QuantumCircuit:
    """Decompose until every gate is one the reader knows, or nothing decomposes further."""
    known = {*_GENERATORS, "rzx", *_CLIFFORDS, "measure", "reset", "barrier", *keep}
    out = circuit
    for _ in range(_MAX_DECOMPOSE):
        names = set(out.count_ops())
        if names <= known:  # the presets' templates: one look at the names
            return out
        unknown = {
            inst.operation.name
            for inst in out.data
            if inst.operation.name not in known
            and (inst.operation.is_parameterized() or inst.operation.num_qubits > 1)
        }
        if not unknown:
            return out
        out = out.decompose(gates_to_decompose=sorted(unknown))
        if set(out.count_ops()) == names:
            break
    return out


def _generator(op: Any, where: str) -> str:
    if op.name == "rzx":
        return "ZX"  # rzx(q0, q1) = exp(-i theta Z_0 X_1 / 2); letters follow the qubits
    if op.name not in _GENERATORS:
        raise SpecError(
            f"circuit: {where}: a parameterised gate that is not a Pauli rotation (rx, ry, rz, "
            "p, rxx, ryy, rzz, rzx) and does not decompose into them"
        )
    return _GENERATORS[op.name]


def _parameter(op: Any, where: str, seen: dict[str, int], *, drawn: bool = False) -> str:
    """The one parameter a rotation's angle is, checked: +-theta + c, used nowhere else.

    ``drawn``: a U gate of a random ansatz, whose angle is its theta.
    """
    angle = op.params[0] if drawn or len(op.params) == 1 else None
    if angle is None:
        raise SpecError(f"circuit: {where}: a rotation has one angle, got {op.params}")
    if not isinstance(angle, ParameterExpression) or len(angle.parameters) != 1:
        raise SpecError(f"circuit: {where}: the angle must be one parameter, got {angle}")
    (param,) = angle.parameters
    bare = isinstance(angle, Parameter)  # the templates' case: nothing to differentiate
    coefficient = 1.0 if bare else float(angle.gradient(param))
    if not math.isclose(abs(coefficient), 1.0) or not (bare or _linear(angle, param)):
        raise SpecError(
            f"circuit: {where}: the angle {angle} is not +-{param.name} + constant; only whole "
            "turns of an independent angle are predicted"
        )
    if param.name in seen:
        raise SpecError(
            f"circuit: {where}: parameter {param.name} drives another gate too; its angles "
            "are correlated, which the prediction does not model"
        )
    return str(param.name)


def _linear(angle: ParameterExpression, param: Parameter) -> bool:
    derivative = angle.gradient(param)
    return not isinstance(derivative, ParameterExpression) or not derivative.parameters


def _touched(gates: list[Rotation | Clifford], q: int) -> bool:
    for g in gates:
        if isinstance(g, Clifford) and q in (g.a, g.b):
            return True
        if isinstance(g, Rotation) and any((x | z) >> q & 1 for x, z in g.generators):
            return True
    return False


def _clifford(name: str, qubits: list[int]) -> list[Clifford]:
    if name == "swap":
        a, b = qubits
        return [Clifford("cx", a, b), Clifford("cx", b, a), Clifford("cx", a, b)]
    if name in ONE_QUBIT_CLIFFORDS:
        return [Clifford(name, qubits[0], qubits[0])]
    return [Clifford(name, qubits[0], qubits[1])]


def _bloch(op: Any, vector: np.ndarray, where: str) -> np.ndarray:
    """The Bloch vector after a fixed one-qubit gate (the state is still a product)."""
    try:
        u = Operator(op).data
    except Exception as exc:
        raise SpecError(f"circuit: {where}: cannot read the gate's matrix ({exc})") from None
    rho = 0.5 * (
        np.eye(2)
        + vector[0] * Pauli("X").to_matrix()
        + vector[1] * Pauli("Y").to_matrix()
        + vector[2] * Pauli("Z").to_matrix()
    )
    rho = u @ rho @ u.conj().T
    return np.array([np.trace(rho @ Pauli(p).to_matrix()).real for p in "XYZ"])


def read_observable(observable: SparseObservable) -> tuple[tuple[Term, ...], bool]:
    """The observable as Hermitian Pauli terms, or True for the global projector.

    ``|0...0><0...0|`` on every qubit, coefficient 1, is kept as one product (its 2^n Pauli
    strings are never listed); anything else is expanded into Pauli strings, repeated strings
    summed, and constants dropped (they shift C, not its variance or its derivatives).
    """
    n = observable.num_qubits
    if n and observable.num_terms == 1:
        ((label, qubits, coeff),) = observable.to_sparse_list()
        if label == "0" * n and complex(coeff) == 1:
            return (), True
    out = []
    for label, qubits, coeff in observable.as_paulis().simplify(tol=0.0).to_sparse_list():
        if abs(complex(coeff).imag) > 1e-12:
            raise SpecError(f"observable: term {label} has a complex coefficient {coeff}")
        if not label.strip("I"):
            continue
        out.append(Term(float(complex(coeff).real), pauli(label, qubits)))
    return tuple(out), False


def projector_terms(n: int) -> tuple[Term, ...]:
    """``|0...0><0...0|`` as its 2^n Z-strings, 2^-n each: for exact propagation."""
    return tuple(Term(2.0**-n, (0, z)) for z in range(2**n))
