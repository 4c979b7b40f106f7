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
from bp_qiskit.core.propagation import exact_second_moment
from bp_qiskit.core.references import seed_exact_variance
from bp_qiskit.core.tensor_network import network_second_moment
from bp_qiskit.execution.predict import _program, predict_cell


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
