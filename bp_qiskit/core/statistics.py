"""Pure statistics of gradient samples: variances and their standard errors (fits: core.fits).

Standard error of a variance. The gradients of random circuits are far from normal (about a
third of the seed circuit's are exactly 0), so the normal-theory sqrt(2/(S-1)) * var would
understate the error. We use the delta method on per-sample contributions instead: with
``y_s = S/(S-1) * mean_k (g_sk - gbar_k)**2`` the unbiased variance (averaged over the K
differentiated parameters) is ``mean_s y_s``, and its standard error is ``std(y) / sqrt(S)``.
This uses the sample's own fourth moment, and for K > 1 it includes the correlation between
parameters of the same circuit. It is correct to O(1/S).

Shot noise enters the same way: with per-sample shot-noise variances ``v_s`` (the
floor), the corrected variance is ``mean_s (y_s - v_s)`` by the law of total variance, and its
standard error is ``std(y - v) / sqrt(S)``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CellStatistics",
    "bootstrap_t_interval",
    "corrected_variance",
    "prediction_z",
    "summarize_gradients",
]

BOOTSTRAP_RESAMPLES = 1000
# Resampled values held at once (float64): 2**14 = 128 KiB, so that a block's draws, values
# and squared deviations stay in the core's cache. The draws are one stream however they are
# blocked (the generator buffers its 32-bit halves across calls), so the interval's bits do
# not depend on this number (tests/test_statistics.py); one block for all of the seed's
# 200 x 1000 took 1.9x as long (benchmarks/bench_bootstrap.py, quoted in docs/benchmarks.md).
_BOOTSTRAP_BLOCK = 1 << 14


def bootstrap_t_interval(
    z: NDArray[np.float64],
    rng: np.random.Generator,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """Studentized bootstrap interval for the mean of ``z``.

    Why not mean +/- 1.96 se: the per-sample contributions z are squared deviations of a
    heavy-tailed gradient distribution, so the sampling distribution of their mean is skewed
    and the normal interval under-covers (measured on the seed circuit at S = 100: 86-90%
    instead of 95%). Bootstrapping the t statistic (mean - m) / se captures that skew
    (Hall 1988; Efron & Tibshirani ch. 12); it was the best calibrated of the normal,
    Cornish-Fisher, percentile and bootstrap-t intervals we compared.
    """
    z = np.asarray(z, dtype=float)
    s = len(z)
    m = float(z.mean())
    se = float(z.std(ddof=1) / math.sqrt(s))
    if se == 0.0:
        return (m, m)
    ts = []
    per_block = max(1, _BOOTSTRAP_BLOCK // s)
    for start in range(0, resamples, per_block):
        b = min(per_block, resamples - start)
        zb = z[rng.integers(0, s, size=(b, s))]
        # zb.std and zb.mean, spelled as numpy's _var spells them (the same sums, so the
        # same bits) but summing each row once and squaring in place.
        mb = np.add.reduce(zb, axis=1) / s
        dev = zb - mb[:, None]
        np.multiply(dev, dev, out=dev)
        seb = np.sqrt(np.add.reduce(dev, axis=1) / (s - 1)) / math.sqrt(s)
        # A resample with no spread (all draws equal) has an undefined t; it is rare and its
        # mean equals m's neighbourhood, so it carries no information about the tails.
        ok = seb > 0
        ts.append((mb[ok] - m) / seb[ok])
    t = np.concatenate(ts)
    alpha = 1.0 - level
    t_lo, t_hi = np.quantile(t, [alpha / 2, 1 - alpha / 2])
    return (m - float(t_hi) * se, m - float(t_lo) * se)


@dataclasses.dataclass(frozen=True)
class CellStatistics:
    """Summary of one cell's gradient samples (averaged over differentiated parameters).

    Attributes:
        samples: Number of random circuits S.
        grad_mean: Mean gradient.
        grad_var_raw: Sample variance (ddof=1) of the measured gradients.
        shot_noise_var: Mean per-sample shot-noise variance (0 when exact).
        grad_var: Corrected variance, raw minus the shot-noise floor (equals raw when exact).
        grad_var_se: Standard error of ``grad_var``.
        grad_var_ci: 95% bootstrap-t interval of ``grad_var`` (see :func:`bootstrap_t_interval`).
        resolved: True when the interval excludes 0 (the signal is above the shot-noise floor).
    """

    samples: int
    grad_mean: float
    grad_var_raw: float
    shot_noise_var: float
    grad_var: float
    grad_var_se: float
    grad_var_ci: tuple[float, float]
    resolved: bool


def summarize_gradients(
    grads: NDArray[np.float64],
    shot_var: NDArray[np.float64] | None = None,
    *,
    seed: int | np.random.SeedSequence = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> CellStatistics:
    """Summarise (S,) or (S, K) gradients, optionally with their shot-noise variances.

    The 95% interval is a studentized (bootstrap-t) interval over the per-sample
    contributions, seeded by ``seed`` so it is reproducible.
    """
    g, y, v = _contributions(grads, shot_var)
    z = y - v
    s = len(z)
    if not np.all(np.isfinite(v)):
        # The estimator gave no finite standard error for some value (zero-noise
        # extrapolation that did not converge returns inf): the shot noise to subtract is
        # unknown, so is the variance. Not -inf, and not an interval around it.
        nan = float("nan")
        return CellStatistics(s, float(g.mean()), float(y.mean()), float("inf"), nan, nan,
                              (nan, nan), False)  # fmt: skip
    corrected = float(z.mean())
    se = float(np.std(z, ddof=1) / math.sqrt(s))
    ci = bootstrap_t_interval(z, np.random.default_rng(seed), resamples=resamples)
    return CellStatistics(
        samples=s,
        grad_mean=float(g.mean()),
        grad_var_raw=float(y.mean()),
        shot_noise_var=float(v.mean()),
        grad_var=corrected,
        grad_var_se=se,
        grad_var_ci=ci,
        resolved=bool(ci[0] > 0.0),
    )


def _contributions(
    grads: NDArray[np.float64], shot_var: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gradients as (S, K), and the per-sample contributions y_s (raw) and v_s (floor)."""
    g = np.asarray(grads, dtype=float)
    if g.ndim == 1:
        g = g[:, None]
    s = g.shape[0]
    if s < 2:
        raise ValueError(f"grads: need at least 2 samples, got {s}")
    y = (s / (s - 1)) * np.mean((g - g.mean(axis=0)) ** 2, axis=1)
    v = (
        np.zeros(s)
        if shot_var is None
        else np.asarray(shot_var, dtype=float).reshape(s, -1).mean(1)
    )
    return g, y, v


def corrected_variance(
    grads: NDArray[np.float64], shot_var: NDArray[np.float64] | None = None
) -> tuple[float, float]:
    """Shot-noise-corrected variance and its standard error, without the interval (cheap)."""
    _, y, v = _contributions(grads, shot_var)
    if not np.all(np.isfinite(v)):
        return float("nan"), float("nan")  # as in summarize_gradients: the floor is unknown
    z = y - v
    return float(z.mean()), float(np.std(z, ddof=1) / math.sqrt(len(z)))


def prediction_z(
    measured: float,
    measured_se: float,
    samples: int,
    predicted: float,
    *,
    predicted_se: float | None = None,
    contribution_sd: float | None = None,
) -> float:
    """How far a measured variance lies from its prediction, on a scale that holds with tails.

    ``(m - v) / se`` is overconfident for a sample variance: a sample that missed the rare
    large gradients has a small m *and* a small se, so low measurements look significant
    (gradients of a 6-qubit product of cosines, S = 50: 10% of cells beyond 3 se, a Gaussian
    has 0.27%; tests/test_statistics.py). Here m / v is read as a scaled chi-square with
    k = 2 S / r degrees of freedom, r = Var(y) / v^2 the relative spread of one circuit's
    contribution y (2 for Gaussian gradients), and put on the normal scale by the
    Wilson-Hilferty cube root, z = ((m/v)^(1/3) - (1 - 2/(9k))) / sqrt(2/(9k)).

    r comes from ``contribution_sd`` (the predicted sd of y, from the exact fourth moment)
    where it is known, and never below the sample's spread relative to v (shot noise adds to
    it). Without it, r is the sample's spread relative to the smaller of m and v, which still
    misses tails a sample has not seen (the same product at n = 8, S = 50: 4%). The
    prediction's own standard error enters as a relative error on v (its cube root moves by
    a third of it).

    NaN when v <= 0 or nothing is spread, and when r > S: then the variance's own relative
    standard error, sqrt(r / S), is above 1, the chi-square has under 2 degrees of freedom,
    and the circuits are too few for the tails to test the prediction at all (the global
    projector at n = 50, 200 circuits: r is of order 10^14).
    """
    if predicted <= 0.0 or samples < 2:
        return math.nan
    sd = measured_se * math.sqrt(samples)
    r = (sd / predicted) ** 2
    if contribution_sd is not None:
        r = max(r, (contribution_sd / predicted) ** 2)
    elif measured > 0.0:
        r = max(r, (sd / measured) ** 2)
    rel = (predicted_se or 0.0) / predicted
    if (r <= 0.0 and rel <= 0.0) or r > samples:
        return math.nan
    spread = 2.0 * r / (9.0 * 2.0 * samples)  # 2 / (9 k) with k = 2 S / r
    centre = 1.0 - spread
    return (float(np.cbrt(measured / predicted)) - centre) / math.sqrt(spread + rel**2 / 9.0)
