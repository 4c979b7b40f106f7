"""Where a cell's circuits come from: a built-in random ansatz, or the user's own factory.

A :class:`CircuitFamily` is everything the build -> execute -> combine pipeline needs to know
about one cell's circuits: the template circuit that every sample binds into (one PUB per
job), the observable, how many differentiable parameters there are, how to draw a job's
samples from its random stream, how to lay out the shifted values, and how to combine the
evaluated shifts into gradients. The job builder, the dry run and the resource checks see
only this seam, so a new circuit source is one class here.

- :class:`RandomAnsatz`: the built-in random-gate ansätze of :mod:`bp_qiskit.core.circuits`
  (byte-for-byte what they always were).
- :class:`FactoryCircuit`: ``circuit.factory = "module:function"`` in a spec. The function
  builds the circuit for n qubits (and for L layers when it takes ``num_layers``, ``layers``
  or ``reps``); it may return ``(circuit, observable)`` to bring its own cost. Every
  parameter is drawn uniformly from ``circuit.angles``. Gradients use the general
  shift rule of :mod:`bp_qiskit.execution.custom` (one shifted pair per occurrence of a
  parameter, chain rule), so shared parameters and angle expressions are exact.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparseObservable

from ..core.circuits import (
    ANSATZE,
    RZ,
    CircuitSamples,
    draw_samples,
    template_circuit,
    template_values,
)
from ..core.gradients import (
    SHIFT,
    combine_shifts,
    parameter_indices,
    shift_columns,
    shift_parameters,
    shot_noise_variance,
    spans_whole_turns,
)
from ..core.grammar import Grammar
from ..core.observables import make_observable
from ..errors import SpecError
from ..results import Cell
from ..spec import ObservableSpec, StudySpec
from .custom import as_observable, expand_occurrences, occurrence_offsets, touched_occurrences
from .factories import call_factory

__all__ = [
    "CircuitFamily",
    "FactoryCircuit",
    "GrammarAnsatz",
    "RandomAnsatz",
    "family_for",
    "gradient_indices",
]


class CircuitFamily(Protocol):
    """The circuits of one cell, as the job pipeline uses them."""

    @property
    def template(self) -> QuantumCircuit:
        """The circuit every sample and shift of a job binds into (one PUB)."""

    @property
    def observable(self) -> SparseObservable:
        """The cost."""

    @property
    def num_params(self) -> int:
        """Parameters that ``gradient.parameter`` addresses."""

    @property
    def num_layers(self) -> int:
        """Layers for ``[layer, position]`` addressing (a factory circuit is one layer)."""

    def draw(self, rng: np.random.Generator, size: int) -> CircuitSamples:
        """``size`` samples: gate codes (s, L, n) and angles (s, num_params)."""

    def values(self, samples: CircuitSamples, indices: NDArray[np.int64]) -> NDArray[np.float64]:
        """The template's bound values for every sample and both shifts, as one array."""

    def gradients(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(s, K) gradients and their shot-noise variances from the evaluated values."""

    def chain_rule(
        self, diffs: NDArray[np.float64], diff_var: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(s, K) gradients from the (s, J) half differences of the shifted pairs.

        ``gradients`` is this applied to the shift rule's differences; the adjoint pass
        (execution/adjoint.py) supplies the same differences without the shifted circuits.
        """

    def costs(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """(s,) costs at random angles and their shot-noise variances, or None if unknown."""

    def random_axes(self) -> dict[str, tuple[str, ...]]:
        """The template's gates whose axis each sample draws: theta's name -> the letters.

        A random position is a U gate whose bound values choose RX, RY or RZ
        (:func:`~bp_qiskit.core.circuits.template_values`); no circuit reader can see which
        distribution they come from, so the family says: uniformly from these letters, with
        a uniform angle. What :func:`~.predict_circuit.read_program` needs to read the
        template that runs; empty where every gate is what it says.
        """

    def adjoint_layout(
        self, samples: CircuitSamples, indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """The unshifted (s, P) values and the (s, J) template column each shifted pair moves.

        What the adjoint pass differentiates instead of the shifted circuits; None where a
        pair moves more than one column (the pass cannot take it). :func:`layout_from_values`
        reads it off :meth:`values` for any family.
        """


def _u_axes(template: QuantumCircuit, letters: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Each U gate's theta parameter -> ``letters`` (the random ansatzes' only U gates)."""
    return {
        str(inst.operation.params[0].name): tuple(letters)
        for inst in template.data
        if inst.operation.name == "u"
    }


# Values of the shift layout built at once: (samples, pairs, 2, columns) float64 entries.
_LAYOUT_ENTRIES = 1 << 22


def layout_from_values(
    family: CircuitFamily, samples: CircuitSamples, indices: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """A family's adjoint layout read off its shift values (``shift_columns``), in steps."""
    one = family.values(CircuitSamples(samples.gates[:1], samples.params[:1]), indices)
    step = max(1, _LAYOUT_ENTRIES // max(1, one[0].size))
    bases, columns = [], []
    for a in range(0, samples.params.shape[0], step):
        part = CircuitSamples(samples.gates[a : a + step], samples.params[a : a + step])
        layout = shift_columns(family.values(part, indices), SHIFT)
        if layout is None:
            return None
        bases.append(layout[0])
        columns.append(layout[1])
    return np.concatenate(bases), np.concatenate(columns)


class _OneRotationPerParameter:
    """The shift rule and the cost draw of circuits where every parameter is one rotation."""

    angles: tuple[float, float]
    cell: Cell

    @property
    def num_layers(self) -> int:
        """The cell's L."""
        return self.cell.num_layers

    def gradients(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The two-term shift rule: every parameter enters one Pauli rotation."""
        return self.chain_rule(combine_shifts(evs), shot_noise_variance(stds), indices)

    def chain_rule(
        self, diffs: NDArray[np.float64], diff_var: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """One pair per parameter: the pair's half difference is the gradient."""
        return diffs, diff_var

    def costs(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """The cost at uniformly random angles, at no extra circuit.

        Why the "+" shifted value is such a draw: the shifted parameter enters one rotation,
        and theta + pi/2 (mod 2 pi) is uniform when theta is uniform over whole turns, the
        other angles untouched. Over a partial range it is not, and None is returned.
        """
        if not spans_whole_turns(self.angles):
            return None
        return np.asarray(evs[:, 0, 0], dtype=float), np.asarray(stds[:, 0, 0], dtype=float) ** 2


@dataclasses.dataclass(frozen=True)
class RandomAnsatz(_OneRotationPerParameter):
    """A built-in random ansatz (``seed``, ``mcclean``, ``identity_blocks``)."""

    template: QuantumCircuit
    observable: SparseObservable
    num_params: int
    cell: Cell
    ansatz: str
    angles: tuple[float, float]
    k: int = 1  # identity blocks: layers per half block

    def draw(self, rng: np.random.Generator, size: int) -> CircuitSamples:
        """Gates and angles from the job's stream (core.circuits.draw_samples)."""
        n, layers = self.cell.num_qubits, self.cell.num_layers
        return draw_samples(
            rng, size, n, layers, ansatz=self.ansatz, angles=self.angles, block_depth=self.k
        )

    def random_axes(self) -> dict[str, tuple[str, ...]]:
        """Every U gate: RX, RY or RZ, uniformly (:func:`~bp_qiskit.core.circuits.draw_samples`)."""
        return _u_axes(self.template, ("X", "Y", "Z"))

    def values(self, samples: CircuitSamples, indices: NDArray[np.int64]) -> NDArray[np.float64]:
        """(s, K, 2, 3P) U-gate values: the gate type is chosen by the bound values."""
        return template_values(samples.gates, shift_parameters(samples.params, indices))

    def adjoint_layout(
        self, samples: CircuitSamples, indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """The unshifted (s, 3P) values and the (s, K) template column each shift moves.

        What :func:`~bp_qiskit.backends.adjoint.shift_columns` reads off :meth:`values`,
        without building the (s, K, 2, 3P) layout: rotation k's angle is its U gate's theta
        (column 3k), or its lambda (3k + 2) for RZ. tests/test_adjoint.py checks the two
        agree on every built-in random ansatz.
        """
        codes = samples.gates.reshape(samples.gates.shape[0], -1)[:, indices]
        cols = 3 * np.asarray(indices)[None, :] + np.where(codes == RZ, 2, 0)
        return template_values(samples.gates, samples.params), cols.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class GrammarAnsatz(_OneRotationPerParameter):
    """An ansatz of the grammar (:mod:`bp_qiskit.core.grammar`): a preset or explicit keys."""

    template: QuantumCircuit
    observable: SparseObservable
    num_params: int
    cell: Cell
    grammar: Grammar
    angles: tuple[float, float]

    def draw(self, rng: np.random.Generator, size: int) -> CircuitSamples:
        """Gate codes into ``random_set`` (S, L, n or 0), then every angle."""
        n, layers = self.cell.num_qubits, self.cell.num_layers
        return self.grammar.draw(rng, size, n, layers, self.angles)

    def random_axes(self) -> dict[str, tuple[str, ...]]:
        """The ``"random"`` positions' U gates: uniformly from the grammar's ``random_set``."""
        return _u_axes(self.template, self.grammar.random_set)

    def values(self, samples: CircuitSamples, indices: NDArray[np.int64]) -> NDArray[np.float64]:
        """Template values of every sample and both shifts."""
        shifted = shift_parameters(samples.params, indices)
        return self.grammar.values(samples.gates, shifted, self.cell.num_qubits)

    def adjoint_layout(
        self, samples: CircuitSamples, indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """Read off the shift values (:func:`layout_from_values`)."""
        return layout_from_values(self, samples, indices)


@dataclasses.dataclass(frozen=True)
class FactoryCircuit:
    """The user's circuit, rewritten with one parameter per occurrence.

    ``chain[j, k]`` is d(angle of occurrence j)/d(parameter k); ``offset[j]`` the angle at
    all-zero parameters. Both come from :func:`~bp_qiskit.execution.custom.expand_occurrences`.
    """

    template: QuantumCircuit
    observable: SparseObservable
    num_params: int
    num_qubits: int
    angles: tuple[float, float]
    chain: NDArray[np.float64]
    offset: NDArray[np.float64]
    num_layers: int = 1  # [0, k] addresses parameter k of the user's circuit

    def random_axes(self) -> dict[str, tuple[str, ...]]:
        """None: every gate of the user's circuit is what it says."""
        return {}

    def draw(self, rng: np.random.Generator, size: int) -> CircuitSamples:
        """Every parameter uniform on ``angles``; there are no gate codes (shape (s, 0, n))."""
        low, high = self.angles
        params = rng.uniform(low, high, size=(size, self.num_params))
        return CircuitSamples(np.zeros((size, 0, self.num_qubits), dtype=np.int8), params)

    def _occurrences(self, indices: NDArray[np.int64]) -> NDArray[np.int64]:
        """The occurrences whose angle depends on any differentiated parameter."""
        return touched_occurrences(self.chain, indices)

    def values(self, samples: CircuitSamples, indices: NDArray[np.int64]) -> NDArray[np.float64]:
        """(s, J, 2, occurrences): each affected occurrence shifted by +-pi/2 on its own."""
        phi = samples.params @ self.chain.T + self.offset
        occ = self._occurrences(indices)
        return shift_parameters(phi, occ, SHIFT)

    def adjoint_layout(
        self, samples: CircuitSamples, indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """Read off the shift values (:func:`layout_from_values`)."""
        return layout_from_values(self, samples, indices)

    def gradients(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The chain rule over the occurrences: dC/dtheta_k = sum_j c_jk dC/dphi_j.

        The shifted pairs are independent estimates, so their shot-noise variances add with
        weights c_jk^2.
        """
        return self.chain_rule(combine_shifts(evs), shot_noise_variance(stds), indices)

    def chain_rule(
        self, diffs: NDArray[np.float64], diff_var: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """dC/dtheta_k = sum_j c_jk dC/dphi_j over the occurrences of the parameters."""
        c = self.chain[np.ix_(self._occurrences(indices), indices)]
        return diffs @ c, diff_var @ (c**2)

    def costs(
        self, evs: NDArray[np.float64], stds: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """Not derived: a shifted occurrence of a shared parameter is not a uniform draw.

        ``bp_qiskit.gradient_variance`` evaluates the unshifted cost for such circuits.
        """
        return None


@functools.lru_cache(maxsize=64)
def _factory_family(
    reference: str,
    num_qubits: int,
    num_layers: int,
    angles: tuple[float, float],
    spec_observable: ObservableSpec,
) -> FactoryCircuit:
    # Cached per process: a factory is called once per cell however many jobs the cell has.
    circuit, observable = call_factory(reference, num_qubits, num_layers)
    if not isinstance(circuit, QuantumCircuit):
        raise SpecError(
            f"circuit.factory: {reference} returned {type(circuit).__name__}; allowed: a "
            "QuantumCircuit, or (QuantumCircuit, observable)"
        )
    if circuit.num_qubits != num_qubits:
        raise SpecError(
            f"circuit.factory: {reference}({num_qubits}) has {circuit.num_qubits} qubits"
        )
    if circuit.num_parameters == 0:
        raise SpecError(f"circuit.factory: {reference}({num_qubits}) has no parameters")
    expanded, exprs, chain = expand_occurrences(circuit)
    obs = (
        as_observable(observable, num_qubits)
        if observable is not None
        else make_observable(spec_observable, num_qubits)
    )
    return FactoryCircuit(
        template=expanded,
        observable=obs,
        num_params=circuit.num_parameters,
        num_qubits=num_qubits,
        angles=angles,
        chain=chain,
        offset=occurrence_offsets(exprs),
    )


def family_for(spec: StudySpec, cell: Cell) -> CircuitFamily:
    """The circuits of one cell of a study."""
    c = spec.circuit
    if c.factory:
        return _factory_family(
            c.factory, cell.num_qubits, cell.num_layers, c.angles, spec.observable
        )
    grammar = c.grammar()
    if grammar is not None:
        return GrammarAnsatz(
            template=grammar.template(cell.num_qubits, cell.num_layers),
            observable=make_observable(spec.observable, cell.num_qubits),
            num_params=grammar.num_params(cell.num_qubits, cell.num_layers),
            cell=cell,
            grammar=grammar,
            angles=c.angles,
        )
    if c.ansatz not in ANSATZE:
        # An ansatz added to the spec layer alone has no circuits here: say so by name (the
        # predictor reports it as its note), not as the layer table's ValueError.
        raise SpecError(
            f"circuit.ansatz: got {c.ansatz!r}, which has no circuits; allowed: "
            f"{', '.join(ANSATZE)} or a grammar preset"
        )
    circuit = template_circuit(
        cell.num_qubits, cell.num_layers, ansatz=c.ansatz, block_depth=c.block_depth
    )
    return RandomAnsatz(
        template=circuit,
        observable=make_observable(spec.observable, cell.num_qubits),
        num_params=cell.num_qubits * cell.num_layers,
        cell=cell,
        ansatz=c.ansatz,
        angles=c.angles,
        k=c.block_depth,
    )


def gradient_indices(spec: StudySpec, family: CircuitFamily) -> NDArray[np.int64]:
    """The differentiated parameters of a cell (``gradient.parameter`` resolved)."""
    try:
        return parameter_indices(spec.gradient.parameter, family.num_params, family.num_layers)
    except ValueError as exc:
        raise SpecError(f"gradient.{exc}") from None
