"""Decay fits: the model comparison, and an unbiased slope when cells sit near the shot floor.

The shot-noise test uses a synthetic study with a known answer: per cell n, S circuits whose
gradient has variance exp(a + b n) exactly; each shifted expectation value is a probability
measured with N shots (binomial), and the floor is estimated per sample as the code does
with Aer's standard errors. Tolerances come from the spread over repetitions (standard error
of the mean), never from the answer.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from bp_qiskit import load_spec, run_study
from bp_qiskit.core.fits import compare_models, fit_decay
from bp_qiskit.core.statistics import corrected_variance

ROOT = Path(__file__).resolve().parent.parent
TRUE_SLOPE = -0.7
NS = np.arange(4, 10)
SAMPLES, SHOTS = 500, 10


def synthetic_cells(rng):
    """One study: (corrected variance, its se, mean floor, resolved) per cell."""
    out = []
    for n in NS:
        q = 0.4 * math.exp(TRUE_SLOPE / 2 * n)  # Var[g] = q^2 / 3 = exp(a + TRUE_SLOPE n)
        g = q * rng.uniform(-1, 1, SAMPLES)
        plus = rng.binomial(SHOTS, q + g) / SHOTS
        minus = rng.binomial(SHOTS, q - g) / SHOTS
        grads = (plus - minus) / 2
        # Unbiased per-sample floor: p(1-p)/(N-1) estimates Var(p_hat) = p(1-p)/N.
        floor = (plus * (1 - plus) + minus * (1 - minus)) / (4 * (SHOTS - 1))
        var, se = corrected_variance(grads, floor)
        out.append((var, se, floor.mean(), var - 1.96 * se > 0))
    return [np.array(c) for c in zip(*out, strict=True)]


@pytest.mark.slow
def test_the_shot_noise_fit_is_unbiased_and_its_interval_covers():
    rng = np.random.default_rng(2026)
    reps = 1000
    new, old = [], []
    for r in range(reps):
        var, se, floor, resolved = synthetic_cells(rng)
        fit = fit_decay(NS, var, se, floor, model="exponential", seed=r)
        assert fit is not None and fit.method == "linear-irls" and fit.points == tuple(NS)
        new.append((fit.slope, fit.slope_se))
        # What bp_qiskit did before: ln Var fitted on the resolved cells only.
        if resolved.sum() >= 2:
            kept = fit_decay(NS[resolved], var[resolved], se[resolved], model="exponential")
            old.append(kept.slope)
    slopes, ses = np.array(new).T
    sem = slopes.std(ddof=1) / math.sqrt(reps)
    assert not all(resolved)  # the setting has cells near the floor
    assert abs(slopes.mean() - TRUE_SLOPE) < 2 * sem
    coverage = np.mean(np.abs(slopes - TRUE_SLOPE) < 1.96 * ses)
    assert 0.93 <= coverage <= 0.97
    # The selection bias this replaces is visible on the same data (the test has power).
    old = np.array(old)
    assert np.mean(old) - TRUE_SLOPE > 5 * old.std(ddof=1) / math.sqrt(len(old))


def test_a_known_power_law_is_preferred_with_exponent_minus_two():
    # Cerezo et al.'s local cost on the one-layer seed circuit: Var falls exactly as 1/n^2.
    spec = load_spec(ROOT / "jobs" / "seed_tutorial.toml").with_overrides(
        **{"sampling.samples": 400, "circuit.qubits": [3, 4, 5, 6, 8, 10, 12],
           "observable.kind": "local"}
    )  # fmt: skip
    result = run_study(spec, progress=False).result
    assert result.preferred == "power_law" and result.delta_aic > 2
    power = result.fit_power
    assert abs(power.slope + 2) < 3 * power.slope_se
    assert result.fit.chi2_dof > 3  # and the exponential says that it is the wrong model


def test_an_exact_exponential_is_preferred_and_the_comparison_is_symmetric():
    ns = np.arange(2, 12)
    var = np.exp(-0.75 * ns)
    se = 0.05 * var
    exp, power = (fit_decay(ns, var, se, model=m) for m in ("exponential", "power_law"))
    assert exp.slope == pytest.approx(-0.75, abs=1e-12) and exp.chi2 == pytest.approx(0, abs=1e-18)
    comparison = compare_models(exp, power)
    assert comparison.preferred == "exponential" and comparison.delta_aic == -power.chi2
    flat = fit_decay(ns, ns**-2.0, 0.05 * ns**-2.0, model="power_law")
    assert flat.slope == pytest.approx(-2, abs=1e-12)
    close = compare_models(exp, exp)
    assert close.preferred == "either" and close.delta_aic == 0
    assert fit_decay([3, 3], [1.0, 2.0], [0.1, 0.1]) is None  # one n: nothing to fit
    with pytest.raises(ValueError, match="model: got 'cubic'"):
        fit_decay(ns, var, se, model="cubic")


def test_variances_at_rounding_level_in_every_cell_give_no_fit():
    """Weights that underflow (se / var beyond 1e154) used to raise LinAlgError or a
    negative slope variance; such a study has nothing to fit."""
    from bp_qiskit.core.fits import fit_decay

    assert fit_decay([2, 3], [1e-300, 2e-300], [1e-10, 1e-10]) is None
    assert fit_decay([2, 3, 4], [1e-300, 2e-300, 1e-300], [1e-10, 1e-10, 1e-10]) is None
