"""Real sampled shots, shot-noise variances and corrected-variance statistics."""

import json
import math

import numpy as np
import pytest

from bp_qiskit import AerEstimator, StudySpec, run_study
from bp_qiskit.core.circuits import draw_samples, template_circuit, template_values
from bp_qiskit.core.gradients import parameter_indices, shift_parameters
from bp_qiskit.core.observables import global_projector, local_cost, pauli_sum, zz
from bp_qiskit.core.statistics import summarize_gradients
from bp_qiskit.results import read_npz

SEED = 3141
SIGMAS = 3.0


def seed_var(n):
    return (1 / 16) * ((17 + 4 * math.sqrt(2)) / 48) ** (n - 1)


@pytest.mark.parametrize("sampler", ["auto", "aer"])
def test_projector_gradients_at_10_shots_are_multiples_of_1_over_2n(sampler):
    """g = (k+ - k-) / (2N) for counts k+-: Gaussian noise on exact values would fail this."""
    n, shots = 4, 10
    cs = draw_samples(np.random.default_rng(SEED), 100, n, 1)
    shifted = shift_parameters(cs.params, parameter_indices("last", n))[:, 0]  # (S, 2, P)
    values = template_values(cs.gates, shifted)
    est = AerEstimator(default_shots=shots, seed=SEED, sampler=sampler)
    res = est.run([(template_circuit(n, 1), global_projector(n), values)]).result()[0]
    evs = res.data.evs
    assert res.metadata["shots"] == shots
    # Up to float rounding of k / N (1e-12); Gaussian noise would be off by O(0.1).
    np.testing.assert_allclose(evs * shots, np.round(evs * shots), atol=1e-9)
    grads = 0.5 * (evs[:, 0] - evs[:, 1]) * 2 * shots
    np.testing.assert_allclose(grads, np.round(grads), atol=1e-9)
    assert len(np.unique(evs)) > 3  # really random, not the exact value


OBS = {
    "projector": global_projector,
    "zz": zz,
    "local (multinomial)": local_cost,
    "pauli sum with X/Y groups": lambda n: pauli_sum(
        ["X0 X1", "Y2", "Z0 Z3", "X1 Z2"], [0.5, -0.7, 1.0, 0.3], n
    ),
}


@pytest.mark.parametrize("sampler", ["auto", "aer"])
@pytest.mark.parametrize("name", OBS)
def test_sampled_means_and_reported_errors_are_calibrated(name, sampler):
    """One circuit bound B times: the spread of the estimates must match the reported stds.

    Checks: mean within 3 standard errors of the exact value; the sample variance of the B
    estimates within 3 standard errors of the mean reported variance (stds**2), which is the
    unbiased shot-noise variance of each estimate.
    """
    n, shots, reps = 4, 50, 4000
    obs = OBS[name](n)
    cs = draw_samples(np.random.default_rng(SEED), 1, n, 2)
    vals = np.repeat(template_values(cs.gates, cs.params), reps, axis=0)
    tmpl = template_circuit(n, 2)
    exact = AerEstimator().run([(tmpl, obs, vals[:1])]).result()[0].data.evs[0]
    res = AerEstimator(default_shots=shots, seed=SEED, sampler=sampler).run([(tmpl, obs, vals)])
    data = res.result()[0].data
    mean_var = np.mean(data.stds**2)
    assert abs(data.evs.mean() - exact) < SIGMAS * math.sqrt(mean_var / reps)
    emp = np.var(data.evs, ddof=1)
    x = (data.evs - data.evs.mean()) ** 2
    se_emp = x.std(ddof=1) / math.sqrt(reps)
    assert abs(emp - mean_var) < SIGMAS * math.hypot(se_emp, np.std(data.stds**2) / math.sqrt(reps))


def test_groups_beyond_the_marginal_limit_use_aer_sampling():
    n = 13  # the local cost touches 13 > 12 qubits: Aer's own measurement sampling
    cs = draw_samples(np.random.default_rng(SEED), 3, n, 1)
    vals = template_values(cs.gates, cs.params)
    tmpl = template_circuit(n, 1)
    res = AerEstimator(default_shots=64, seed=SEED).run([(tmpl, local_cost(n), vals)]).result()
    evs = res[0].data.evs
    np.testing.assert_allclose(evs * 64 * n, np.round(evs * 64 * n), atol=1e-9)  # k/(N n)
    exact = AerEstimator().run([(tmpl, local_cost(n), vals)]).result()[0].data.evs
    assert np.all(np.abs(evs - exact) < 6 * res[0].data.stds + 1e-12)


def test_shot_study_writes_shot_noise_fields(tmp_path):
    spec = StudySpec.from_dict(
        {
            "circuit": {"qubits": [2, 5]},
            "sampling": {"samples": 300, "shots": 20},
        }
    )
    outcome = run_study(spec, progress=False)
    result, data = outcome.result, outcome.data
    for cell, d in zip(result.cells, data, strict=True):
        assert cell.shots == 20 and cell.shots_executed == 20
        assert cell.shot_noise_var > 0
        assert cell.grad_var_corrected == pytest.approx(cell.grad_var_raw - cell.shot_noise_var)
        assert cell.grad_var_ci[0] < cell.grad_var < cell.grad_var_ci[1]
        assert cell.resolved == (cell.grad_var_ci[0] > 0)
        assert d.shot_var.shape == (300, 1) and np.all(d.shot_var >= 0)
    from bp_qiskit.cli import main

    assert (
        main(
            [
                "run",
                "jobs/seed_tutorial.toml",
                "--shots",
                "20",
                "--samples",
                "30",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    cells = json.loads((tmp_path / "results.json").read_text())["cells"]
    for key in (
        "grad_var_raw",
        "shot_noise_var",
        "grad_var_corrected",
        "grad_var_ci",
        "resolved",
        "shots_executed",
    ):
        assert key in cells[0]
    assert len(cells[0]["grad_var_ci"]) == 2
    npz = read_npz(tmp_path / "samples.npz")
    assert npz["shot_var_2_1"].shape == (30,)


# (n, N): above the floor, above, below (floor/signal ~1.2), below (~1.5)
COVERAGE_CASES = [(2, 1000), (4, 100), (3, 4), (4, 5)]
COVERAGE_S = 200
COVERAGE_REPS = 600


@pytest.mark.parametrize(("n", "shots"), COVERAGE_CASES)
def test_corrected_variance_is_unbiased_and_intervals_cover(n, shots):
    """Many independent repetitions (one job each) of an S-circuit cell with N shots.

    - Unbiased: the mean corrected variance is within 3 standard errors of the exact value.
    - Coverage of the 95% intervals in [93%, 97%], as the issue requires (binomial standard
      error of the coverage here: sqrt(.95 * .05 / 600) = 0.9%).
    """
    spec = StudySpec.from_dict(
        {
            "study": {"seed": SEED + n * 1000 + shots},
            "circuit": {"qubits": [n]},
            "sampling": {
                "samples": COVERAGE_S * COVERAGE_REPS,
                "chunk": COVERAGE_S,
                "shots": shots,
            },
        }
    )
    data = run_study(spec, progress=False).data
    g = data[0].grads[:, 0].reshape(COVERAGE_REPS, COVERAGE_S)
    v = data[0].shot_var[:, 0].reshape(COVERAGE_REPS, COVERAGE_S)
    stats = [summarize_gradients(g[r], v[r], seed=r) for r in range(COVERAGE_REPS)]
    exact = seed_var(n)
    est = np.array([s.grad_var for s in stats])
    assert abs(est.mean() - exact) < SIGMAS * est.std(ddof=1) / math.sqrt(COVERAGE_REPS)
    coverage = np.mean([s.grad_var_ci[0] <= exact <= s.grad_var_ci[1] for s in stats])
    assert 0.93 <= coverage <= 0.97, coverage
    floor = np.mean([s.shot_noise_var for s in stats])
    if shots <= 5:
        assert floor > exact  # these cases really are below the floor
    else:
        assert floor < exact


@pytest.mark.parametrize("sampler", ["auto", "aer"])
def test_a_devices_readout_error_reaches_every_sampling_route(sampler):
    # Aer applies readout errors to measure instructions only; the exact-probability routes
    # (binomial for one Pauli string, multinomial for a sum) must apply them too, or a
    # device's readout error would depend on the route. Closed form for |q1 q0> = |10>:
    # <Z> = 1 - 2 P(1|0) on q0 and -(1 - 2 P(0|1)) on q1; the errors are independent.
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, ReadoutError

    p10, p01 = {0: 0.10, 1: 0.04}, {0: 0.02, 1: 0.15}  # P(read 1 | 0), P(read 0 | 1)
    model = NoiseModel()
    for q in (0, 1):
        m = [[1 - p10[q], p10[q]], [p01[q], 1 - p01[q]]]
        model.add_readout_error(ReadoutError(m), [q])
    est = AerEstimator(
        seed=3, sampler=sampler, simulator=AerSimulator(method="density_matrix", noise_model=model)
    )
    qc = QuantumCircuit(2)
    qc.x(1)
    z0, z1 = 1 - 2 * p10[0], -(1 - 2 * p01[1])
    cases = {"Z0": z0, "Z1": z1, "Z0 Z1": z0 * z1}
    shots = 40_000
    for label, expected in cases.items():
        obs = pauli_sum([label], [1.0], 2)
        (res,) = est.run([(qc, obs)], precision=1 / math.sqrt(shots)).result()
        mean, se = float(res.data.evs), float(res.data.stds)
        assert abs(mean - expected) < 4 * se, (label, mean, expected, se)
    sum_obs = pauli_sum(["Z0", "Z1"], [1.0, 1.0], 2)
    (res,) = est.run([(qc, sum_obs)], precision=1 / math.sqrt(shots)).result()
    assert abs(float(res.data.evs) - (z0 + z1)) < 4 * float(res.data.stds)
