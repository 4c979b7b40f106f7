"""Shot-budget planner: closed-form limits, the seed model, pilots, adaptive allocation."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.cli import main
from bp_qiskit.core.planning import (
    NoiseModel,
    model_from_samples,
    optimal_plan,
    predicted_rel_error,
    seed_circuit_model,
)

ROOT = Path(__file__).resolve().parent.parent
SEED = 99
SIGMAS = 3.0


def gaussian_model(v=1e-3, t=0.05):
    """Normal g, constant sigma^2 = t: alpha = 2 V^2, C = 0, Q = T^2."""
    return NoiseModel(4, V=v, T=t, alpha=2 * v * v, C=0.0, Q=t * t, source="test")


def test_gaussian_limit_reproduces_the_textbook_formula_and_optimum():
    m = gaussian_model()
    for s, n in [(100, 10), (1000, 50), (37, 1000)]:
        expected = math.sqrt(2 / s) * (1 + m.T / (n * m.V))
        assert predicted_rel_error(m, s, n) == pytest.approx(expected, rel=1e-12)
    plan = optimal_plan(m, 0.1, per_circuit_s=0.0)
    # N* = T / V = 50. Rounding S up to an integer changes the cost by up to 1/S, and near the
    # optimum the cost rises only like delta^2 / 4 for N = N*(1 + delta): N may move by
    # delta = 2 / sqrt(S).
    assert abs(plan.shots - 50) <= 50 * 2 / math.sqrt(plan.samples)
    assert plan.rel_error <= 0.1
    # Budget at the optimum: 8 * c * (T/V) / r^2 with c = 2 (normal g) -> 80 000 shots.
    assert plan.total_shots == pytest.approx(8 * 2 * 50 / 0.01, rel=0.02)


def test_per_circuit_overhead_moves_the_optimum_to_the_closed_form():
    """Normal g: cost (1 + a/N)^2 (t_c + 2 N t_s) is minimal at N = (a + sqrt(a^2 + 4 a h)) / 2
    with a = T/V and h = t_c / t_s shot-equivalents per circuit."""
    m = gaussian_model()
    a, t_s, t_c = m.T / m.V, 1e-4, 0.1
    h = t_c / t_s
    plan = optimal_plan(m, 0.05, per_shot_s=t_s, per_circuit_s=t_c)
    n_star = (a + math.sqrt(a * a + 4 * a * h)) / 2
    assert abs(plan.shots - n_star) <= n_star * 2 / math.sqrt(plan.samples)  # see above
    assert plan.qpu_seconds == pytest.approx(plan.samples * (t_c + 2 * plan.shots * t_s))


def test_seed_model_matches_closed_form_and_measured_moments():
    for n in range(2, 9):
        exact = (1 / 16) * ((17 + 4 * math.sqrt(2)) / 48) ** (n - 1)
        assert seed_circuit_model(n).V == pytest.approx(exact, rel=1e-10)
    # T (mean single-shot variance term) against a shot-based study at n = 4.
    spec = StudySpec.from_dict(
        {"circuit": {"qubits": [4]}, "sampling": {"samples": 4000, "chunk": 4000, "shots": 40}}
    )
    data = run_study(spec, progress=False).data
    w = 40 * data[0].shot_var[:, 0]
    t_model = seed_circuit_model(4).T
    assert abs(w.mean() - t_model) < SIGMAS * w.std(ddof=1) / math.sqrt(len(w))
    # A pilot estimate of V and alpha agrees with the model within its own errors.
    pilot = model_from_samples(4, data[0].grads, data[0].shot_var, 40)
    model = seed_circuit_model(4)
    assert abs(pilot.V - model.V) < SIGMAS * math.sqrt(model.var_z(40) / 4000)


def test_planner_validates_input():
    with pytest.raises(ValueError, match=r"rel_error: got 1.5; allowed: a number in \(0, 1\)"):
        optimal_plan(gaussian_model(), 1.5)
    with pytest.raises(ValueError, match="not positive"):
        optimal_plan(NoiseModel(3, -1e-3, 0.1, 1e-6, 0, 0.01, "pilot"), 0.1)


def test_shot_budget_spec_prediction_matches_achieved_error_within_20_percent(tmp_path):
    """Acceptance: jobs/shot_budget.toml, as shipped, through the CLI."""
    assert (
        main(
            [
                "run",
                str(ROOT / "jobs" / "shot_budget.toml"),
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    points = json.loads((tmp_path / "budget.json").read_text())["points"]
    assert len(points) == 6
    for p in points:
        assert abs(p["achieved_rel_error"] / p["predicted_rel_error"] - 1) < 0.2, p
        # The corrected variance is unbiased at every split.
        assert abs(p["mean_estimate"] - p["reference_var"]) < SIGMAS * (
            p["achieved_rel_error"] * p["reference_var"] / math.sqrt(p["repeats"])
        )
    assert (tmp_path / "budget.png").stat().st_size > 0


def test_adaptive_reaches_target_with_fewer_shots_than_fixed_n():
    spec = StudySpec.from_dict(
        {
            "study": {"seed": SEED},
            "circuit": {"qubits": [4]},
            "sampling": {"shots": 100, "chunk": 100},
        }
    )
    targets = {"adaptive.target_rel_error": 0.25, "adaptive.max_shots": 10**8}
    adaptive = run_study(spec.with_overrides(**targets), progress=False)
    fixed = run_study(
        spec.with_overrides(**targets, **{"adaptive.fixed_shots": 1000}), progress=False
    )
    data, (ad,), (fx,) = adaptive.data, adaptive.adaptive, fixed.adaptive
    assert ad.reached and fx.reached
    assert ad.rel_error <= 0.25 and fx.rel_error <= 0.25
    assert ad.total_shots * 2 <= fx.total_shots
    assert data[0].grads.shape[0] == ad.samples


def test_adaptive_stops_at_the_budget():
    spec = StudySpec.from_dict(
        {
            "study": {"seed": SEED},
            "circuit": {"qubits": [6]},
            "sampling": {"shots": 50, "chunk": 50},
        }
    )
    targets = {"adaptive.target_rel_error": 0.01, "adaptive.max_shots": 20000}
    (rep,) = run_study(spec.with_overrides(**targets), progress=False).adaptive
    assert not rep.reached
    assert rep.total_shots <= 20000


def test_budget_cli_model_pilot_and_errors(tmp_path, capsys):
    assert (
        main(
            [
                "budget",
                "--rel-error",
                "0.1",
                "--qubits",
                "2-4",
                "--json",
                "--spec",
                str(ROOT / "jobs" / "seed_tutorial.toml"),
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["num_qubits"] for r in rows] == [2, 3, 4]
    for r in rows:
        fewest, fastest = r["min_shots"], r["min_time"]
        assert fewest["total_shots"] == 2 * fewest["samples"] * fewest["shots"]
        assert fewest["total_shots"] <= fastest["total_shots"]
        assert fastest["qpu_seconds"] <= fewest["qpu_seconds"]
        # With a per-circuit overhead, fewer circuits with more shots each win.
        assert fastest["shots"] >= fewest["shots"] and fastest["samples"] <= fewest["samples"]
    pilot = tmp_path / "pilot"
    assert (
        main(
            [
                "run",
                str(ROOT / "jobs" / "seed_tutorial.toml"),
                "--shots",
                "30",
                "--samples",
                "200",
                "--qubits",
                "2,3",
                "--out",
                str(pilot),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["budget", "--rel-error", "0.2", "--pilot", str(pilot)]) == 0
    assert "estimates from the pilot" in capsys.readouterr().out
    assert main(["budget", "--rel-error", "0.2", "--pilot", str(pilot), "--qubits", "5"]) == 2
    assert "no cell at n = [5]" in capsys.readouterr().err
    # Identity blocks: neither the seed model nor a prediction exists, so a pilot is asked for
    # (through the console entry point, in a subprocess).
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bp_qiskit.cli",
            "budget",
            "--rel-error",
            "0.1",
            "--spec",
            str(ROOT / "jobs" / "grant2019.toml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "--pilot" in proc.stderr and "Traceback" not in proc.stderr


def test_budget_study_is_recorded_and_resumes_without_recomputing(tmp_path):
    from bp_qiskit.execution import collect, create_study, run_stored
    from bp_qiskit.store import SQLiteStore
    from bp_qiskit.testing.faults import InterruptingBackend

    spec = StudySpec.from_dict(
        {
            "study": {"name": "small_budget", "seed": 4},
            "circuit": {"qubits": [3]},
            "budget": {"total_shots": 400, "shots": [4, 16], "repeats": 6},
        }
    )
    reference = run_study(spec, progress=False).budget
    store = SQLiteStore(tmp_path / "b.sqlite")
    sid = create_study(store, spec)
    with pytest.raises(KeyboardInterrupt):  # 2 splits per repetition: dies in repetition 3
        run_stored(store, sid, backend=InterruptingBackend(6), progress=False)
    done = {j.key for j in store.get_jobs(sid) if j.state.is_finished()}
    assert done == {"n3_L1_r0", "n3_L1_r1"}
    run_stored(store, sid, progress=False)
    resumed = collect(store, sid).budget
    assert resumed.to_json() == reference.to_json()
    assert {j.key: j.attempts for j in store.get_jobs(sid)}["n3_L1_r0"] == 1
    assert all(j.state.is_finished() for j in store.get_jobs(sid))
