"""predict_variance reads any circuit: checked against closed forms and measurements.

The measurements are gradient_variance on Aer, exact, with a fixed seed; the tolerance is 3
standard errors of the measured variance (its own sample SE), as everywhere else.
"""

import itertools

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import Operator, SparseObservable, SparsePauliOp
from qiskit.quantum_info import Pauli as QiskitPauli

from bp_qiskit import StudySpec, gradient_variance, predict_variance
from bp_qiskit.core.propagation import Clifford, _conjugate, _conjugate_many
from bp_qiskit.errors import SpecError


def test_closed_forms():
    # RY(a)|0>, Z: C = cos a, dC = -sin a: Var[dC] = Var[C] = 1/2 over whole turns.
    qc = QuantumCircuit(1)
    qc.ry(Parameter("a"), 0)
    (p,) = predict_variance(qc, "Z")
    assert (p.grad_var, p.cost_var, p.method) == (0.5, 0.5, "exact")
    # RX(a) x RY(b), CZ, Z0 Z1: C = cos a cos b (CZ commutes with Z's): 1/4 each.
    qc = QuantumCircuit(2)
    qc.rx(Parameter("a"), 0)
    qc.ry(Parameter("b"), 1)
    qc.cz(0, 1)
    assert [(p.grad_var, p.cost_var) for p in predict_variance(qc, "ZZ")] == [(0.25, 0.25)] * 2
    # A fixed RY(pi/4) prepares the state: <X> after RZ(a) is sin(pi/4) cos a: Var = 1/4.
    qc = QuantumCircuit(1)
    qc.ry(np.pi / 4, 0)
    qc.rz(Parameter("a"), 0)
    (p,) = predict_variance(qc, "X")
    assert p.grad_var == pytest.approx(0.25) and p.cost_var == pytest.approx(0.25)


@pytest.mark.parametrize("gate", ["h", "x", "y", "z"])
def test_one_qubit_clifford_conjugation_matches_qiskit(gate):
    n = 2
    qc = QuantumCircuit(n)
    getattr(qc, gate)(1)
    g = Operator(qc)
    for x, z in itertools.product(range(4), repeat=2):

        def label(x, z):
            return "".join(
                "Y"
                if x >> q & 1 and z >> q & 1
                else "X"
                if x >> q & 1
                else "Z"
                if z >> q & 1
                else "I"
                for q in reversed(range(n))
            )

        want = g.adjoint() @ Operator(QiskitPauli(label(x, z))) @ g
        sign, (x2, z2) = _conjugate((x, z), Clifford(gate, 1, 1))
        assert np.allclose(want.data, sign * Operator(QiskitPauli(label(x2, z2))).data)
        xs, zs = np.array([x], dtype=np.uint64), np.array([z], dtype=np.uint64)
        signs = _conjugate_many(xs, zs, Clifford(gate, 1, 1))
        assert (int(xs[0]), int(zs[0]), signs[0]) == (x2, z2, sign)


def _measure(circuit, observable, samples, parameters):
    out = gradient_variance(circuit, observable, samples=samples, seed=7, parameters=parameters)
    return out.variance, out.variance_se


def test_cliffords_inside_the_circuit_agree_with_a_measurement():
    qc = QuantumCircuit(3)
    t = [Parameter(f"t{i}") for i in range(6)]
    for q in range(3):
        qc.ry(t[q], q)
    qc.h(1)
    qc.cx(0, 1)
    qc.x(2)
    qc.cz(1, 2)
    qc.y(0)
    for q in range(3):
        qc.rx(t[3 + q], q)
    qc.swap(0, 2)
    predicted = predict_variance(qc, "ZZI")
    var, se = _measure(qc, "ZZI", 2000, None)
    for p, v, s in zip(predicted, var, se, strict=True):
        assert p.method == "exact"
        assert abs(p.grad_var - v) <= 3 * s + 1e-12, (p.parameter, p.grad_var, v, s)


@pytest.mark.slow
def test_efficient_su2_at_six_qubits_agrees_with_4000_measured_circuits():
    circuit = efficient_su2(6, reps=1)
    chosen = [0, 3, 9, 14]
    predicted = predict_variance(circuit, "ZZIIII", parameters=chosen)
    var, se = _measure(circuit, "ZZIIII", 4000, chosen)
    assert any(p.grad_var > 1e-3 for p in predicted)  # not an all-zero comparison
    for p, v, s in zip(predicted, var, se, strict=True):
        assert abs(p.grad_var - v) <= 3 * s + 1e-12, (p.parameter, p.grad_var, v, s)


def test_what_cannot_be_predicted_is_one_error_naming_the_instruction():
    a = Parameter("a")
    reused = QuantumCircuit(2)
    reused.rx(a, 0)
    reused.rx(a, 1)
    with pytest.raises(SpecError, match=r"instruction 1 \(rx on qubits \[1\]\).*correlated"):
        predict_variance(reused, "ZZ")
    doubled = QuantumCircuit(1)
    doubled.rx(2 * a, 0)
    with pytest.raises(SpecError, match=r"instruction 0 .*not \+-a \+ constant"):
        predict_variance(doubled, "Z")
    late = QuantumCircuit(2)
    late.rx(a, 0)
    late.cx(0, 1)
    late.t(1)
    with pytest.raises(SpecError, match=r"instruction 2 \(t on qubits \[1\]\).*not a Clifford"):
        predict_variance(late, "ZZ")
    measured = QuantumCircuit(1, 1)
    measured.rx(a, 0)
    measured.measure(0, 0)
    with pytest.raises(SpecError, match="mid-circuit"):
        predict_variance(measured, "Z")


def test_a_factory_spec_is_predicted_from_its_own_circuit():
    from pathlib import Path

    from bp_qiskit import load_spec, run_study
    from bp_qiskit.execution.studies import with_predictions

    spec = load_spec(Path(__file__).resolve().parent.parent / "jobs" / "efficient_su2.toml")
    spec = spec.with_overrides(**{"circuit.qubits": [2, 3, 4, 5]})
    result = with_predictions(run_study(spec, progress=False).result, spec)
    for cell in result.cells:
        assert cell.predicted_method == "exact"
        z = (cell.grad_var - cell.predicted_grad_var) / cell.grad_var_se
        assert abs(z) <= 3, (cell.num_qubits, z)


@pytest.mark.slow
def test_the_device_noise_prediction_agrees_with_aers_noisy_simulation():
    """noisy_fake_device on aer:lagos: the device-noise prediction within 3 SE of the
    measurement; the noiseless one, which ignores the device, is not (it is the baseline)."""
    from pathlib import Path

    from bp_qiskit import load_spec, run_study
    from bp_qiskit.execution.predict import predict_cell

    spec = load_spec(Path(__file__).resolve().parent.parent / "jobs" / "noisy_fake_device.toml")
    spec = spec.variants()[0].with_overrides(
        **{"sampling.samples": 400, "circuit.qubits": [2, 3, 4]}
    )
    result = run_study(spec, progress=False).result
    noiseless = spec.with_overrides(**{"backend.name": "aer"})
    for c in result.cells:
        p = predict_cell(spec, c.num_qubits, c.num_layers)
        assert p.method == "exact" and "FakeLagosV2" in p.note
        assert abs(c.grad_var - p.grad_var) <= 3 * c.grad_var_se, (c.num_qubits, p.grad_var)
    last = result.cells[-1]
    clean = predict_cell(noiseless, last.num_qubits, last.num_layers).grad_var
    assert abs(last.grad_var - clean) > 3 * last.grad_var_se


@pytest.mark.slow
def test_a_factory_circuit_on_a_device_is_predicted_with_that_devices_noise():
    """efficient_su2 (RY, RZ, a CX chain) on aer:lagos, L = 8: each cell's device-noise
    prediction, gate by gate on the ISA's qubits, within 3 SE of Aer's noisy simulation with
    the same device's model; the noiseless prediction is not (the device matters here)."""
    from pathlib import Path

    from bp_qiskit import load_spec, run_study
    from bp_qiskit.execution.predict import predict_cell

    spec = load_spec(Path(__file__).resolve().parent.parent / "jobs" / "efficient_su2.toml")
    spec = spec.with_overrides(**{"backend.name": "aer:lagos", "circuit.qubits": [2, 3, 4],
                                  "circuit.layers": 8, "sampling.samples": 1000})  # fmt: skip
    noiseless = spec.with_overrides(**{"backend.name": "aer"})
    result = run_study(spec, progress=False).result
    for c in result.cells:
        p = predict_cell(spec, c.num_qubits, c.num_layers)
        assert p.method == "exact" and "FakeLagosV2" in p.note
        assert abs(c.grad_var - p.grad_var) <= 3 * c.grad_var_se, (c.num_qubits, p.grad_var)
    last = result.cells[-1]
    clean = predict_cell(noiseless, last.num_qubits, last.num_layers).grad_var
    assert abs(last.grad_var - clean) > 3 * last.grad_var_se


def test_a_device_the_circuit_does_not_run_on_as_read_gets_the_noiseless_prediction_and_why(
    tmp_path, monkeypatch
):
    # CX(0, 2) is not on the chain of qubits the circuit runs on: the gate-by-gate noise
    # would be made up, so the prediction is the noiseless one, and the note says why.
    import sys

    from bp_qiskit.execution.predict import predict_cell

    (tmp_path / "far_gates.py").write_text(
        "from qiskit import QuantumCircuit\n"
        "from qiskit.circuit import ParameterVector\n"
        "def build(n):\n"
        "    t = ParameterVector('t', n)\n"
        "    qc = QuantumCircuit(n)\n"
        "    for q in range(n):\n"
        "        qc.ry(t[q], q)\n"
        "    qc.cx(0, 2)\n"
        "    return qc\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "far_gates", raising=False)
    spec = StudySpec.from_dict({"circuit": {"factory": "far_gates:build", "qubits": [3]},
                                "observable": {"kind": "zz"},
                                "gradient": {"parameter": "first"},
                                "backend": {"name": "aer:lagos"}})  # fmt: skip
    clean = spec.with_overrides(**{"backend.name": "aer"})
    p = predict_cell(spec, 3, 1)
    assert p.grad_var == predict_cell(clean, 3, 1).grad_var > 0
    assert p.note.startswith("noiseless prediction: backend.name:"), p.note
    assert "not neighbours" in p.note or "routed" in p.note, p.note


def test_every_fixed_rotation_preset_is_predicted_as_its_running_circuit_reads():
    # The grammar's program (predict_cell) against the circuit the backend evaluates, read
    # gate by gate (predict_variance): equal for every preset whose rotations are fixed, with
    # every cost. A preset whose circuit and program drifted apart fails here. (Random
    # rotations are U gates whose type the bound values choose: the next test reads them
    # from the circuits a sample can be.)
    from bp_qiskit.core.grammar import PRESETS, RANDOM
    from bp_qiskit.execution.families import family_for, gradient_indices
    from bp_qiskit.execution.predict import predict_cell
    from bp_qiskit.results import Cell

    fixed = [name for name, g in PRESETS.items() if RANDOM not in g.rotations]
    assert len(fixed) >= 3
    for name in fixed:
        for kind in ("local", "zz", "global"):
            spec = StudySpec.from_dict({"circuit": {"ansatz": name, "layers": 2, "qubits": [4]},
                                        "observable": {"kind": kind},
                                        "gradient": {"parameter": "first"}})  # fmt: skip
            family = family_for(spec, Cell(4, 2))
            indices = [int(k) for k in gradient_indices(spec, family)]
            (read,) = predict_variance(family.template, family.observable, parameters=indices)
            assert read.grad_var == pytest.approx(predict_cell(spec, 4, 2).grad_var, rel=1e-12)


def _ry_then_cz_ladder(n: int, step: int = 1) -> QuantumCircuit:
    theta = ParameterVector("t", n)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(theta[q], q)
    for q in range(n - step):
        qc.cz(q, q + step)
    return qc


def test_a_users_own_chain_circuit_takes_the_global_cost_at_any_n_by_the_tensor_network():
    # RY(t_q) on every qubit, then a CZ ladder; the global projector. CZ|0..0> = |0..0>, so
    # C = prod_q cos^2(t_q / 2) and dC/dt_0 = -(sin t_0 / 2) prod_{q > 0} cos^2(t_q / 2):
    # Var[dC] = E[sin^2 / 4] E[cos^4(t / 2)]^(n - 1) = (1/8) (3/8)^(n - 1) (E[dC] = 0), and
    # Var[C] = (3/8)^n - (1/4)^n. The CZs act on the pair chain; only the total cancels.
    for n in (8, 16, 100):
        (p,) = predict_variance(_ry_then_cz_ladder(n), SparseObservable("0" * n), parameters=[0])
        assert p.method == "tensor_network" and p.truncation is not None and p.max_bond
        assert p.grad_var == pytest.approx(0.125 * 0.375 ** (n - 1), rel=1e-9)
        if n <= 64:
            assert p.cost_var == pytest.approx(0.375**n - 0.25**n, rel=1e-9)
        else:
            assert p.cost_var is None  # not computed beyond 64 qubits: None, never a guess
    # The same cost as 2^n listed strings (what it was read as before) agrees at n = 8.
    listed = SparsePauliOp.from_sparse_list(
        [("Z" * bin(z).count("1"), [q for q in range(8) if z >> q & 1], 2.0**-8)
         for z in range(2**8)], 8,
    )  # fmt: skip
    (exact,) = predict_variance(_ry_then_cz_ladder(8), listed, parameters=[0])
    assert exact.method == "exact"
    assert exact.grad_var == pytest.approx(0.125 * 0.375**7, rel=1e-12)


def test_a_circuit_no_method_reaches_is_one_error_naming_the_parameter():
    # CZ(q, q + 2) is off a chain, and Z on all 70 qubits keeps the whole light cone: past
    # path sampling's 64 qubits, with no tensor network to fall back on.
    qc = _ry_then_cz_ladder(70, step=2)
    with pytest.raises(SpecError, match=r"parameter t\[0\]: its light cone holds 70 qubits"):
        predict_variance(qc, "Z" * 70, parameters=[0])


def test_a_preset_at_sixteen_qubits_reads_as_its_running_circuit_by_the_same_method():
    # Both ways in (the spec's cell and the circuit the backend evaluates) reach the shared
    # method selection: beyond exact propagation, the same tensor network and the same value.
    from bp_qiskit.execution.families import family_for, gradient_indices
    from bp_qiskit.execution.predict import predict_cell
    from bp_qiskit.results import Cell

    spec = StudySpec.from_dict({"circuit": {"ansatz": "alternating_layered", "layers": 2,
                                            "qubits": [16]},
                                "observable": {"kind": "global"},
                                "gradient": {"parameter": "first"}})  # fmt: skip
    family = family_for(spec, Cell(16, 2))
    indices = [int(k) for k in gradient_indices(spec, family)]
    (read,) = predict_variance(family.template, family.observable, parameters=indices)
    cell = predict_cell(spec, 16, 2)
    assert read.method == cell.method == "tensor_network"
    assert read.grad_var == pytest.approx(cell.grad_var, rel=1e-12) and read.grad_var > 0


def _draw_program(circuits, observable, k):
    """The program of a random-rotation draw, read from the circuits it can produce.

    One circuit per letter of the random set, every random position that letter (the
    sample's literal circuit): each rotation's choices are what the circuits hold there,
    which is the draw when the positions are drawn independently and uniformly.
    """
    import dataclasses

    from bp_qiskit.core.light_cone import reduce_to_light_cone
    from bp_qiskit.core.propagation import Program, Rotation
    from bp_qiskit.execution.predict_circuit import projector_terms, read_program

    reads = [read_program(c, observable) for c in circuits]
    gates = []
    for column in zip(*(r.program.gates for r in reads), strict=True):
        if isinstance(column[0], Rotation):
            choices = tuple(dict.fromkeys(p for g in column for p in g.generators))
            gates.append(Rotation(choices))
        else:
            assert all(g == column[0] for g in column)  # the draw changes rotations only
            gates.append(column[0])
    index = reads[0].rotation_of[f"theta[{k}]"]
    gates[index] = dataclasses.replace(gates[index], differentiated=True)
    base = reads[0].program
    program = Program(base.num_qubits, tuple(gates), base.bloch, base.terms, base.projector)
    if program.projector:
        return Program(program.num_qubits, program.gates, program.bloch,
                       projector_terms(program.num_qubits))  # fmt: skip
    return reduce_to_light_cone(program)


@pytest.mark.parametrize("ansatz", ["seed", "mcclean", "product"])
def test_every_random_rotation_preset_is_predicted_as_the_circuits_it_draws_read(ansatz):
    # The grammar's program (predict_cell) against the literal circuits a sample can be,
    # read gate by gate: equal for every random-rotation preset, cost and parameter.
    from bp_qiskit.core.circuits import build_circuit
    from bp_qiskit.core.grammar import PRESETS
    from bp_qiskit.core.observables import make_observable
    from bp_qiskit.core.propagation import exact_second_moment
    from bp_qiskit.execution.predict import predict_cell

    n, layers = 4, 1 if ansatz == "seed" else 2
    grammar = PRESETS.get(ansatz)
    circuits = [
        grammar.literal(np.full((layers, n), c, dtype=np.int8))
        if grammar is not None
        else build_circuit(np.full((layers, n), c, dtype=np.int8), ansatz=ansatz)
        for c in range(3)
    ]
    values = []
    for kind in ("local", "zz", "global"):
        for parameter in ("first", "last"):
            spec = StudySpec.from_dict({"circuit": {"ansatz": ansatz, "layers": layers,
                                                    "qubits": [n]},
                                        "observable": {"kind": kind},
                                        "gradient": {"parameter": parameter}})  # fmt: skip
            k = 0 if parameter == "first" else n * layers - 1
            program = _draw_program(circuits, make_observable(spec.observable, n), k)
            read = exact_second_moment(program)
            assert read is not None
            assert read == pytest.approx(predict_cell(spec, n, layers).grad_var, rel=1e-12)
            values.append(read)
    # Not an all-zero comparison (zz's last parameter is outside Z0 Z1's light cone: 0).
    assert sum(v > 1e-4 for v in values) >= 3, values
