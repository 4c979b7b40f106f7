"""The adjoint pass against the parameter-shift rule on Aer (the reference) and finite differences.

Oracles: Aer's shifted circuits (an independent simulator: the numpy pass is switched off for
them) on every preset and cost, a factory circuit with shared parameters and expressions,
and central finite differences of the forward pass alone for gates the presets do not use.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import SparseObservable, Statevector

# The same presets and costs as the numpy pass is checked on.
from test_batched import CIRCUITS, COSTS

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import batched
from bp_qiskit.backends.adjoint import compile_circuit, expectations, gradients
from bp_qiskit.core.gradients import shift_columns
from bp_qiskit.errors import SpecError


def _spec(circuit: dict, cost: dict, method: str, parameter="all", **sampling) -> StudySpec:
    return StudySpec.from_dict(
        {
            "study": {"seed": 5},
            "circuit": {**circuit, "qubits": [3, 5]},
            "observable": cost,
            "gradient": {"parameter": parameter, "method": method},
            "sampling": {"samples": 6, **sampling},
        }
    )


@pytest.mark.parametrize("circuit", CIRCUITS, ids=[c["ansatz"] for c in CIRCUITS])
@pytest.mark.parametrize("cost", COSTS, ids=[c["kind"] for c in COSTS])
def test_adjoint_gradients_are_aers_shifted_gradients(circuit, cost, monkeypatch):
    adjoint = run_study(_spec(circuit, cost, "adjoint"), progress=False)
    monkeypatch.setattr(batched, "MAX_QUBITS", 0)  # the shift rule on Aer itself
    shift = run_study(_spec(circuit, cost, "shift"), progress=False)
    for a, s in zip(adjoint.data, shift.data, strict=True):
        np.testing.assert_array_equal(a.params, s.params)  # the same draws
        np.testing.assert_allclose(a.grads, s.grads, rtol=0, atol=1e-10)
        np.testing.assert_allclose(a.costs, s.costs, rtol=0, atol=1e-10)
        assert a.gradient_method == "adjoint" and s.gradient_method is None
    assert [c.gradient_method for c in adjoint.result.cells] == ["adjoint", "adjoint"]


FACTORY = """
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter


def shared(num_qubits, num_layers):
    qc = QuantumCircuit(num_qubits)
    qc.h(0)
    for layer in range(num_layers):
        t = Parameter(f"t{layer}")
        for q in range(num_qubits):
            qc.ry(t, q)
        for q in range(num_qubits - 1):
            qc.cx(q, q + 1)
        qc.rz(2 * t + 0.1, num_qubits - 1)
        qc.rzz(-t, 0, 1)
    return qc
"""


def test_a_factory_with_shared_parameters_matches_the_shift_rule(tmp_path, monkeypatch):
    (tmp_path / "adjoint_factory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))

    def spec(method: str) -> StudySpec:
        return StudySpec.from_dict(
            {
                "circuit": {"factory": "adjoint_factory:shared", "qubits": [3], "layers": 3},
                "observable": {"kind": "pauli", "terms": ["X0 Z2"]},
                "gradient": {"parameter": "all", "method": method},
                "sampling": {"samples": 8},
            }
        )

    (a,) = run_study(spec("adjoint"), progress=False).data
    (s,) = run_study(spec("shift"), progress=False).data
    np.testing.assert_allclose(a.grads, s.grads, rtol=0, atol=1e-10)
    assert a.grads.shape == (8, 3) and a.costs is None and s.costs is None


def test_the_pass_matches_finite_differences_on_every_gate_it_takes():
    v = ParameterVector("v", 9)
    qc = QuantumCircuit(3)
    qc.h(1)
    qc.u(v[0], v[1], v[2], 0)
    qc.p(v[3], 1)
    qc.rx(v[4], 2)
    qc.cx(0, 1)
    qc.rxx(v[5], 1, 2)
    qc.ryy(v[6], 0, 2)
    qc.sx(0)
    qc.rzz(v[7], 0, 1)
    qc.rz(0.3, 2)
    qc.ry(v[8], 1)
    qc.cz(1, 2)
    obs = SparseObservable.from_sparse_list(
        [("0+", [0, 2], 1.0), ("Xr", [1, 0], -0.5), ("Z", [2], 0.25)], 3
    )
    program = compile_circuit(qc)
    assert program is not None
    rows = np.random.default_rng(3).uniform(0, 2 * np.pi, size=(4, 9))
    cost, grads = gradients(program, obs, rows, range(9))
    # Statevector (an independent simulator) for the cost; central differences for the rest.
    matrix = obs.to_sparse_list()
    for b in range(4):
        state = Statevector(qc.assign_parameters(rows[b]))
        want = sum(
            c * state.expectation_value(SparseObservable.from_sparse_list([(p, q, 1.0)], 3))
            for p, q, c in matrix
        )
        assert cost[b] == pytest.approx(float(np.real(want)), abs=1e-12)
    h = 1e-5
    for k in range(9):
        up, down = rows.copy(), rows.copy()
        up[:, k] += h
        down[:, k] -= h
        fd = (expectations(program, obs, up) - expectations(program, obs, down)) / (2 * h)
        np.testing.assert_allclose(grads[:, k], fd, rtol=0, atol=1e-8)


def test_what_the_pass_does_not_take_is_refused_or_shifted():
    t = Parameter("t")
    qc = QuantumCircuit(2)
    qc.rx(t, 0)
    qc.ry(t, 1)  # one parameter in two gates: its shift would move both
    assert compile_circuit(qc) is None
    qc = QuantumCircuit(2)
    qc.rx(2 * t, 0)  # an expression
    assert compile_circuit(qc) is None
    qc = QuantumCircuit(2)
    qc.crx(t, 0, 1)  # a gate outside the table
    assert compile_circuit(qc) is None
    values = np.zeros((1, 1, 2, 3))
    values[0, 0, 0, :2] = [0.5, 0.5]  # a pair that moves two columns
    assert shift_columns(values, np.pi / 2) is None


def test_method_selection_and_its_errors(tmp_path):
    mc = {"ansatz": "mcclean", "layers": 2}
    first = run_study(_spec(mc, {"kind": "zz"}, "auto", parameter="first"), progress=False)
    assert first.result.cells[0].gradient_method is None  # one pair: shift, bytes unchanged
    every = run_study(_spec(mc, {"kind": "zz"}, "auto"), progress=False)
    assert every.result.cells[0].gradient_method == "adjoint"
    with pytest.raises(SpecError, match=r"gradient.method: got 'adjoint'.*sampling.shots > 0"):
        _spec(mc, {"kind": "zz"}, "adjoint", shots=100)
    with pytest.raises(SpecError, match=r"gradient.method: got 'bogus'; allowed: 'auto'"):
        _spec(mc, {"kind": "zz"}, "bogus")
    noisy = {
        "circuit": {**mc, "qubits": [3]},
        "gradient": {"parameter": "all", "method": "adjoint"},
        "sampling": {"samples": 4},
        "backend": {"name": "aer", "options": {"depolarizing": [0.01, 0.02]}},
    }
    auto = StudySpec.from_dict({**noisy, "gradient": {"parameter": "all"}})
    assert run_study(auto, progress=False).data[0].gradient_method is None  # noisy: shift
    with pytest.raises(SpecError, match=r"gradient.method: got 'adjoint'.*noiseless"):
        StudySpec.from_dict(noisy)
    # An XY rotation is a PauliEvolutionGate: auto shifts, adjoint says why not.
    wide = {"ansatz": "hardware_efficient", "rotations": ["XY"], "layers": 1}
    shifted = run_study(_spec(wide, {"kind": "zz"}, "auto"), progress=False)
    assert shifted.data[0].gradient_method is None
    with pytest.raises(SpecError, match=r"gradient.method: got 'adjoint'.*gate or angle"):
        run_study(_spec(wide, {"kind": "zz"}, "adjoint"), progress=False)
    # The spec keeps its bytes under auto; results say adjoint only where it ran.
    assert "method" not in _spec(mc, {"kind": "zz"}, "auto").to_dict()["gradient"]
    assert _spec(mc, {"kind": "zz"}, "shift").to_dict()["gradient"]["method"] == "shift"
    cells = json.loads(json.dumps(every.result.to_dict()))["cells"]
    assert cells[0]["gradient_method"] == "adjoint"
    assert "gradient_method" not in first.result.to_dict()["cells"][0]


def test_the_table_names_the_method():
    from bp_qiskit.report.tables import format_table

    mc = {"ansatz": "mcclean", "layers": 2}
    every = run_study(_spec(mc, {"kind": "zz"}, "auto"), progress=False).result
    assert "gradients: adjoint pass" in format_table(every)
    first = run_study(_spec(mc, {"kind": "zz"}, "auto", parameter="first"), progress=False)
    assert "gradients: parameter shift" in format_table(first.result)


def test_gradient_variance_takes_the_pass_for_a_users_circuit():
    """A hand-built circuit with shared parameters: the same numbers as the shift rule."""
    from qiskit.circuit.library import efficient_su2

    from bp_qiskit import gradient_variance

    t = Parameter("t")
    circuit = efficient_su2(3, reps=2)
    circuit.rz(2 * t, 0)
    circuit.rx(t, 1)
    shift = gradient_variance(circuit, "ZZI", samples=6, seed=2, method="shift")
    adjoint = gradient_variance(circuit, "ZZI", samples=6, seed=2)  # auto
    assert (shift.method, adjoint.method) == ("shift", "adjoint")
    np.testing.assert_array_equal(adjoint.params, shift.params)
    np.testing.assert_allclose(adjoint.grads, shift.grads, rtol=0, atol=1e-10)
    np.testing.assert_allclose(adjoint.costs, shift.costs, rtol=0, atol=1e-12)
    one = gradient_variance(circuit, "ZZI", samples=6, seed=2, parameters=[circuit.parameters[-1]])
    assert one.method == "shift"  # one occurrence: two circuits cost what the pass does
    # The error names the argument the caller passed, not the spec key.
    with pytest.raises(SpecError, match=r"^method: got 'adjoint'; allowed: 'auto' or 'shift'"):
        gradient_variance(circuit, "ZZI", samples=6, seed=2, shots=100, method="adjoint")


@pytest.mark.parametrize(
    ("ansatz", "layers"), [("seed", 1), ("mcclean", 4), ("identity_blocks", 4)]
)
def test_a_random_ansatz_knows_its_layout_as_its_values_give_it(ansatz, layers):
    """RandomAnsatz.adjoint_layout skips building the shift values; it must say what
    shift_columns reads off them: the same columns, the same unshifted values."""
    from bp_qiskit.execution.families import family_for
    from bp_qiskit.results import Cell

    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": ansatz, "layers": layers, "qubits": [3]},
            "gradient": {"parameter": "all"},
        }
    )
    family = family_for(spec, Cell(3, layers))
    samples = family.draw(np.random.default_rng(3), 5)
    indices = np.arange(family.num_params)
    base, cols = family.adjoint_layout(samples, indices)
    generic = shift_columns(family.values(samples, indices), np.pi / 2)
    assert generic is not None
    np.testing.assert_array_equal(cols, generic[1])
    np.testing.assert_allclose(base, generic[0], rtol=0, atol=1e-15)
