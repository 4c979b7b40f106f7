import math

import numpy as np
import pytest

from bp_qiskit.core import statistics
from bp_qiskit.core.fits import fit_decay
from bp_qiskit.core.statistics import corrected_variance, prediction_z, summarize_gradients

SEED = 4242


def test_variance_and_mean_match_numpy():
    g = np.random.default_rng(SEED).normal(0.1, 0.3, size=500)
    st = summarize_gradients(g)
    assert st.grad_var == pytest.approx(np.var(g, ddof=1), rel=1e-12)
    assert st.grad_mean == pytest.approx(g.mean(), rel=1e-12)
    assert st.shot_noise_var == 0 and st.grad_var == st.grad_var_raw


def test_standard_error_of_variance_is_calibrated_for_heavy_tails():
    """Laplace samples (excess kurtosis 3): the reported se must match the actual spread of s^2.

    Normal theory would report sqrt(2/S) var, i.e. ~37% too small here.
    """
    rng = np.random.default_rng(SEED)
    reps, s = 400, 2000
    vals, ses = [], []
    for _ in range(reps):
        st = summarize_gradients(rng.laplace(0, 1.0, size=s))
        vals.append(st.grad_var)
        ses.append(st.grad_var_se)
    true_se = math.sqrt(20 / s)  # Var(s^2) ~ (mu4 - sigma^4)/S = (24 - 4)/S for b = 1
    spread = np.std(vals, ddof=1)
    # The sample std of `reps` values has relative error ~ 1/sqrt(2 reps) (3.5%): 3 sigma.
    tol = 3 / math.sqrt(2 * reps)
    assert spread == pytest.approx(true_se, rel=tol)
    assert np.mean(ses) == pytest.approx(true_se, rel=tol)
    assert abs(np.mean(vals) - 2.0) < 3 * true_se / math.sqrt(reps)


def test_multi_parameter_variance_is_the_average_over_parameters():
    g = np.random.default_rng(SEED).normal(size=(300, 4)) * np.array([1, 2, 3, 4])
    st = summarize_gradients(g)
    assert st.grad_var == pytest.approx(np.var(g, axis=0, ddof=1).mean(), rel=1e-12)


def test_shot_noise_correction_and_resolution_flag():
    rng = np.random.default_rng(SEED)
    signal = rng.normal(0, 0.1, size=4000)
    noise_var = np.full(4000, 0.05)
    measured = signal + rng.normal(0, np.sqrt(noise_var))
    st = summarize_gradients(measured, noise_var)
    assert st.shot_noise_var == pytest.approx(0.05)
    assert st.grad_var == pytest.approx(st.grad_var_raw - 0.05)
    assert abs(st.grad_var - 0.01) < 3 * st.grad_var_se
    assert st.resolved and st.grad_var_ci[0] > 0
    pure_noise = summarize_gradients(rng.normal(0, np.sqrt(0.05), size=4000), noise_var)
    assert pure_noise.grad_var_ci[0] < 0 < pure_noise.grad_var_ci[1] or not pure_noise.resolved


def test_fit_recovers_an_exact_exponential_and_weights_points():
    n = np.arange(2, 9)
    var = 0.3 * np.exp(-0.7 * n)
    fit = fit_decay(n, var, 0.05 * var)
    assert fit.slope == pytest.approx(-0.7, abs=1e-12)
    assert fit.intercept == pytest.approx(math.log(0.3), abs=1e-12)
    # Known errors, perfect line: slope se = sigma_log / sqrt(sum (n - nbar)^2).
    assert fit.slope_se == pytest.approx(0.05 / np.sqrt(np.sum((n - n.mean()) ** 2)), rel=1e-9)
    assert fit_decay([2], [0.1], [0.01]) is None
    skipped = fit_decay([2, 3, 4], [0.1, -0.01, 0.01], [0.01, 0.01, 0.001])
    assert skipped.points == (2, 4)


def _product_gradients(rng, reps, samples, n):
    """g = -sin(t_0) prod cos(t_i): the gradient of <Z...Z> on a product of RY rotations.

    Closed forms: Var[g] = 2^-n, E[g^4] = (3/8)^n, so the kurtosis (3/2)^n grows with n: the
    heavy tail of a global cost.
    """
    t = rng.uniform(0.0, 2 * np.pi, size=(reps, samples, n))
    return -np.sin(t[..., 0]) * np.prod(np.cos(t[..., 1:]), axis=-1)


def _beyond_three(zs):
    return int(np.sum(np.abs(np.asarray(zs)) > 3.0))


def test_prediction_z_holds_with_heavy_tails_where_the_plain_ratio_does_not():
    # Each repetition is one cell whose prediction is right: a calibrated z lies beyond 3 in
    # 0.27% of them. Binomial tolerance: 4 standard deviations of that count.
    rng = np.random.default_rng(SEED)
    reps, samples, n = 4000, 50, 6
    var, fourth = 2.0**-n, (3 / 8) ** n
    sd = math.sqrt(fourth - var**2)
    expected = reps * 0.0027
    allowed = expected + 4 * math.sqrt(expected)
    honest, plain = [], []
    for g in _product_gradients(rng, reps, samples, n):
        m, se = corrected_variance(g)
        honest.append(prediction_z(m, se, samples, var, contribution_sd=sd))
        plain.append((m - var) / se)
    # A repetition whose own spread puts r above S has no z (too few circuits for its tails):
    # rare here, where the true r is 10.4 for S = 50 (37 of the 4000 with this seed).
    left_out = int(np.sum(np.isnan(honest)))
    assert left_out < 0.02 * reps
    honest = [z for z in honest if not math.isnan(z)]
    assert _beyond_three(honest) <= allowed
    # The test has power: the plain ratio, which the z column used before, fails it.
    assert _beyond_three(plain) > 10 * allowed
    # And it does not buy its tails by shrinking (a z that is always 0 passes the count):
    # the chi-square reading is approximate with tails this heavy, its spread here 0.88.
    assert np.std(honest) > 0.8


def test_prediction_z_without_a_fourth_moment_is_calibrated_for_gaussian_gradients():
    rng = np.random.default_rng(SEED + 1)
    reps, samples = 4000, 50
    expected = reps * 0.0027
    allowed = expected + 4 * math.sqrt(expected)
    zs = []
    for g in rng.normal(0.0, 1.0, size=(reps, samples)):
        m, se = corrected_variance(g)
        zs.append(prediction_z(m, se, samples, 1.0))
    assert _beyond_three(zs) <= allowed


def test_prediction_z_signs_and_refusals():
    assert prediction_z(2.0, 0.1, 100, 1.0) > 3
    assert prediction_z(0.5, 0.1, 100, 1.0) < -3
    assert abs(prediction_z(1.0, 0.1, 100, 1.0)) < 0.1
    # The prediction's own error widens the scale.
    assert abs(prediction_z(1.5, 0.1, 100, 1.0, predicted_se=0.5)) < abs(
        prediction_z(1.5, 0.1, 100, 1.0)
    )
    assert math.isnan(prediction_z(1.0, 0.1, 100, 0.0))
    assert math.isnan(prediction_z(1.0, 0.0, 100, 1.0))


def test_prediction_z_is_left_out_where_the_circuits_are_too_few_for_the_tails():
    # r = (sd / v)^2 = 1e6 with S = 200: the variance's relative se would be 70.
    assert math.isnan(prediction_z(1e-9, 1e-9, 200, 1e-6, contribution_sd=1e-3))
    assert not math.isnan(prediction_z(1e-6, 1e-7, 200, 1e-6, contribution_sd=1e-6))


def test_an_unknown_shot_noise_leaves_the_variance_out():
    """An infinite standard error (the runtime's ZNE returns one when its extrapolation does
    not converge) makes the floor unknown: the variance is NaN, not -inf, and unresolved."""
    import math

    from bp_qiskit.core.statistics import corrected_variance, summarize_gradients

    grads = np.array([0.1, -0.2, 0.3, 0.05])
    shot_var = np.array([0.01, np.inf, 0.01, 0.01])
    st = summarize_gradients(grads, shot_var)
    assert math.isnan(st.grad_var) and math.isnan(st.grad_var_se)
    assert math.isinf(st.shot_noise_var) and not st.resolved
    assert st.grad_var_raw == pytest.approx(np.var(grads, ddof=1))
    assert all(math.isnan(x) for x in corrected_variance(grads, shot_var))


def test_zne_that_does_not_converge_is_reported_not_printed_as_minus_infinity():
    from bp_qiskit import StudySpec, run_study
    from bp_qiskit.report.tables import format_table

    spec = StudySpec.from_dict({
        "study": {"seed": 1},
        "circuit": {"ansatz": "seed", "qubits": [2]},
        "observable": {"kind": "zz"},
        "sampling": {"samples": 4, "shots": 100},
        "backend": {"name": "fake:manila", "options": {"zne": True}},
    })  # fmt: skip
    outcome = run_study(spec, progress=False)
    table = format_table(outcome.result)
    assert "-inf" not in table
    assert "shot noise: unknown at n=2 L=1" in table


def _bootstrap_in_one_block(z, seed, resamples=1000):
    """The studentized bootstrap as the textbook writes it: every resample drawn at once."""
    s = len(z)
    m = z.mean()
    se = z.std(ddof=1) / np.sqrt(s)
    zb = z[np.random.default_rng(seed).integers(0, s, size=(resamples, s))]
    seb = zb.std(axis=1, ddof=1) / np.sqrt(s)
    ok = seb > 0
    t = (zb.mean(axis=1)[ok] - m) / seb[ok]
    alpha = 1.0 - 0.95  # as the function spells it: 0.05 + 4e-17, which moves the last bit
    lo, hi = np.quantile(t, [alpha / 2, 1 - alpha / 2])
    return (m - hi * se, m - lo * se)


@pytest.mark.parametrize("samples", [3, 37, 200, 201, 1000])
def test_the_blocked_bootstrap_gives_the_one_block_interval_to_the_bit(samples, monkeypatch):
    # Blocks keep the draws in cache; they must not change which resamples are drawn nor how
    # each is summed, or every shipped results.json would change. Small blocks force many.
    z = np.random.default_rng(samples).standard_normal(samples) ** 2
    z[: samples // 3] = 0.0  # the seed's gradients: a third exactly zero
    expected = _bootstrap_in_one_block(z, seed=11)
    for block in (1 << 15, 1 << 10, 7):
        monkeypatch.setattr(statistics, "_BOOTSTRAP_BLOCK", block)
        assert statistics.bootstrap_t_interval(z, np.random.default_rng(11)) == expected
