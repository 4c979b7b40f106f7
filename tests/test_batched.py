"""The vectorised numpy pass against Aer, the reference, on every built-in circuit and cost."""

from __future__ import annotations

import numpy as np
import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import aer, batched

CIRCUITS = [
    {"ansatz": "seed", "layers": 1},
    {"ansatz": "mcclean", "layers": 4},
    {"ansatz": "identity_blocks", "layers": 4},
    {"ansatz": "product", "layers": 2},
    {"ansatz": "hardware_efficient", "layers": 2},
    {"ansatz": "alternating_layered", "layers": 2},
    {"ansatz": "matchgate", "layers": 2},
]
COSTS = [
    {"kind": "global"},
    {"kind": "zz"},
    {"kind": "local"},
    {"kind": "pauli", "terms": ["X0 Y1", "Z2", "Y0 X2"], "coeffs": [0.5, -1.0, 0.25]},
]


def _run(circuit: dict, cost: dict, shots: int = 0):
    spec = StudySpec.from_dict(
        {
            "study": {"seed": 5},
            "circuit": {**circuit, "qubits": [3, 5]},
            "observable": cost,
            "gradient": {"parameter": "all", "method": "shift"},  # the PUBs under test
            "sampling": {"samples": 6, "shots": shots},
        }
    )
    return run_study(spec, progress=False).data


def spy_on(monkeypatch, name: str) -> list[bool]:
    """Record, per call of the estimator's ``aer.<name>``, whether that pass took the PUB."""
    used: list[bool] = []
    real = getattr(aer, name)

    def spy(*args):
        out = real(*args)
        used.append(out is not None)
        return out

    monkeypatch.setattr(aer, name, spy)
    return used


@pytest.mark.parametrize("circuit", CIRCUITS, ids=lambda c: c["ansatz"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c["kind"])
def test_the_batched_pass_gives_aers_values(circuit, cost, monkeypatch):
    used = spy_on(monkeypatch, "evaluate_batched")
    fast = _run(circuit, cost)
    assert used and all(used), "the batched pass was not taken"
    monkeypatch.setattr(batched, "MAX_QUBITS", 0)  # Aer for everything
    reference = _run(circuit, cost)
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_allclose(a.grads, b.grads, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.costs, b.costs, rtol=0, atol=1e-12)


def test_shots_are_drawn_from_the_same_distributions():
    """With shots, the two-valued groups read their probabilities through the exact path:
    the draws (same seeds) then agree to the last bit wherever the probabilities do."""
    fast = _run(CIRCUITS[0], COSTS[0], shots=100)
    batched_max = batched.MAX_QUBITS
    try:
        batched.MAX_QUBITS = 0
        reference = _run(CIRCUITS[0], COSTS[0], shots=100)
    finally:
        batched.MAX_QUBITS = batched_max
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(a.grads, b.grads)


def test_what_only_aer_can_do_falls_back():
    """An angle that is an expression (ISA circuits), a gate outside the table, or too many
    qubits: None, and the estimator uses Aer."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    from bp_qiskit.backends.aer_readout import exact_plan
    from bp_qiskit.core.observables import make_observable
    from bp_qiskit.spec.sections import ObservableSpec

    theta = Parameter("t")
    plans = [exact_plan(make_observable(ObservableSpec(kind="zz"), 2))]
    expr = QuantumCircuit(2)
    expr.rz(theta + 1.0, 0)
    assert batched.evaluate(expr, plans, np.zeros((3, 1))) is None
    odd = QuantumCircuit(2)
    odd.rzx(theta, 0, 1)
    assert batched.evaluate(odd, plans, np.zeros((3, 1))) is None
    wide = QuantumCircuit(batched.MAX_QUBITS + 1)
    assert batched.evaluate(wide, plans, np.zeros((3, 0))) is None
    ok = QuantumCircuit(2)
    ok.rx(theta, 0)
    ok.cx(0, 1)
    values = batched.evaluate(ok, plans, np.array([[0.0], [np.pi]]))
    np.testing.assert_allclose(values, [[1.0, 1.0]], atol=1e-15)  # Z0 Z1 of |00>, |11>
    assert (
        aer.AerEstimator()._batched
        and not aer.AerEstimator(backend_options={"method": "matrix_product_state"})._batched
    )
