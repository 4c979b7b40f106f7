"""Bring your own circuit: gradients against central finite differences of an independent
statevector evaluation (qiskit.quantum_info.Statevector, not the code under test)."""

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector

from bp_qiskit import gradient_variance
from bp_qiskit.errors import SpecError

H = 1e-5  # central differences: error O(H^2) ~ 1e-10, well inside the 1e-6 tolerance


def finite_difference(circuit, observable, theta):
    def cost(t):
        bound = circuit.assign_parameters(dict(zip(circuit.parameters, t, strict=True)))
        return float(np.real(Statevector(bound).expectation_value(observable)))

    grad = np.empty(len(theta))
    for k in range(len(theta)):
        step = np.zeros(len(theta))
        step[k] = H
        grad[k] = (cost(theta + step) - cost(theta - step)) / (2 * H)
    return grad, cost(theta)


def check_against_finite_differences(circuit, observable, **kw):
    res = gradient_variance(circuit, observable, samples=4, seed=11, **kw)
    assert res.params.shape == (4, circuit.num_parameters)
    assert res.grads.shape == (4, circuit.num_parameters) and res.costs.shape == (4,)
    for s in range(4):
        fd, cost = finite_difference(circuit, observable, res.params[s])
        np.testing.assert_allclose(res.grads[s], fd, atol=1e-6)
        assert res.costs[s] == pytest.approx(cost, abs=1e-9)
    return res


def test_efficient_su2_with_a_sparse_pauli_op_matches_finite_differences():
    circuit = efficient_su2(3, reps=2)
    obs = SparsePauliOp.from_list([("ZZI", 0.7), ("XIY", -0.3), ("IIZ", 0.5)])
    res = check_against_finite_differences(circuit, obs)
    assert res.parameters == tuple(p.name for p in circuit.parameters)
    assert np.all(res.variance > 0) and res.shots == 0


def test_a_parameter_in_several_gates_and_expressions_matches_finite_differences():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.rx(a, 0)
    qc.ry(2 * a + 0.3, 1)  # the same parameter again, scaled and offset
    qc.cz(0, 1)
    qc.rzz(a - b, 0, 1)  # two parameters in one angle
    qc.crx(b, 0, 1)  # not a Pauli rotation: decomposed into ones
    qc.ry(b, 0)
    res = check_against_finite_differences(qc, SparsePauliOp.from_list([("XZ", 1.0), ("YY", 0.5)]))
    assert res.parameters == ("a", "b")


def test_selected_parameters_seeds_and_errors():
    circuit = efficient_su2(2, reps=1)
    first = circuit.parameters[0]
    one = gradient_variance(circuit, "ZZ", samples=6, seed=3, parameters=[first, 3])
    again = gradient_variance(circuit, "ZZ", samples=6, seed=3, parameters=[first, 3])
    assert one.grads.shape == (6, 2) and one.parameters == (first.name, circuit.parameters[3].name)
    assert one.grads.tobytes() == again.grads.tobytes()  # the same seed, the same bytes
    assert np.all((0 <= one.params) & (one.params < 2 * math.pi))
    with pytest.raises(SpecError, match="observable: acts on 3 qubits"):
        gradient_variance(circuit, "ZZZ", samples=4, seed=1)
    with pytest.raises(SpecError, match="samples: got 1"):
        gradient_variance(circuit, "ZZ", samples=1, seed=1)
    with pytest.raises(SpecError, match="parameters: "):
        gradient_variance(circuit, "ZZ", samples=4, seed=1, parameters=[99])
    t = Parameter("t")
    nonlinear = QuantumCircuit(1)
    nonlinear.rx(t * t, 0)
    with pytest.raises(SpecError, match="not linear"):
        gradient_variance(nonlinear, "Z", samples=4, seed=1)


def test_only_the_differentiated_parameters_are_shifted():
    """One parameter of a 2-parameter-per-gate circuit: 3 evaluations per sample, not 1 + 2J.

    The oracle for the values is the all-parameters call on the same draws: its columns for
    the chosen parameters must be the same numbers.
    """
    from bp_qiskit.backends import make_backend

    t = Parameter("t")
    circuit = efficient_su2(3, reps=2)
    circuit.rz(2 * t, 0)  # t also enters through an expression, in a gate of its own
    circuit.rx(t, 1)
    backend = make_backend("aer")
    shapes = []
    evaluate = backend.evaluate

    def counting(tasks, **kw):
        shapes.extend(task.values.shape for task in tasks)
        return evaluate(tasks, **kw)

    backend.evaluate = counting  # type: ignore[method-assign]
    every = gradient_variance(circuit, "ZZI", samples=5, seed=2, backend=backend, method="shift")
    some = gradient_variance(circuit, "ZZI", samples=5, seed=2, backend=backend,
                             parameters=[t, 4], method="shift")  # fmt: skip
    k = list(circuit.parameters).index(t)
    assert shapes == [(5, 1 + 2 * (circuit.num_parameters + 1), circuit.num_parameters + 1),
                      (5, 1 + 2 * 3, circuit.num_parameters + 1)]  # fmt: skip
    np.testing.assert_allclose(some.grads, every.grads[:, [k, 4]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(some.costs, every.costs, rtol=0, atol=1e-12)


def test_shots_give_an_unbiased_corrected_variance_within_its_standard_error():
    circuit = efficient_su2(2, reps=1)
    exact = gradient_variance(circuit, "ZZ", samples=400, seed=5, parameters=[0])
    noisy = gradient_variance(circuit, "ZZ", samples=400, seed=5, parameters=[0], shots=200)
    assert noisy.shots == 200 and np.all(noisy.shot_var > 0)
    # Same draws: the corrected variance with shots estimates the exact one.
    np.testing.assert_array_equal(noisy.params, exact.params)
    diff = noisy.variance[0] - exact.variance[0]
    assert abs(diff) < 4 * noisy.variance_se[0]


def test_the_cost_variance_with_shots_is_corrected_for_shot_noise():
    # Same draws with and without shots: per sample, the corrected contribution with shots
    # minus the exact one has mean 0; its spread over the samples gives the standard error.
    # The raw variance is off by the shot noise, by more than 3 of those errors.
    circuit = efficient_su2(2, reps=1)
    kw = {"samples": 2000, "seed": 9, "parameters": [0]}
    exact = gradient_variance(circuit, "ZZ", **kw)
    noisy = gradient_variance(circuit, "ZZ", shots=16, **kw)
    s = len(noisy.costs)
    ev = exact.costs - exact.costs.mean()
    nv = noisy.costs - noisy.costs.mean()
    # A shot of ZZ is +-1: its single-shot variance is 1 - <ZZ>^2, over 16 shots (unbiased).
    shot_var = (1 - noisy.costs**2) / (16 - 1)
    d = (s / (s - 1)) * (nv**2 - ev**2) - shot_var
    se = np.std(d, ddof=1) / math.sqrt(s)
    raw = np.var(noisy.costs, ddof=1) - exact.cost_variance
    assert abs(noisy.cost_variance - exact.cost_variance) < 3 * se < abs(raw)


FACTORY = '''
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp


def shared(num_qubits, num_layers):
    """A parameter per layer shared by every qubit, plus one in an expression."""
    qc = QuantumCircuit(num_qubits)
    for layer in range(num_layers):
        t = Parameter(f"t{layer}")
        for q in range(num_qubits):
            qc.ry(t, q)
        for q in range(num_qubits - 1):
            qc.cx(q, q + 1)
        qc.rz(2 * t + 0.1, num_qubits - 1)
    obs = SparsePauliOp.from_sparse_list([("XZ", [0, num_qubits - 1], 1.0)], num_qubits)
    return qc, obs


def no_layers(num_qubits):
    qc = QuantumCircuit(num_qubits)
    qc.rx(Parameter("a"), 0)
    return qc
'''


def write_factory(tmp_path, monkeypatch):
    (tmp_path / "my_ansatz.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_spec_factory_runs_through_the_store_and_matches_finite_differences(
    tmp_path, monkeypatch
):
    import importlib

    from bp_qiskit import StudySpec, run_study
    from bp_qiskit.store import SQLiteStore

    write_factory(tmp_path, monkeypatch)
    spec = StudySpec.from_dict(
        {
            "study": {"name": "byo", "seed": 3},
            "circuit": {"factory": "my_ansatz:shared", "qubits": [2, 3], "layers": 2},
            "gradient": {"parameter": "all"},
            "sampling": {"samples": 6, "chunk": 4},
        }
    )
    assert spec.circuit.ansatz == "custom"
    assert StudySpec.from_dict(spec.to_dict()) == spec
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        outcome = run_study(spec, store=store, progress=False)
    module = importlib.import_module("my_ansatz")
    for data in outcome.data:
        n = data.cell.num_qubits
        circuit, obs = module.shared(n, 2)
        assert data.params.shape == (6, 2) and data.grads.shape == (6, 2)
        for s in range(6):
            fd, _ = finite_difference(circuit, obs, data.params[s])
            np.testing.assert_allclose(data.grads[s], fd, atol=1e-6)
    low, high = spec.circuit.angles
    assert all((d.params >= low).all() and (d.params < high).all() for d in outcome.data)


def test_a_library_function_is_a_factory_and_bad_factories_are_one_line(tmp_path, monkeypatch):
    from bp_qiskit import StudySpec, run_study

    base = {"study": {"name": "su2"}, "sampling": {"samples": 4}}
    spec = StudySpec.from_dict(
        {**base, "circuit": {"factory": "qiskit.circuit.library:efficient_su2", "qubits": [3],
                             "layers": 1}, "observable": {"kind": "zz"}}
    )  # fmt: skip
    (data,) = run_study(spec, progress=False).data
    assert data.params.shape == (4, efficient_su2(3, reps=1).num_parameters)
    write_factory(tmp_path, monkeypatch)
    bad = [
        ({"factory": "no_such_module_xyz:f"}, "cannot import module 'no_such_module_xyz'"),
        ({"factory": "my_ansatz:missing"}, "has no 'missing'"),
        ({"factory": "my_ansatz:no_layers", "layers": 2}, "takes none of num_layers"),
        ({"factory": "not a reference"}, "circuit.factory: got 'not a reference'"),
        ({"factory": "my_ansatz:shared", "ansatz": "mcclean"}, "circuit.ansatz: got 'mcclean'"),
    ]
    for circuit, message in bad:
        with pytest.raises(SpecError, match=message):
            run_study(
                StudySpec.from_dict({**base, "circuit": {"qubits": [2], **circuit}}),
                progress=False,
            )
