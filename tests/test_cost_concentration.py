"""Cost concentration: Var[C] over random angles, next to Var[dC], at no extra circuit.

Oracles: each sample's cost against an independent statevector evaluation of the circuit
written out here from the documented layout, and the seed circuit's closed form. For the seed
circuit CZ leaves |0...0> alone, so the global cost factorises over qubits,
C = prod_q f_q with f_q = P(0) after R(theta) RY(pi/4)|0>; averaging over R in {RX, RY, RZ}
and theta uniform gives E[f] = ((1 + c)/2 + 1)/3 and E[f^2] = (((1 + c)/2)^2 + 5/16 + 3/8)/3
with c = cos(pi/4), so Var[C_n] = E[f^2]^n - E[f]^(2n).
"""

import math

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from bp_qiskit import StudySpec, run_study

SIGMAS = 3.0
C = math.cos(math.pi / 4)
EF = ((1 + C) / 2 + 1) / 3
EF2 = (((1 + C) / 2) ** 2 + 5 / 16 + 3 / 8) / 3


def seed_cost_variance(n):
    return EF2**n - EF ** (2 * n)


def test_seed_cost_variance_matches_its_closed_form_with_and_without_shots():
    for shots, samples in ((0, 5000), (200, 3000)):
        spec = StudySpec.from_dict(
            {
                "study": {"seed": 11},
                "circuit": {"ansatz": "seed", "qubits": "2-5"},
                "sampling": {"samples": samples, "chunk": 1000, "shots": shots},
            }
        )
        for cell in run_study(spec, progress=False).result.cells:
            exact = seed_cost_variance(cell.num_qubits)
            assert abs(cell.cost_var - exact) < SIGMAS * cell.cost_var_se, (shots, cell)
            assert abs(cell.cost_mean - EF**cell.num_qubits) < SIGMAS * math.sqrt(
                (exact + cell.shot_noise_var) / cell.samples
            )


def literal_circuit(gates, angles):
    """McClean's layout, written out independently: RY(pi/4), then (rotations, CZ ladder) x L."""
    layers, n = gates.shape
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(math.pi / 4, q)
    for layer in range(layers):
        for q in range(n):
            getattr(qc, ("rx", "ry", "rz")[gates[layer, q]])(angles[layer * n + q], q)
        for q in range(n - 1):
            qc.cz(q, q + 1)
    return qc


def test_each_cost_is_the_circuit_at_the_shifted_angles():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "layers": 2, "qubits": [3]},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": 4},
            "sampling": {"samples": 6},
        }
    )
    (data,) = run_study(spec, progress=False).data
    zz = SparsePauliOp("IZZ")
    for s in range(6):
        angles = data.params[s].copy()
        angles[4] += math.pi / 2  # the + shift of the differentiated parameter
        want = Statevector(literal_circuit(data.gates[s], angles)).expectation_value(zz).real
        assert abs(data.costs[s] - want) < 1e-10


def test_no_cost_variance_where_the_shift_is_not_a_uniform_draw():
    spec = StudySpec.from_dict(
        {"circuit": {"qubits": [2, 3], "angles": [0, "pi"]}, "sampling": {"samples": 10}}
    )
    outcome = run_study(spec, progress=False)
    assert all(c.cost_var is None for c in outcome.result.cells)
    assert all(d.costs is None for d in outcome.data)
    assert np.isfinite([c.grad_var for c in outcome.result.cells]).all()


def test_the_closed_form_numbers_in_the_docs():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "specs.md").read_text()
    assert f"E[f^2] = {EF2:.4f} and\nE[f]^2 = {EF**2:.4f}" in docs
    assert f"ln {EF2:.4f} = {math.log(EF2):.3f}" in docs
