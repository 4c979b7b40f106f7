"""The tensor-network evaluator of the averaged two-copy chain, against independent oracles.

Oracles: the exact pair propagation (a different algorithm: a sparse distribution over
pairs, merged after each gate) on every preset and cost at small n, and the seed circuit's
closed form for the global projector, Var_n = (1/16) ((17 + 4 sqrt 2) / 48)^(n - 1), at sizes
no exact method reaches.
"""

import dataclasses
import math

import pytest

from bp_qiskit import StudySpec
from bp_qiskit.core.propagation import exact_first_moment, exact_second_moment
from bp_qiskit.core.references import seed_exact_variance
from bp_qiskit.core.tensor_network import diagonal, network_first_moment, network_second_moment
from bp_qiskit.execution.predict import predict_cell
from bp_qiskit.execution.predict_circuit import projector_terms as _projector_terms
from bp_qiskit.execution.predict_methods import NETWORK_RELATIVE_ERROR
from bp_qiskit.execution.predict_methods import network_moment as _network
from bp_qiskit.execution.predict_program import _program


@pytest.mark.parametrize(
    ("ansatz", "kind", "layers"),
    [
        ("alternating_layered", "global", 2),
        ("alternating_layered", "local", 3),
        ("mcclean", "zz", 3),
        ("hardware_efficient", "local", 2),
        ("matchgate", "zz", 2),
        ("seed", "global", 1),
    ],
)
def test_the_network_equals_exact_propagation(ansatz, kind, layers):
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": ansatz, "qubits": [6], "layers": layers},
            "observable": {"kind": kind},
        }
    )
    for k in (0, 3, 5, None):
        program = _program(spec, 6, layers, k)
        exact = exact_second_moment(program)
        if kind == "global":  # the listed projector for exact, the product for the network
            program = dataclasses.replace(program, terms=(), projector=True)
        net = network_second_moment(program)
        assert net is not None and net.truncation < 1e-20
        assert net.value == pytest.approx(exact, rel=1e-10, abs=1e-300)


def test_cerezo_global_cost_at_n_8_equals_exact_propagation_to_1e_8():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "alternating_layered", "qubits": [8], "layers": 2},
            "observable": {"kind": "global"},
            "gradient": {"parameter": [0, 0]},
        }
    )
    exact = exact_second_moment(_program(spec, 8, 2, 0))
    product = dataclasses.replace(_program(spec, 8, 2, 0), terms=(), projector=True)
    assert network_second_moment(product).value == pytest.approx(exact, rel=1e-8)
    assert predict_cell(spec, 8, 2).grad_var == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("n", [16, 50, 100, 1000])
def test_the_seed_closed_form_at_any_n(n):
    spec = StudySpec.from_dict({"circuit": {"ansatz": "seed", "qubits": [n]}})
    p = predict_cell(spec, n, 1)
    assert p.method == "tensor_network" and p.max_bond is not None and p.truncation < 1e-10
    want = math.log10(1 / 16) + (n - 1) * math.log10((17 + 4 * math.sqrt(2)) / 48)
    got = p.log10_grad_var if p.grad_var == 0.0 else math.log10(p.grad_var)
    assert got == pytest.approx(want, abs=1e-9)
    if n <= 100:
        assert p.grad_var == pytest.approx(seed_exact_variance(n), rel=1e-9)


def test_a_deep_one_string_cost_runs_on_the_diagonal_pairs_and_equals_exact_propagation():
    # McClean at L = 50: the diagonal network (4 pair letters per qubit) against the exact
    # pair propagation, which holds every pair and so would see any leak off the diagonal.
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "qubits": [6], "layers": 50},
            "observable": {"kind": "zz"},
        }
    )
    program = _program(spec, 6, 50, 0)
    assert diagonal(program)
    net = network_second_moment(program, max_bond=128)
    assert net.truncation < 1e-20
    assert net.value == pytest.approx(exact_second_moment(program), rel=1e-10)


def test_the_diagonal_network_equals_the_full_pair_network():
    # The same chain on all 16 pairs per qubit: a different state space, the same number.
    spec = StudySpec.from_dict(
        {"circuit": {"ansatz": "mcclean", "qubits": [5], "layers": 4}, "observable": {"kind": "zz"}}
    )
    program = _program(spec, 5, 4, 2)
    reduced = network_second_moment(program)
    full = network_second_moment(program, reduce=False)
    assert reduced.value == pytest.approx(full.value, rel=1e-12)


@pytest.mark.parametrize("n", [8, 9])
def test_a_cut_networks_error_estimate_covers_its_error(n):
    # At bond 64 McClean's chain at L = 50 must cut; at 128 it needs no cut (exact). The
    # estimate (the change on halving the bond) must cover the cut value's true error.
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "qubits": [n], "layers": 50},
            "observable": {"kind": "zz"},
        }
    )
    program = _program(spec, n, 50, 0)
    uncut = network_second_moment(program, max_bond=128)
    assert uncut.truncation < 1e-20
    moment, cut = _network(program)
    assert cut.truncation > 1e-10 and moment.se > 0
    assert abs(moment.value - uncut.value) <= moment.se


def test_mcclean_at_depth_50_and_100_qubits_gets_a_value_with_its_error():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "qubits": [100], "layers": 50},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": "first"},
        }
    )
    p = predict_cell(spec, 100, 50)
    assert p.method == "tensor_network" and p.qubits_used == 100
    assert p.grad_var_se is not None and 0 < p.grad_var_se <= NETWORK_RELATIVE_ERROR * p.grad_var
    # At fixed depth a local cost's variance settles in n: n = 100 within the errors of
    # n = 16, a separate network on a different chain.
    at16 = predict_cell(spec, 16, 50)
    assert abs(p.grad_var - at16.grad_var) <= 3 * math.hypot(p.grad_var_se, at16.grad_var_se)


@pytest.mark.parametrize(
    ("ansatz", "kind", "layers"),
    [
        ("alternating_layered", "global", 2),
        ("hardware_efficient", "local", 2),
        ("mcclean", "zz", 3),
        ("seed", "global", 1),
    ],
)
def test_the_first_moment_network_equals_exact_first_moment(ansatz, kind, layers):
    # E[C] by the one-copy chain (the projector as a product) against the dictionary
    # propagation of exact_first_moment over listed strings.
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": ansatz, "qubits": [6], "layers": layers},
            "observable": {"kind": kind},
        }
    )
    program = _program(spec, 6, layers, None)
    listed = program
    if program.projector:
        listed = dataclasses.replace(program, terms=_projector_terms(6), projector=False)
    assert network_first_moment(program) == pytest.approx(
        exact_first_moment(listed), rel=1e-10, abs=1e-14
    )


def test_the_global_costs_var_c_by_network_equals_the_listed_projectors():
    spec = StudySpec.from_dict(
        {"circuit": {"ansatz": "seed", "qubits": [7]}, "observable": {"kind": "global"}}
    )
    listed = dataclasses.replace(
        _program(spec, 7, 1, None), terms=_projector_terms(7), projector=False
    )
    want = exact_second_moment(listed) - exact_first_moment(listed) ** 2
    assert predict_cell(spec, 7, 1).cost_var == pytest.approx(want, rel=1e-10)
