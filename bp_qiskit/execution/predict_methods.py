"""Which method predicts a program's moments: one choice for presets and for any circuit.

Every prediction, a spec's cell (:mod:`.predict`) or a user's own ``QuantumCircuit``
(:mod:`.predict_circuit`), hands its :class:`~bp_qiskit.core.propagation.Program` here, so
the same circuit gets the same method and the same value whichever way it came in. In order:

- ``exact``: full propagation of the distribution over Pauli pairs, within a budget;
- ``tensor_network``: the pair chain as a matrix-product state, where every gate acts on one
  qubit or two neighbours and the bonds stay bounded (:mod:`bp_qiskit.core.tensor_network`);
- ``monte_carlo``: sampled Pauli paths, a value with its standard error (up to 64 qubits);
- ``bound``: the global projector beyond 64 qubits off a chain, a rigorous upper bound from
  disjoint light cones (:func:`~.predict_bound.projector_bound`);
- ``none``: a listed cost beyond 64 qubits that none of the above takes.
"""

from __future__ import annotations

import numpy as np

from ..core.path_sampling import sampled_second_moment
from ..core.propagation import Moment, Program, exact_first_moment, exact_second_moment
from ..core.tensor_network import (
    NetworkMoment,
    diagonal,
    network_first_moment,
    network_second_moment,
    supported,
)
from .predict_bound import projector_bound

__all__ = ["cost_variance", "exact_budget", "network_moment", "second_moment"]

MAX_PAIRS = 4_000_000
PAIR_GATES = 5e7
# The tensor network is taken when no SVD discards more than this share of the state's
# weight, at bond dimensions up to NETWORK_MAX_BOND (an SVD of 16 chi x 16 chi each).
NETWORK_TOLERANCE = 1e-10
NETWORK_MAX_BOND = 32
# A one-string observable runs on the 4 diagonal pairs per qubit (tensor_network.diagonal),
# an SVD of 4 chi x 4 chi: bonds doubling from the first to the converged one (see
# network_moment).
NETWORK_FIRST_BOND = 16
NETWORK_CONVERGED_BOND = 64
NETWORK_RELATIVE_ERROR = 1e-2
# Pair-merges (pairs summed over gates, about 4 microseconds each) the exact propagation may
# spend where the tensor network could take over (a chain).
CHAIN_EXACT_WORK = 50_000
# Sampled paths track Pauli strings as uint64 bit masks.
SAMPLED_QUBITS = 64


def second_moment(
    program: Program, paths: int, rng: np.random.Generator
) -> tuple[Moment, NetworkMoment | None]:
    """The second moment by the first method that fits.

    Exact propagation where it is small, the tensor network where its bonds stay bounded and
    it discards nothing that matters, a converged network for one Pauli string where it does
    cut, then sampled paths, and a bound last.
    """
    chain = supported(program)
    if not program.projector and program.num_qubits <= SAMPLED_QUBITS:
        # Where the diagonal network is there to fall back on, exact propagation gets a
        # small budget of pair-merges: a deep circuit merges tens of thousands of pairs a
        # thousand times (McClean at n = 8, L = 50: 16 s) where the network's bonds stay at
        # tens (0.2 s, equal to 1e-12).
        exact = exact_second_moment(
            program,
            max_pairs=exact_budget(program),
            max_work=CHAIN_EXACT_WORK if chain and diagonal(program) else None,
        )
        if exact is not None:
            return Moment(exact, 0.0, "exact"), None
    if chain:
        network = network_moment(program)
        if network is not None:
            return network
    if program.projector:
        if program.num_qubits > SAMPLED_QUBITS:
            return projector_bound(program), None
        return sampled_second_moment(program, paths, rng), None
    if program.num_qubits > SAMPLED_QUBITS:
        return Moment(0.0, 0.0, "none"), None
    return sampled_second_moment(program, paths, rng), None


def network_moment(program: Program) -> tuple[Moment, NetworkMoment] | None:
    """The tensor network's moment, when the circuit is a chain and its value holds.

    On all 16 pairs: one run at NETWORK_MAX_BOND, taken only if nothing above
    NETWORK_TOLERANCE of the weight is cut. On the diagonal pairs of a one-string cost
    (4 per qubit, so larger bonds are cheap): runs at bond 16, 32, ... up to
    NETWORK_CONVERGED_BOND, stopping at the first that cut nothing, or whose value changed
    by at most NETWORK_RELATIVE_ERROR from the run at half its bond. The discarded weight
    does not bound the value's error usefully (the initial state's norm in pair space is
    2^n), so the error is estimated as DMRG estimates it, by that change; it is the Moment's
    se, an estimate and not a bound.
    """
    if not diagonal(program):
        full = network_second_moment(
            program, max_bond=NETWORK_MAX_BOND, tolerance=NETWORK_TOLERANCE
        )
        return None if full is None else (Moment(full.value, 0.0, "tensor_network"), full)
    previous: NetworkMoment | None = None
    bond = NETWORK_FIRST_BOND
    while bond <= NETWORK_CONVERGED_BOND:
        run = network_second_moment(program, max_bond=bond)
        if run is None:
            return None
        if run.truncation <= NETWORK_TOLERANCE:
            return Moment(run.value, 0.0, "tensor_network"), run
        if previous is not None and run.value > 0.0:
            error = abs(run.value - previous.value)
            if error <= NETWORK_RELATIVE_ERROR * run.value:
                return Moment(run.value, error, "tensor_network"), run
        previous, bond = run, 2 * bond
    return None


def exact_budget(program: Program) -> int:
    """How many pairs the exact propagation may hold before sampling takes over.

    The distribution can reach 4^n strings in each copy, and each gate costs a merge of all
    pairs. Up to 6 qubits it stays small. Beyond, the budget is in pair-gates, about a
    minute of merging: McClean at L = 50 (1150 gates) took 280 s exactly at n = 9, where
    200 000 sampled paths take 10 s with a 2% standard error. A listed projector (one
    layer, 4^n pairs at the start) keeps room to propagate.
    """
    if program.num_qubits <= 6:
        return MAX_PAIRS
    return min(MAX_PAIRS, max(MAX_PAIRS // 200, int(PAIR_GATES / max(len(program.gates), 1))))


def cost_variance(program: Program) -> float | None:
    """Var[C] = E[C^2] - E[C]^2 of a program without a derivative, exact or a network's.

    None where neither is exact (a cut network's Var[C] is not reported: it is exact or
    absent).
    """
    if program.num_qubits > SAMPLED_QUBITS:
        return None
    if supported(program) and (program.projector or diagonal(program)):
        # The projector as a product, or one string: both moments by the network.
        second = None if program.projector else exact_second_moment(
            program, max_pairs=exact_budget(program), max_work=CHAIN_EXACT_WORK
        )  # fmt: skip
        if second is None:  # uncut only: cost_var is exact or absent
            network = network_second_moment(
                program, max_bond=NETWORK_CONVERGED_BOND, tolerance=NETWORK_TOLERANCE
            )
            second = None if network is None else network.value
        first = network_first_moment(program)
        if second is None or first is None:
            return None
        return second - first**2
    if program.projector or len(program.terms) ** 2 > MAX_PAIRS:
        return None
    second = exact_second_moment(program, max_pairs=exact_budget(program))
    if second is None:
        return None
    return second - exact_first_moment(program) ** 2
