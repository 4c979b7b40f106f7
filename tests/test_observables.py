import numpy as np
import pytest
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparseObservable, Statevector

from bp_qiskit.backends import AerEstimator
from bp_qiskit.core.circuits import draw_samples, template_circuit, template_values
from bp_qiskit.core.observables import (
    global_projector,
    is_diagonal,
    local_cost,
    pauli_sum,
    to_pauli_op,
    zz,
)
from bp_qiskit.spec import ObservableSpec

SEED = 11
EXACT_TOL = 1e-10


def _random_values(n, layers=2, samples=6):
    cs = draw_samples(np.random.default_rng(SEED), samples, n, layers)
    return template_circuit(n, layers), template_values(cs.gates, cs.params)


OBSERVABLES = {
    "global": global_projector,
    "zz": zz,
    "local": local_cost,
    "pauli": lambda n: pauli_sum(["X0 Y1", "Z2", "X1 Z3", "Y0"], [0.3, 1.0, -0.5, 0.7], n),
    "mixed": lambda n: SparseObservable.from_sparse_list(
        [("0X", [0, 2], 0.5), ("1Z", [1, 3], -1.0), ("01", [2, 3], 2.0), ("", [], 0.25)], n
    ),
}


@pytest.mark.parametrize("name", OBSERVABLES)
def test_native_evaluation_agrees_with_pauli_expansion(name):
    n = 4
    obs = OBSERVABLES[name](n)
    tmpl, values = _random_values(n)
    native = AerEstimator().run([(tmpl, obs, values)]).result()[0].data.evs
    expanded = StatevectorEstimator().run([(tmpl, to_pauli_op(obs), values)]).result()[0].data.evs
    assert native.shape == (6,)
    np.testing.assert_allclose(native, expanded, atol=EXACT_TOL)


def test_projector_against_amplitude_of_the_state():
    n = 5
    tmpl, values = _random_values(n, samples=3)
    evs = AerEstimator().run([(tmpl, global_projector(n), values)]).result()[0].data.evs
    for s in range(3):
        p0 = abs(Statevector(tmpl.assign_parameters(values[s])).data[0]) ** 2
        assert evs[s] == pytest.approx(p0, abs=EXACT_TOL)


def test_projector_is_one_term_and_expansion_is_refused_when_huge():
    obs = global_projector(24)
    assert len(obs) == 1
    with pytest.raises(ValueError, match=r"16777216 Pauli terms"):
        to_pauli_op(obs)
    assert len(to_pauli_op(global_projector(3))) == 8


def test_projector_at_20_qubits_is_evaluated_without_expansion():
    n = 20
    tmpl, values = _random_values(n, layers=1, samples=2)
    evs = AerEstimator().run([(tmpl, global_projector(n), values)]).result()[0].data.evs
    # Product-state check: with one layer and a CZ ladder the |0..0> probability factorises.
    assert np.all((evs >= 0) & (evs <= 1))
    qc = tmpl.assign_parameters(values[0]).remove_final_measurements(inplace=False)
    qc.data = [inst for inst in qc.data if inst.operation.name != "cz"]
    per_qubit = [abs(Statevector(qc).probabilities([q])[0]) for q in range(n)]
    assert evs[0] == pytest.approx(np.prod(per_qubit), rel=1e-8)


def test_observable_constructors():
    assert is_diagonal(global_projector(3)) and is_diagonal(local_cost(3)) and is_diagonal(zz(3))
    assert not is_diagonal(pauli_sum(["X0"], [1.0], 2))
    assert zz(3).to_sparse_list() == [("ZZ", [0, 1], 1.0)]
    assert local_cost(4).to_sparse_list()[0] == ("0", [0], 0.25)
    with pytest.raises(ValueError, match="terms: 'Z4' acts outside 3 qubits"):
        pauli_sum(["Z4"], [1.0], 3)
    spec = ObservableSpec(kind="pauli", terms=("Z0 Z1", "X2"), coeffs=(1.0, -2.0))
    assert spec.min_qubits() == 3


def test_estimator_broadcasting_follows_estimator_v2_rules():
    n = 3
    tmpl, values = _random_values(n, samples=4)
    obs = [[global_projector(n)], [zz(n)]]  # shape (2, 1)
    res = AerEstimator().run([(tmpl, obs, values)]).result()[0]
    assert res.data.evs.shape == (2, 4)
    single = AerEstimator().run([(tmpl, zz(n), values)]).result()[0].data.evs
    np.testing.assert_allclose(res.data.evs[1], single, atol=0)
    assert np.all(res.data.stds == 0) and res.metadata["shots"] == 0


def test_pauli_costs_saved_on_their_own_qubits_give_the_full_register_values(monkeypatch):
    """Aer simulates only the observable's light cone; the values must not change."""
    from qiskit.quantum_info import SparsePauliOp

    from bp_qiskit import StudySpec, run_study
    from bp_qiskit.backends import aer_reads

    support, reduced = aer_reads.restrict_to_support(SparsePauliOp(["IZIX", "IIZY"], [0.5, -1.0]))
    assert support == [0, 1, 2] and list(reduced.paulis.to_labels()) == ["ZIX", "IZY"]
    assert list(reduced.coeffs) == [0.5, -1.0]
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "layers": 3, "qubits": [6]},
            "observable": {"kind": "pauli", "terms": ["Z0 X2", "Y1"], "coeffs": [1.0, 0.3]},
            "gradient": {"parameter": "all", "method": "shift"},  # through Aer
            "sampling": {"samples": 8},
        }
    )
    (own,) = run_study(spec, progress=False).data
    monkeypatch.setattr(aer_reads, "restrict_to_support", lambda op: ([], op))  # all n qubits
    (full,) = run_study(spec, progress=False).data
    np.testing.assert_allclose(own.grads, full.grads, atol=1e-12)


def test_a_shallow_local_cost_runs_per_light_cone_with_the_union_values(monkeypatch):
    """Cerezo's local cost at L = 2 on 12 qubits: one Aer run per distinct light cone (each
    a few qubits) instead of one on all 12, with the same gradients to 1e-12; at a depth
    where the cones cover the register, one run stays."""
    from bp_qiskit import StudySpec, run_study
    from bp_qiskit.backends import aer

    def spec(layers: int) -> StudySpec:
        return StudySpec.from_dict(
            {
                "circuit": {"ansatz": "alternating_layered", "layers": layers, "qubits": [12]},
                "observable": {"kind": "local"},
                "gradient": {"parameter": [0, 0]},
                "sampling": {"samples": 6},
            }
        )

    chosen = aer.arrange
    runs: list[list[int]] = []

    def counting(circuit, reads):
        out = chosen(circuit, reads)
        runs.append([width for _, width in out])
        return out

    monkeypatch.setattr(aer, "arrange", counting)
    (split,) = run_study(spec(2), progress=False).data
    assert all(len(r) > 1 and max(r) < 12 for r in runs)
    runs.clear()
    run_study(spec(12), progress=False)
    assert all(r == [12] for r in runs)

    def union(circuit, reads):
        return [(reads, circuit.num_qubits)]

    monkeypatch.setattr(aer, "arrange", union)
    (whole,) = run_study(spec(2), progress=False).data
    np.testing.assert_allclose(split.grads, whole.grads, atol=1e-12)


def test_a_24_qubit_mcclean_study_simulates_only_its_cost_light_cone(tmp_path):
    """McClean L = 10 at n = 24 with Z0 Z1: the light cone is 12 qubits, so the run's peak
    memory stays below what the 24-qubit statevector alone would take (256 MiB)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    spec = Path(__file__).resolve().parent.parent / "jobs" / "mcclean2018.toml"
    cli = Path(sys.executable).parent / "bp-qiskit"
    args = [str(cli), "run", str(spec), "--qubits", "24", "--layers", "10", "--samples", "10"]
    args += ["--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "o"), "--no-plot"]
    subprocess.run([*args, "--no-progress"], check=True, capture_output=True)
    resources = json.loads((tmp_path / "o" / "resources.json").read_text())
    assert resources["peak_memory_mib"]["24_10"] < 16 * 2**24 / 2**20
    (cell,) = json.loads((tmp_path / "o" / "results.json").read_text())["cells"]
    assert cell["num_qubits"] == 24 and cell["grad_var"] > 0


def test_an_unknown_observable_kind_is_a_spec_error_not_the_zero_operator():
    import types

    import pytest

    from bp_qiskit.core.observables import make_observable
    from bp_qiskit.errors import SpecError

    spec = types.SimpleNamespace(kind="globl", terms=(), coeffs=())
    with pytest.raises(SpecError, match=r"observable\.kind: got 'globl'; allowed: global"):
        make_observable(spec, 3)
