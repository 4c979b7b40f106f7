"""Predictions by Pauli propagation against closed forms, matrices and measurements."""

import itertools
import math
import re

import numpy as np
import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.core import propagation as pp
from bp_qiskit.core.four_copies import exact_fourth_moment, sampled_fourth_moment
from bp_qiskit.core.gradients import parameter_indices
from bp_qiskit.core.grammar import Grammar
from bp_qiskit.core.light_cone import reduce_to_light_cone
from bp_qiskit.core.path_sampling import sampled_second_moment
from bp_qiskit.core.references import mcclean_two_design_limit, seed_exact_variance
from bp_qiskit.execution.predict import predict_cell
from bp_qiskit.execution.predict_bound import projector_bound
from bp_qiskit.execution.predict_program import _program

SIGMAS = 3.0
P = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
     "Z": np.diag([1, -1])}  # fmt: skip

# Methods that compute a value without error: exact propagation, and the tensor network
# where it cut nothing (the global projector as a product on a chain).
UNCUT = ("exact", "tensor_network")


def matrix(p, n):
    """The Hermitian Pauli of (x, z) masks, qubit 0 least significant."""
    out = np.array([[1.0 + 0j]])
    for q in reversed(range(n)):
        letter = {(0, 0): "I", (1, 0): "X", (1, 1): "Y", (0, 1): "Z"}[
            (p[0] >> q & 1, p[1] >> q & 1)
        ]
        out = np.kron(out, P[letter])
    return out


def all_paulis(n):
    return [(x, z) for x in range(2**n) for z in range(2**n)]


def test_pauli_algebra_and_clifford_signs_match_matrices():
    n = 3
    cz = np.diag([(-1.0) ** ((i & 1) * (i >> 1 & 1)) for i in range(8)])
    cx = np.zeros((8, 8))
    for i in range(8):
        cx[i ^ 2 if i & 1 else i, i] = 1  # control 0, target 1
    cx_back = np.zeros((8, 8))
    for i in range(8):
        cx_back[i ^ 1 if i & 4 else i, i] = 1  # control 2, target 0
    gates = (
        (pp.Clifford("cz", 0, 1), cz),
        (pp.Clifford("cx", 0, 1), cx),
        (pp.Clifford("cx", 2, 0), cx_back),
    )
    for p in all_paulis(n):
        for gate, m in gates:
            sign, image = pp._conjugate(p, gate)
            np.testing.assert_allclose(m @ matrix(p, n) @ m, sign * matrix(image, n), atol=1e-12)
            x, z = np.array([p[0]], np.uint64), np.array([p[1]], np.uint64)
            signs = pp._conjugate_many(x, z, gate)
            assert (int(x[0]), int(z[0])) == image and signs[0] == sign
    rng = np.random.default_rng(3)
    for _ in range(200):
        p, g = (tuple(int(v) for v in rng.integers(0, 8, 2)) for _ in range(2))
        e, r = pp._times(p, g)
        np.testing.assert_allclose(matrix(p, n) @ matrix(g, n), 1j**e * matrix(r, n), atol=1e-12)
        anti = not np.allclose(matrix(p, n) @ matrix(g, n), matrix(g, n) @ matrix(p, n))
        assert pp._anticommutes(p, g) == anti
        x, z, gx, gz = (np.array([v], np.uint64) for v in (*p, *g))
        assert bool(pp._anticommute_many(x, z, gx, gz)[0]) == anti
        if anti:
            s, q = pp._branch(p, g)
            np.testing.assert_allclose(-1j * matrix(p, n) @ matrix(g, n), s * matrix(q, n))
            signs, nx, nz = pp._branch_many(x, z, gx, gz)
            assert (signs[0], int(nx[0]), int(nz[0])) == (s, *q)


@pytest.mark.slow
def test_exact_propagation_reproduces_the_seed_closed_form():
    spec = StudySpec.from_dict({"circuit": {"qubits": [2]}})
    for n in range(2, 9):
        p = predict_cell(spec, n, 1)
        assert p.method in UNCUT and p.grad_var_se is None
        assert abs(p.grad_var - seed_exact_variance(n)) < 1e-12 * seed_exact_variance(n) + 1e-15


def test_mcclean_prediction_approaches_the_two_design_limit_with_depth():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "qubits": [4], "layers": 2},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": "first"},
        }
    )
    values = [predict_cell(spec, 4, layers).grad_var for layers in (2, 8, 32, 128)]
    limit = mcclean_two_design_limit(4)
    gaps = [v - limit for v in values]
    assert all(g > 0 for g in gaps) and gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-3 * limit


CIRCUITS = {
    "seed": {"ansatz": "seed"},
    "mcclean": {"ansatz": "mcclean", "layers": 3},
    "product": {"ansatz": "product", "layers": 3},
    "alternating_layered": {"ansatz": "alternating_layered", "layers": 3},
    "hardware_efficient": {"ansatz": "hardware_efficient", "layers": 3},
    "matchgate": {"ansatz": "matchgate", "layers": 3},
}
COSTS = {
    "global": {"kind": "global"},
    "local": {"kind": "local"},
    "zz": {"kind": "zz"},
    "pauli": {"kind": "pauli", "terms": ["X0 X1", "Z2", "Y1 Z3"], "coeffs": [0.5, 1.0, -0.7]},
}


@pytest.mark.slow
@pytest.mark.parametrize(("circuit", "cost"), list(itertools.product(CIRCUITS, COSTS)))
def test_exact_prediction_agrees_with_measurement(circuit, cost):
    spec = StudySpec.from_dict(
        {
            "study": {"seed": 5},
            "circuit": {**CIRCUITS[circuit], "qubits": [4]},
            "observable": COSTS[cost],
            "gradient": {"parameter": [0, 1]},
            "sampling": {"samples": 4000, "chunk": 4000},
        }
    )
    (cell,) = run_study(spec, progress=False).result.cells
    p = predict_cell(spec, 4, cell.num_layers)
    assert p.method in UNCUT and p.grad_var_se is None
    assert abs(cell.grad_var - p.grad_var) < SIGMAS * cell.grad_var_se + 1e-12
    if p.cost_var is not None:
        assert abs(cell.cost_var - p.cost_var) < SIGMAS * cell.cost_var_se + 1e-12


@pytest.mark.parametrize("circuit", ["mcclean", "alternating_layered", "matchgate"])
def test_sampled_paths_agree_with_exact_propagation(circuit):
    spec = StudySpec.from_dict(
        {
            "circuit": {**CIRCUITS[circuit], "qubits": [5]},
            "observable": COSTS["local"],
            "gradient": {"parameter": [1, 0]},
        }
    )
    grammar = spec.circuit.grammar() or Grammar()
    (k,) = parameter_indices([1, 0], grammar.num_params(5, 3), 3)
    program = _program(spec, 5, 3, int(k))
    exact = pp.exact_second_moment(program)
    sampled = sampled_second_moment(program, 200_000, np.random.default_rng(1))
    assert sampled.method == "monte_carlo" and sampled.se > 0
    assert abs(sampled.value - exact) < SIGMAS * sampled.se


def test_the_light_cone_reduction_is_exact_and_shrinks_the_problem():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "alternating_layered", "layers": 2, "qubits": [8]},
            "observable": {"kind": "local"},
            "gradient": {"parameter": [0, 0]},
        }
    )
    full = _program(spec, 8, 2, 0)
    reduced = reduce_to_light_cone(full)
    assert reduced.num_qubits < 8 and len(reduced.terms) < 8
    assert pp.exact_second_moment(reduced) == pytest.approx(pp.exact_second_moment(full), rel=1e-12)


def test_large_n_local_cost_is_predicted_and_small_n_unresolved_is_a_bound():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "alternating_layered", "layers": 10, "qubits": [4]},
            "observable": {"kind": "local"},
            "gradient": {"parameter": [0, 0]},
        }
    )
    p = predict_cell(spec, 1000, 10)
    assert p.method in ("exact", "monte_carlo") and p.grad_var > 0 and p.qubits_used < 40
    # A 40-qubit global cost after 40 layers: every path dies, and the answer is a bound.
    deep = StudySpec.from_dict({"circuit": {"ansatz": "mcclean", "layers": 40, "qubits": [4]},
                                "gradient": {"parameter": "first"}})  # fmt: skip
    b = predict_cell(deep, 40, 40, paths=2000)
    assert b.method == "bound" and b.grad_var == 0 and 0 < b.upper_bound <= 3 / 2000


@pytest.mark.parametrize(
    "ansatz", ["seed", "mcclean", "product", "alternating_layered", "hardware_efficient",
               "matchgate"])  # fmt: skip
def test_the_light_cone_bound_holds_for_the_global_cost(ansatz):
    # Oracle: the exact propagation of the whole projector (4^n pairs) at n = 4..6.
    for n, layers in [(4, 1), (5, 2), (6, 2)]:
        layers = 1 if ansatz == "seed" else layers
        spec = StudySpec.from_dict({"circuit": {"ansatz": ansatz, "layers": layers,
                                                "qubits": [n]}})  # fmt: skip
        k = 0 if ansatz == "seed" else 1
        program = _program(spec, n, layers, k)
        exact = pp.exact_second_moment(program)
        bound = projector_bound(program)
        assert bound.method == "bound" and bound.upper_bound >= exact > 0, (n, layers)


def test_the_light_cone_bound_factorises_over_disjoint_cones():
    # Alternating layered, L = 1, n = 8, gradient of RY on qubit 0: the cones are the brick
    # pairs {0,1}, {2,3}, {4,5}, {6,7}, so the bound is 1/2 E[(E_theta C_S)^2] for
    # S = {0, 2, 4, 6}. Computed here on the whole 8-qubit program in one propagation.
    spec = StudySpec.from_dict({"circuit": {"ansatz": "alternating_layered", "layers": 1,
                                            "qubits": [8]}})  # fmt: skip
    program = _program(spec, 8, 1, 0)
    gates = tuple(
        pp.Rotation(g.generators, averaged=True) if getattr(g, "differentiated", False) else g
        for g in program.gates
    )
    s = [0, 2, 4, 6]
    terms = tuple(pp.Term(2.0**-4, (0, sum(1 << q for q in sub)))
                  for r in range(5) for sub in itertools.combinations(s, r))  # fmt: skip
    whole = pp.exact_second_moment(pp.Program(8, gates, program.bloch, terms))
    assert projector_bound(program).upper_bound == pytest.approx(0.5 * whole, rel=1e-12)


def test_a_cone_too_wide_for_the_bound_says_so():
    spec = StudySpec.from_dict({"circuit": {"ansatz": "mcclean", "layers": 50, "qubits": [4]},
                                "gradient": {"parameter": "first"}})  # fmt: skip
    p = predict_cell(spec, 100, 50)
    assert p.method == "none" and p.grad_var is None and "too wide" in p.note


def test_what_the_predictor_cannot_read_it_says():
    notes = {
        "identity_blocks": {"ansatz": "identity_blocks", "layers": 2},
        "angles": {"ansatz": "mcclean", "angles": [0, "pi"]},
    }
    for expected, circuit in notes.items():
        p = predict_cell(StudySpec.from_dict({"circuit": {**circuit, "qubits": [3]}}), 3, 2)
        assert p.grad_var is None and p.method == "none"
        assert ("identity blocks" if expected == "identity_blocks" else "whole turns") in p.note
    noisy = StudySpec.from_dict({"circuit": {"qubits": [2]}, "backend": {"name": "aer:manila"}})
    assert "with the noise of FakeManilaV2 on qubits" in predict_cell(noisy, 2, 1).note
    assert math.isfinite(predict_cell(noisy, 2, 1).grad_var)
    # A QPU with no calibration snapshot here: the noiseless prediction, and it says so.
    unknown = StudySpec.from_dict(
        {"circuit": {"qubits": [2]}, "sampling": {"shots": 100}, "backend": {"name": "ibm:ibm_x"}}
    )
    assert "noiseless prediction: no calibration snapshot" in predict_cell(unknown, 2, 1).note


def test_the_predict_command_prints_json_per_cell_and_cost_and_writes_a_plot(tmp_path, capsys):
    import json
    from pathlib import Path

    from bp_qiskit.cli import main

    spec = Path(__file__).resolve().parent.parent / "jobs" / "cerezo2021.toml"
    args = ["predict", str(spec), "--qubits", "4,1000", "--layers", "2", "--paths", "2000"]
    assert main([*args, "--json", "--no-progress", "--out", str(tmp_path / "p")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["num_qubits"], r["observable"]) for r in rows] == [
        (4, "global"), (1000, "global"), (4, "local"), (1000, "local")]  # fmt: skip
    for r in rows:
        assert {"num_qubits", "num_layers", "observable", "grad_var", "grad_var_se", "method",
                "upper_bound"} <= set(r)  # fmt: skip
    # n = 4: the projector as a product through the uncut network (exact to rounding).
    assert rows[0]["method"] == "tensor_network" and rows[0]["grad_var_se"] is None
    # The global cost at n = 1000: the tensor network's value, below the smallest float, so
    # given by its log10; it lies below the rigorous light-cone bound (2^-52 there).
    assert rows[1]["method"] == "tensor_network" and rows[1]["grad_var"] == 0
    assert rows[1]["log10_grad_var"] < -400 and rows[1]["truncation"] < 1e-10
    assert rows[1]["max_bond"] >= 1
    # The local cost at n = 1000 and L = 2: exact after the light-cone cut, 1 / (8 n^2).
    assert rows[3]["method"] == "exact" and rows[3]["grad_var"] == pytest.approx(1 / 8e6)
    assert (tmp_path / "p" / "predicted.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["predict", str(spec), "--qubits", "0"]) == 2
    assert "--qubits: got 0" in capsys.readouterr().err


def test_predicting_many_cells_says_how_many_first(capsys, monkeypatch):
    """A range such as --qubits 10-1000 is hundreds of cells: one line to stderr says so
    before the work starts, and the rows still come back in the order asked."""
    import json
    from pathlib import Path

    from bp_qiskit.cli import main
    from bp_qiskit.cli import predict as command

    monkeypatch.setattr(command, "MANY_CELLS", 2)
    spec = Path(__file__).resolve().parent.parent / "jobs" / "seed_tutorial.toml"
    assert main(["predict", str(spec), "--qubits", "2-4", "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "predicting 3 cells" in captured.err
    assert "--qubits 10,100,1000" in captured.err
    assert [r["num_qubits"] for r in json.loads(captured.out)] == [2, 3, 4]
    assert main(["predict", str(spec), "--qubits", "2,3", "--json", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_run_predict_puts_the_prediction_beside_every_cell(tmp_path, capsys):
    import json
    from pathlib import Path

    from bp_qiskit.cli import main

    spec = Path(__file__).resolve().parent.parent / "jobs" / "seed_tutorial.toml"
    out = tmp_path / "o"
    args = ["run", str(spec), "--qubits", "2-4", "--samples", "50", "--predict", "--no-progress"]
    assert main([*args, "--store", str(tmp_path / "s.sqlite"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "predicted" in printed and "tensor_network" in printed
    for cell in json.loads((out / "results.json").read_text())["cells"]:
        assert cell["predicted_method"] == "tensor_network"
        assert cell["predicted_grad_var_se"] is None
        assert cell["predicted_grad_var"] == pytest.approx(seed_exact_variance(cell["num_qubits"]))
    sid = json.loads((out / "results.json").read_text())["study_id"]
    plain = tmp_path / "plain"
    report = ["report", sid, "--store", str(tmp_path / "s.sqlite"), "--out", str(plain)]
    assert main([*report, "--no-predict"]) == 0
    assert "predicted_method" not in (plain / "results.json").read_text()
    # By default, report predicts as run does.
    assert main([*report[:-1], str(tmp_path / "again")]) == 0
    assert (
        '"predicted_method": "tensor_network"' in (tmp_path / "again" / "results.json").read_text()
    )


@pytest.mark.slow
def test_depolarising_prediction_agrees_with_aer_density_matrices():
    """backend.options.depolarizing: Aer's exact noisy expectations against the prediction."""
    spec = StudySpec.from_dict(
        {
            "study": {"seed": 9},
            "circuit": {"ansatz": "mcclean", "layers": 3, "qubits": [2, 3]},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": "first"},
            "sampling": {"samples": 2000, "chunk": 2000},
            "backend": {"name": "aer", "options": {"depolarizing": [0.02, 0.05]}},
        }
    )
    noiseless = StudySpec.from_dict({**spec.to_dict(), "backend": {"name": "aer"}})
    for cell in run_study(spec, progress=False).result.cells:
        p = predict_cell(spec, cell.num_qubits, cell.num_layers)
        assert p.method == "exact" and "depolarising" in p.note
        assert abs(cell.grad_var - p.grad_var) < SIGMAS * cell.grad_var_se
        assert abs(cell.cost_var - p.cost_var) < SIGMAS * cell.cost_var_se
        # Noise flattens the landscape: the noisy prediction is below the noiseless one.
        assert p.grad_var < predict_cell(noiseless, cell.num_qubits, cell.num_layers).grad_var


def test_depolarising_noise_is_an_aer_option_only():
    from bp_qiskit.spec import SpecError

    with pytest.raises(SpecError, match=r"backend\.options\.depolarizing: got \[0\.5, 2\]"):
        StudySpec.from_dict({"backend": {"name": "aer", "options": {"depolarizing": [0.5, 2]}}})
    with pytest.raises(SpecError, match="backend 'aer' only"):
        StudySpec.from_dict(
            {"backend": {"name": "statevector", "options": {"depolarizing": [0.1, 0.1]}}}
        )


def test_matchgate_dla_limit_matches_deep_propagation_and_measurement():
    """so(2n): dim n(2n - 1); Var[C] of Z0 from |+...+> tends to (n - 1) / (n (2n - 1))."""
    from bp_qiskit.core.dla import closure
    from bp_qiskit.execution.predict import _cost_variance
    from bp_qiskit.execution.predict_models import dla_cost_variance

    def spec(n, layers=2, samples=2):
        return StudySpec.from_dict(
            {
                "study": {"seed": 4},
                "circuit": {"ansatz": "matchgate", "layers": layers, "qubits": [n]},
                "observable": {"kind": "pauli", "terms": ["Z0"]},
                "sampling": {"samples": samples, "chunk": samples},
            }
        )

    for n in (3, 4, 5):
        gens = {g for gate in _program(spec(n), n, 1, None).gates for g in gate.generators}
        assert len(closure(gens)) == n * (2 * n - 1)
        limit = dla_cost_variance(spec(n), n)
        assert limit == pytest.approx((n - 1) / (n * (2 * n - 1)), rel=1e-12)
        assert _cost_variance(spec(n), n, 64) == pytest.approx(limit, rel=1e-6)
    (cell,) = run_study(spec(4, layers=32, samples=2000), progress=False).result.cells
    assert abs(cell.cost_var - dla_cost_variance(spec(4), 4)) < SIGMAS * cell.cost_var_se
    assert dla_cost_variance(StudySpec.from_dict({"circuit": {"ansatz": "mcclean"}}), 3) is None


def test_four_copy_propagation_reproduces_the_seed_fourth_moment():
    # Oracle: seed_circuit_model's alpha = E[g^4] - V^2, by quadrature over one qubit.
    from bp_qiskit.core.planning import seed_circuit_model

    spec = StudySpec.from_dict({"circuit": {"ansatz": "seed", "qubits": [2]}})
    for n in (2, 3):
        exact = seed_circuit_model(n)
        fourth = exact_fourth_moment(_program(spec, n, 1, n - 1))
        assert fourth - exact.V**2 == pytest.approx(exact.alpha, rel=1e-10)


def test_sampled_four_copy_paths_agree_with_exact_propagation():
    spec = StudySpec.from_dict({"circuit": {"ansatz": "mcclean", "layers": 2, "qubits": [4]},
                                "observable": {"kind": "zz"},
                                "gradient": {"parameter": [0, 0]}})  # fmt: skip
    program = reduce_to_light_cone(_program(spec, 4, 2, 0))
    exact = exact_fourth_moment(program)
    sampled = sampled_fourth_moment(program, 200_000, np.random.default_rng(3))
    assert sampled.se > 0 and abs(sampled.value - exact) < SIGMAS * sampled.se


@pytest.mark.slow
def test_the_planner_model_from_the_prediction_matches_measured_moments():
    # V, alpha = Var(g^2) from exact gradients and T = E[N * shot_var] from sampled shots,
    # each against the model within 3 of its standard errors.
    from bp_qiskit.execution.predict_models import noise_model

    base = {"study": {"seed": 11},
            "circuit": {"ansatz": "alternating_layered", "layers": 2, "qubits": [4]},
            "observable": {"kind": "local"}, "gradient": {"parameter": [0, 0]}}  # fmt: skip
    model, why = noise_model(StudySpec.from_dict(base), 4)
    assert model is not None and model.source == "prediction", why
    exact = run_study(StudySpec.from_dict({**base, "sampling": {"samples": 4000, "chunk": 4000}}),
                      progress=False)  # fmt: skip
    g = exact.data[0].grads[:, 0]
    se4 = np.std(g**4, ddof=1) / math.sqrt(len(g))
    assert abs(np.mean(g**4) - (model.alpha + model.V**2)) < SIGMAS * se4
    shots = 16
    noisy = run_study(StudySpec.from_dict({**base, "sampling": {"samples": 1500, "chunk": 1500,
                                                                 "shots": shots}}),
                      progress=False)  # fmt: skip
    w = shots * noisy.data[0].shot_var[:, 0]
    assert abs(w.mean() - model.T) < SIGMAS * np.std(w, ddof=1) / math.sqrt(len(w))


def test_budget_plans_from_the_prediction_and_says_when_it_cannot(tmp_path, capsys):
    from bp_qiskit.cli import main

    spec = tmp_path / "shallow.toml"
    spec.write_text('[circuit]\nansatz = "alternating_layered"\nlayers = 2\nqubits = [4, 16]\n'
                    '[observable]\nkind = "local"\n[gradient]\nparameter = [0, 0]\n')  # fmt: skip
    assert main(["budget", "--rel-error", "0.1", "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "estimates from the prediction" in out
    deep = tmp_path / "deep.toml"
    deep.write_text('[circuit]\nansatz = "identity_blocks"\nlayers = 2\nqubits = [4]\n')
    assert main(["budget", "--rel-error", "0.1", "--spec", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "identity blocks" in err and "--pilot" in err


def test_a_normal_guess_for_alpha_would_underplan_the_seed_circuit():
    # docs/shots.md: "alpha = 2 V^2 would plan 229 circuits where 2370 are needed" (n = 7,
    # 10% target): the reason the planner computes E[g^4] instead of assuming normal g.
    import dataclasses

    from bp_qiskit.core.planning import optimal_plan, seed_circuit_model

    exact = seed_circuit_model(7)
    normal = dataclasses.replace(exact, alpha=2 * exact.V**2, C=0.0, Q=exact.T**2)
    assert optimal_plan(exact, 0.1).samples == 2370
    assert optimal_plan(normal, 0.1).samples == 229


def test_the_dla_closure_refuses_an_algebra_past_its_limit():
    from bp_qiskit.core.dla import closure

    # X_j and Z_j Z_{j+1} on 6 qubits: su(2^5)-like growth, far past a limit of 50 strings.
    n = 6
    gens = [(1 << j, 0) for j in range(n)] + [(0, (1 << j) | (1 << (j + 1))) for j in range(n - 1)]
    gens += [(0, 1 << j) for j in range(n)]
    with pytest.raises(ValueError, match="more than 50 strings"):
        closure(gens, limit=50)


def test_the_predicted_spread_of_one_circuits_squared_gradient_matches_measurement():
    # contribution_sd^2 = E[g^4] - Var^2, the z column's spread: against Var(g^2) of 4000
    # exact gradients on Aer, within 3 standard errors (of the sample variance of g^2).
    base = {"study": {"seed": 5},
            "circuit": {"ansatz": "mcclean", "layers": 2, "qubits": [3]},
            "observable": {"kind": "zz"}, "gradient": {"parameter": [0, 0]}}  # fmt: skip
    spec = StudySpec.from_dict(base)
    p = predict_cell(spec, 3, 2)
    assert p.method == "exact" and p.contribution_sd is not None
    exact = run_study(StudySpec.from_dict({**base, "sampling": {"samples": 4000, "chunk": 4000}}),
                      progress=False)  # fmt: skip
    g2 = exact.data[0].grads[:, 0] ** 2
    y = (g2 - g2.mean()) ** 2
    se = np.std(y, ddof=1) / math.sqrt(len(y))
    assert abs(np.var(g2, ddof=1) - p.contribution_sd**2) < SIGMAS * se


def test_the_projectors_spread_is_an_upper_bound_on_the_exact_one():
    # For the global projector the spread is bounded (|g| <= 1/2, so E[g^4] <= Var / 4):
    # at least the exact sd from the listed projector's four copies (oracle).
    spec = StudySpec.from_dict({"circuit": {"ansatz": "seed", "qubits": [2, 3]}})
    for n in (2, 3):
        p = predict_cell(spec, n, 1)
        exact_sd = math.sqrt(exact_fourth_moment(_program(spec, n, 1, n - 1)) - p.grad_var**2)
        assert p.contribution_sd is not None
        assert exact_sd <= p.contribution_sd * (1 + 1e-12)


def _quadrature_gradient_variance(template, observable, k):
    """E[(dC/dtheta_k)^2] by statevectors on a 3-point grid per angle (the oracle).

    C is a trig polynomial of degree 1 in each angle (one gate each), so (dC)^2 has degree
    2, whose average over a whole turn three equally spaced points give exactly.
    """
    from qiskit.quantum_info import SparsePauliOp, Statevector

    params = list(template.parameters)
    grid = 2 * math.pi * np.arange(3) / 3
    op = SparsePauliOp.from_sparse_observable(observable).to_matrix()

    def cost(values):
        psi = Statevector(template.assign_parameters(dict(zip(params, values, strict=True))))
        return float(np.real(np.vdot(psi.data, op @ psi.data)))

    total = 0.0
    for point in itertools.product(grid, repeat=len(params)):
        plus, minus = list(point), list(point)
        plus[k] += math.pi / 2
        minus[k] -= math.pi / 2
        total += ((cost(plus) - cost(minus)) / 2) ** 2
    return total / 3 ** len(params)


def test_the_entangler_is_read_from_the_circuit_that_runs(monkeypatch):
    # The predictor holds no table of entanglers: change what a grammar's layer builds and
    # the prediction follows the circuit (a ring instead of the bricks), as the oracle says.
    from bp_qiskit.core.grammar import Grammar
    from bp_qiskit.execution.families import family_for
    from bp_qiskit.results import Cell

    spec = StudySpec.from_dict(
        {"circuit": {"ansatz": "alternating_layered", "qubits": [3], "layers": 2},
         "observable": {"kind": "global"}, "gradient": {"parameter": "first"}}
    )  # fmt: skip
    bricks = predict_cell(spec, 3, 2)

    def ring(self, qc, layer):
        for q in range(qc.num_qubits):
            qc.cz(q, (q + 1) % qc.num_qubits)

    monkeypatch.setattr(Grammar, "_entangle", ring)
    family = family_for(spec, Cell(3, 2))
    assert family.template.count_ops()["cz"] == 6
    oracle = _quadrature_gradient_variance(family.template, family.observable, 0)
    p = predict_cell(spec, 3, 2)
    assert p.method == "exact"
    assert p.grad_var == pytest.approx(oracle, rel=1e-12)
    assert abs(bricks.grad_var - oracle) > 1e-3 * oracle  # the ring is not the bricks


def test_a_gate_the_predictor_cannot_read_gives_none_naming_the_instruction(monkeypatch):
    from bp_qiskit.core.grammar import Grammar

    spec = StudySpec.from_dict({"circuit": {"ansatz": "hardware_efficient", "qubits": [3]}})

    def with_t(self, qc, layer):
        qc.cz(0, 1)
        qc.t(0)  # fixed and not a Clifford, after a rotation on its qubit

    monkeypatch.setattr(Grammar, "_entangle", with_t)
    p = predict_cell(spec, 3, 1)
    assert p.method == "none" and p.grad_var is None
    assert re.search(r"circuit: instruction \d+ \(t on qubits \[0\]\).*not a Clifford", p.note)


def test_the_dla_limit_of_the_gradient_variance_is_reached_by_deep_propagation():
    """so(2n), Z0 from |+...+>, a Z rotation in the middle of the circuit.

    Closed form: both halves Haar over the group give Var[dC] = P(rho) P(O) N / dim^2, with
    P(rho) P(O) = n - 1 (the Var[C] limit times dim), dim = n (2n - 1), and N = 4 (n - 1) the
    quadratic Majorana strings that share one mode with Z_q = -i g_2q g_2q+1. Exact
    propagation at L = 64, an independent computation, reaches it to 1e-6.
    """
    from bp_qiskit.execution.predict_models import dla_gradient_variance

    def spec(n, layers):
        return StudySpec.from_dict(
            {
                "circuit": {"ansatz": "matchgate", "layers": layers, "qubits": [n]},
                "observable": {"kind": "pauli", "terms": ["Z0"]},
                "gradient": {"parameter": [layers // 2, 0]},
            }
        )

    for n in (3, 4):
        limit = dla_gradient_variance(spec(n, 64), n, 64)
        closed = 4 * (n - 1) ** 2 / (n * (2 * n - 1)) ** 2
        assert limit == pytest.approx(closed, rel=1e-12)
        deep = predict_cell(spec(n, 64), n, 64)
        assert deep.method == "exact" and deep.grad_var == pytest.approx(limit, rel=1e-6)
        # Shallower, the circuit is not yet Haar on either side: the limit is not reached.
        shallow = predict_cell(spec(n, 8), n, 8).grad_var
        assert abs(shallow - limit) > 1e-4 * limit
    assert (
        dla_gradient_variance(StudySpec.from_dict({"circuit": {"ansatz": "mcclean"}}), 3, 2) is None
    )


def test_a_cost_or_ansatz_the_predictor_cannot_read_is_an_error_not_a_default():
    # What a new kind or ansatz added to the spec layer alone would meet: before, a new cost
    # became the global projector and a new ansatz McClean's, silently.
    from bp_qiskit.errors import SpecError
    from bp_qiskit.execution.families import family_for
    from bp_qiskit.execution.predict_program import _terms
    from bp_qiskit.results import Cell

    spec = StudySpec.from_dict({"circuit": {"qubits": [3]}})
    object.__setattr__(spec.observable, "kind", "new_cost")
    allowed = r"observable.kind: got 'new_cost'; allowed: global, zz, local, pauli"
    with pytest.raises(SpecError, match=allowed):
        _terms(spec, 3)
    object.__setattr__(spec.circuit, "ansatz", "new_ansatz")
    with pytest.raises(SpecError, match=r"circuit.ansatz: got 'new_ansatz'.*allowed: seed"):
        family_for(spec, Cell(3, 1))
    # predict_cell (and so run's prediction column) says so instead of failing the run.
    p = predict_cell(spec, 3, 1)
    assert p.method == "none" and "circuit.ansatz: got 'new_ansatz'" in p.note


def test_predict_prints_the_lie_algebra_limits_beside_the_deep_prediction(tmp_path, capsys):
    from bp_qiskit.cli import main

    spec = tmp_path / "matchgate.toml"
    spec.write_text('[circuit]\nansatz = "matchgate"\nlayers = 64\nqubits = [3]\n'
                    '[observable]\nkind = "pauli"\nterms = ["Z0"]\n'
                    '[gradient]\nparameter = [32, 0]\n')  # fmt: skip
    assert main(["predict", str(spec), "--no-progress"]) == 0
    out = capsys.readouterr().out
    # so(6): Var[C] -> (n - 1) / (n (2n - 1)) = 2/15, Var[dC] -> 4 (n - 1)^2 / (n (2n - 1))^2.
    assert f"Var[C] -> {2 / 15:.4e}, Var[dC] -> {16 / 225:.4e} (the gate in layer 32 of 64)" in out
    # Not for the first or last layer, where the limit's assumption (deep on both sides) fails.
    spec.write_text(spec.read_text().replace("[32, 0]", "[0, 0]"))
    assert main(["predict", str(spec), "--no-progress"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("deep-circuit"))
    assert "Var[dC]" not in line


def _four_copies_by_dictionary(program):
    """An independent E[g^4]: the four-copy rules one quadruple at a time, in a dictionary,
    on the scalar Pauli functions (the library propagates arrays of quadruples)."""
    from collections import defaultdict

    state = defaultdict(float)
    for quad in itertools.product(program.terms, repeat=4):
        state[tuple(t.pauli for t in quad)] += math.prod(t.coeff for t in quad)
    for gate in reversed(program.gates):
        new = defaultdict(float)
        mask = pp.gate_mask(gate)
        for quad, w in state.items():
            hit = sum(1 for p in quad if (p[0] | p[1]) & mask)
            w *= (1.0 - gate.noise) ** hit
            if isinstance(gate, pp.Clifford):
                images = [pp._conjugate(p, gate) for p in quad]
                new[tuple(q for _, q in images)] += math.prod(s for s, _ in images) * w
                continue
            for g in gate.generators:
                for out, weight in _rotated_quadruple(quad, g, gate):
                    new[out] += weight * w / len(gate.generators)
        state = new
    return sum(
        w * math.prod(pp._expectation(p, program.bloch) for p in quad) for quad, w in state.items()
    )


def _rotated_quadruple(quad, g, gate):
    """Images of one quadruple under the angle-averaged rotation about g, with weights."""
    odd = [i for i, p in enumerate(quad) if pp._anticommutes(p, g)]
    if len(odd) % 2 or (gate.differentiated and len(odd) < 4) or (gate.averaged and odd):
        return []
    out = []
    for pattern in range(1 << len(odd)):
        flips = pattern.bit_count()
        if flips % 2:
            continue
        # E[cos^2] = E[sin^2] = 1/2; E[cos^4] = E[sin^4] = 3/8, E[cos^2 sin^2] = 1/8.
        weight = {0: 1.0, 2: 0.5, 4: 3 / 8 if flips in (0, 4) else 1 / 8}[len(odd)]
        image = list(quad)
        for j, i in enumerate(odd):
            if pattern >> j & 1:
                sign, image[i] = pp._branch(quad[i], g)
                weight *= sign
        out.append((tuple(image), weight))
    return out


@pytest.mark.parametrize(
    ("ansatz", "kind", "layers", "noise"),
    [
        ("mcclean", "zz", 2, 0.0),
        ("alternating_layered", "local", 2, 0.02),
        ("mcclean", "pauli", 1, 0.0),
    ],
)
def test_the_array_four_copy_propagation_equals_a_dictionary_one(ansatz, kind, layers, noise):
    """Rotations, Cliffords, noise and several terms: equal to 1e-12 (relative)."""
    observable = {"kind": kind}
    if kind == "pauli":
        observable.update(terms=["Z0 Z1", "X1", "Y0 Z2"], coeffs=[0.5, -1.0, 0.3])
    data = {
        "circuit": {"ansatz": ansatz, "layers": layers, "qubits": [3]},
        "observable": observable,
        "gradient": {"parameter": [0, 1]},
    }
    if noise:
        data["backend"] = {"name": "aer", "options": {"depolarizing": [noise / 2, noise]}}
    spec = StudySpec.from_dict(data)
    program = reduce_to_light_cone(_program(spec, 3, layers, 1))
    want = _four_copies_by_dictionary(program)
    assert want != 0.0
    assert exact_fourth_moment(program) == pytest.approx(want, rel=1e-12)
