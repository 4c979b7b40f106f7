import math

import numpy as np
import pytest
from qiskit.quantum_info import Operator, Statevector

from bp_qiskit.core.circuits import (
    build_circuit,
    draw_samples,
    template_circuit,
    template_values,
)
from bp_qiskit.core.gradients import shift_parameters

SEED = 808


@pytest.mark.parametrize("ansatz,layers", [("seed", 1), ("mcclean", 3), ("identity_blocks", 4)])
def test_template_equals_literal_circuit_up_to_global_phase(ansatz, layers):
    rng = np.random.default_rng(SEED)
    n = 3
    cs = draw_samples(rng, 4, n, layers, ansatz=ansatz)
    tmpl = template_circuit(n, layers, ansatz=ansatz)
    values = template_values(cs.gates, cs.params)
    for s in range(4):
        lit = build_circuit(cs.gates[s], ansatz=ansatz).assign_parameters(cs.params[s])
        tem = tmpl.assign_parameters(values[s])
        assert Operator(lit).equiv(Operator(tem), atol=1e-10)


def test_parameter_layout_is_layer_major():
    """The angle on qubit q in layer l is parameter l*n + q, and it drives that very gate."""
    n, layers = 3, 2
    gates = np.array([[0, 1, 2], [2, 0, 1]], dtype=np.int8)
    qc = build_circuit(gates)
    names = [p.name for p in qc.parameters]
    assert names == [f"theta[{k}]" for k in range(n * layers)]
    rot = [
        (inst.operation.name, qc.find_bit(inst.qubits[0]).index, inst.operation.params[0])
        for inst in qc.data
        if inst.operation.name in ("rx", "ry", "rz")
        and not isinstance(inst.operation.params[0], float)
    ]
    for name, q, param in rot:
        k = int(param.name.split("[")[1][:-1])
        layer = k // n
        assert q == k % n
        assert name == ("rx", "ry", "rz")[gates[layer, q]]


def test_template_parameter_order_matches_values():
    qc = template_circuit(2, 2)
    assert [p.name for p in qc.parameters] == [f"u[{k}]" for k in range(12)]


@pytest.mark.parametrize(("k", "layers"), [(1, 4), (2, 4), (3, 12)])
def test_identity_blocks_are_identity_at_initialisation_but_not_tied(k, layers):
    rng = np.random.default_rng(SEED)
    n = 3
    cs = draw_samples(rng, 3, n, layers, ansatz="identity_blocks", block_depth=k)
    ref = Statevector.from_label("0" * n).evolve(build_circuit(np.zeros((0, n), np.int8)))
    tmpl = template_circuit(n, layers, ansatz="identity_blocks", block_depth=k)
    for s in range(3):
        qc = build_circuit(cs.gates[s], ansatz="identity_blocks", block_depth=k)
        sv = Statevector(qc.assign_parameters(cs.params[s]))
        assert sv.equiv(ref)
        values = template_values(cs.gates[s : s + 1], cs.params[s : s + 1])[0]
        assert Statevector(tmpl.assign_parameters(values)).equiv(ref)
        # Every block of 2k layers on its own is the identity too (not only the whole).
        block = build_circuit(cs.gates[s][: 2 * k], ansatz="identity_blocks", block_depth=k)
        assert Statevector(block.assign_parameters(cs.params[s][: 2 * k * n])).equiv(ref)
        # Moving one parameter of the second half away from its start must change the state:
        # the halves have independent parameters.
        moved = shift_parameters(cs.params[s : s + 1], np.array([n * 1 + 0]), 0.3)[0, 0, 0]
        assert not Statevector(qc.assign_parameters(moved)).equiv(ref)


def test_draws_are_seeded_and_in_range():
    a = draw_samples(np.random.default_rng(1), 50, 4, 2, angles=(0.0, math.pi))
    b = draw_samples(np.random.default_rng(1), 50, 4, 2, angles=(0.0, math.pi))
    assert np.array_equal(a.gates, b.gates) and np.array_equal(a.params, b.params)
    assert a.gates.dtype == np.int8 and a.gates.shape == (50, 2, 4)
    assert a.params.shape == (50, 8)
    assert a.params.min() >= 0 and a.params.max() < math.pi
    assert set(np.unique(a.gates)) == {0, 1, 2}
