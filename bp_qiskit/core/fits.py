"""How the variance decays with n: exponential and power-law fits that say when they are wrong.

Two models of the expected variance m(n):

- exponential, ``m = exp(a + b n)``: a barren plateau; b is the decay rate per qubit, in
  natural log (d ln Var / dn);
- power law, ``m = exp(a + b ln n)`` = ``A n^b``: no plateau (e.g. Cerezo et al.'s local cost
  on shallow circuits, whose variance falls as 1/n^2).

Both are fitted to the same cells with the same weights, so their chi-squares are
comparable: with two parameters each, the Akaike criterion difference is
``delta_aic = chi2_exponential - chi2_power``. A model is *preferred* when its AIC is lower by
more than 2 (Burnham & Anderson's "substantial support" rule); otherwise the data cannot tell.
``chi2 / dof`` far above 1 says that the preferred model is still wrong (e.g. McClean's curve
bending towards its 2-design limit).

**Exact expectation values** (no shots): every cell's variance is positive and its relative
error is small, so the fit is weighted least squares of ln Var on x (x = n or ln n), each cell
weighted by its delta-method error se / Var.

**With shots** some cells sit near the shot-noise floor. Their corrected variance
(raw minus floor) is unbiased but may be near zero or negative, so ln Var is undefined or
wildly biased there. Dropping unresolved cells (what bp_qiskit did before) keeps a cell near
the floor only when it fluctuates upwards, so the decay looks too shallow: on the
settings of ``tests/test_fits.py`` that selection biased the slope by +0.04, about 9 standard
errors of the mean over repetitions. Instead every cell is fitted in linear space:

- iteratively reweighted least squares of the corrected variance on ``exp(a + b x)``;
- each cell's standard deviation taken from the *model*, ``kappa (m + floor)``, not from
  the cell's own estimate. A cell's own standard error grows with its own
  fluctuation, and weighting by it pulls the fit down;
- ``kappa``, the relative error of a raw variance, is pooled over the cells (geometric mean),
  for the same reason;
- the remaining second-order bias of a nonlinear fit is removed by a seeded parametric
  bootstrap (refit on ``m + sd * normal`` draws; subtract the mean shift).

``tests/test_fits.py`` checks the bias and the coverage of the 95% interval on repeated
synthetic studies with binomial shot noise and a known slope.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AIC_MARGIN",
    "MODELS",
    "DecayFit",
    "ModelComparison",
    "compare_models",
    "fit_decay",
]

MODELS = ("exponential", "power_law")
AIC_MARGIN = 2.0
BIAS_BOOTSTRAP = 200
NUMERICAL_ZERO = 1e-15
_MAX_ITER = 200


@dataclasses.dataclass(frozen=True)
class DecayFit:
    """A fit of ``ln m = intercept + slope * x`` with x = n (exponential) or ln n (power law).

    Attributes:
        model: ``exponential`` or ``power_law``.
        slope: d ln Var / dn (exponential) or the exponent b of n^b (power law).
        slope_se: Its standard error, inflated by sqrt(chi2/dof) when that exceeds 1.
        intercept: a.
        chi2: Weighted sum of squared residuals.
        dof: Cells minus 2.
        points: The qubit counts fitted.
        method: ``log-wls`` (exact values) or ``linear-irls`` (with shots; every cell used).
    """

    model: str
    slope: float
    slope_se: float
    intercept: float
    chi2: float
    dof: int
    points: tuple[int, ...]
    method: str

    @property
    def chi2_dof(self) -> float | None:
        """chi2 / dof, or None with no degrees of freedom."""
        return self.chi2 / self.dof if self.dof > 0 else None

    @property
    def aic(self) -> float:
        """Akaike's criterion up to a constant shared by both models: chi2 + 2 k, k = 2."""
        return self.chi2 + 4.0


@dataclasses.dataclass(frozen=True)
class ModelComparison:
    """Which model the cells prefer: ``delta_aic = AIC(exponential) - AIC(power law)``."""

    delta_aic: float
    preferred: str  # "exponential", "power_law" or "either"


def compare_models(exponential: DecayFit, power_law: DecayFit) -> ModelComparison:
    """The model with the lower AIC, when lower by more than :data:`AIC_MARGIN`."""
    delta = exponential.aic - power_law.aic
    if delta > AIC_MARGIN:
        return ModelComparison(delta, "power_law")
    if delta < -AIC_MARGIN:
        return ModelComparison(delta, "exponential")
    return ModelComparison(delta, "either")


def _abscissa(model: str, n: NDArray[np.float64]) -> NDArray[np.float64]:
    if model == "exponential":
        return n
    if model == "power_law":
        return np.log(n)
    raise ValueError(f"model: got {model!r}; allowed: {', '.join(MODELS)}")


def fit_decay(
    num_qubits: Sequence[int],
    variances: Sequence[float],
    variance_se: Sequence[float],
    floors: Sequence[float] | None = None,
    *,
    model: str = "exponential",
    seed: int | np.random.SeedSequence = 0,
) -> DecayFit | None:
    """Fit one decay model to per-cell variances (see the module docstring).

    Args:
        num_qubits: n per cell.
        variances: Corrected variance per cell (may be <= 0 with shots).
        variance_se: Its standard error.
        floors: Mean shot-noise variance per cell; None or all zero for exact values.
        model: ``exponential`` or ``power_law``.
        seed: Seed of the bias-correcting bootstrap (used only with shots).

    Returns:
        The fit, or None when fewer than two distinct n can be used.
    """
    n = np.asarray(num_qubits, dtype=float)
    var = np.asarray(variances, dtype=float)
    se = np.asarray(variance_se, dtype=float)
    floor = np.zeros_like(var) if floors is None else np.asarray(floors, dtype=float)
    x_all = _abscissa(model, n)
    if np.any(floor > 0):
        return _fit_with_shots(model, n, x_all, var, se, floor, seed)
    finite = np.isfinite(var) & np.isfinite(se)
    # A variance at rounding level (a conserved cost: the gradient is exactly 0 in theory)
    # is no point on a decay curve.
    zero = var <= NUMERICAL_ZERO * np.max(np.abs(var[finite]), initial=0.0)
    keep = finite & (var > 0) & (se > 0) & ~zero
    if keep.sum() < 2 or len(set(n[keep])) < 2:
        return None
    # Weights 1 / sig^2 with sig = se / var, the error of ln var; as (var / se)^2 they
    # cannot overflow where sig is huge.
    x, y = x_all[keep], np.log(var[keep])
    w = (var[keep] / se[keep]) ** 2
    design = np.stack([x, np.ones_like(x)], axis=1)
    try:
        cov = np.linalg.inv(design.T @ (design * w[:, None]))
    except np.linalg.LinAlgError:
        cov = np.full((2, 2), np.nan)
    if not (np.all(np.isfinite(cov)) and cov[0, 0] > 0):
        # An ill-posed system: variances at rounding level in every cell (e.g. the
        # identity-block cost at initialisation, exactly 1 for every circuit) give weights
        # that underflow or a covariance that is not positive.
        return None
    slope, intercept = cov @ (design.T @ (w * y))
    chi2 = float(np.sum(w * (y - slope * x - intercept) ** 2))
    return _result(model, slope, intercept, cov[0, 0], chi2, n[keep], "log-wls")


def _result(
    model: str,
    slope: float,
    intercept: float,
    var_slope: float,
    chi2: float,
    points: NDArray[np.float64],
    method: str,
) -> DecayFit:
    dof = len(points) - 2
    # Birge ratio: scatter beyond the error bars (a wrong model) widens the slope's error.
    inflation = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return DecayFit(
        model=model,
        slope=float(slope),
        slope_se=float(math.sqrt(var_slope * inflation)),
        intercept=float(intercept),
        chi2=chi2,
        dof=dof,
        points=tuple(int(v) for v in points),
        method=method,
    )


def _irls(
    x: NDArray[np.float64],
    var: NDArray[np.float64],
    sd_scale: float,
    floor: NDArray[np.float64],
    slope: NDArray[np.float64],
    intercept: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Batched IRLS: ``var`` is (B, C); returns slope, intercept, var(slope), chi2 per row.

    The model's standard deviation of a cell is ``sd_scale * (m + floor)``.
    """
    b, a = slope.copy(), intercept.copy()
    failed = np.zeros(len(b), dtype=bool)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for _ in range(_MAX_ITER):
            hess, grad, _ = _normal_equations(x, var, sd_scale, floor, a, b)
            # The 2 x 2 system solved row by row in closed form: a row whose model has
            # underflowed (exp -> 0) has a singular system and is marked failed, not fatal.
            det = _det(hess)
            ok = np.isfinite(det) & (np.abs(det) > 1e-300) & ~failed
            failed |= ~ok
            safe = np.where(ok, det, 1.0)
            step_b = (hess[:, 1, 1] * grad[:, 0] - hess[:, 0, 1] * grad[:, 1]) / safe
            step_a = (hess[:, 0, 0] * grad[:, 1] - hess[:, 1, 0] * grad[:, 0]) / safe
            # Damped Gauss-Newton: a step of at most 1 in either coefficient keeps exp() sane.
            step_b = np.where(ok, np.clip(step_b, -1.0, 1.0), 0.0)
            step_a = np.where(ok, np.clip(step_a, -1.0, 1.0), 0.0)
            b, a = b + step_b, a + step_a
            if max(np.max(np.abs(step_b)), np.max(np.abs(step_a))) < 1e-10:
                break
        hess, _, chi2 = _normal_equations(x, var, sd_scale, floor, a, b)
        var_b = hess[:, 1, 1] / _det(hess)
    bad = failed | ~np.isfinite(var_b) | ~np.isfinite(b) | (var_b <= 0)
    nan = np.full(len(b), np.nan)
    return np.where(bad, nan, b), np.where(bad, nan, a), np.where(bad, nan, var_b), chi2


def _det(hess: NDArray[np.float64]) -> NDArray[np.float64]:
    """Determinants of a stack of 2 x 2 matrices."""
    return hess[:, 0, 0] * hess[:, 1, 1] - hess[:, 0, 1] * hess[:, 1, 0]


def _normal_equations(
    x: NDArray[np.float64],
    var: NDArray[np.float64],
    sd_scale: float,
    floor: NDArray[np.float64],
    a: NDArray[np.float64],
    b: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """J^T W J, J^T W r and chi2 of every row at (a, b)."""
    m = np.exp(a[:, None] + b[:, None] * x)
    w = 1.0 / (sd_scale * (m + floor)) ** 2
    jac = np.stack([m * x, m], axis=-1)
    hess = np.einsum("bci,bc,bcj->bij", jac, w, jac)
    grad = np.einsum("bci,bc,bc->bi", jac, w, var - m)
    return hess, grad, np.sum(w * (var - m) ** 2, axis=1)


def _fit_with_shots(
    model: str,
    n: NDArray[np.float64],
    x: NDArray[np.float64],
    var: NDArray[np.float64],
    se: NDArray[np.float64],
    floor: NDArray[np.float64],
    seed: int | np.random.SeedSequence,
) -> DecayFit | None:
    raw = var + floor
    keep = (se > 0) & (raw > 0) & np.isfinite(var) & np.isfinite(se)
    if keep.sum() < 2 or len(set(n[keep])) < 2:
        return None
    n, x, var, se, floor, raw = n[keep], x[keep], var[keep], se[keep], floor[keep], raw[keep]
    # Pooled relative error of a raw variance (geometric mean over cells).
    kappa = float(np.exp(np.mean(np.log(se / raw))))
    positive = var > 0
    if positive.sum() >= 2 and len(set(x[positive])) >= 2:
        b0, a0 = np.polyfit(x[positive], np.log(var[positive]), 1)
    else:  # everything at the floor: start flat at the floor's scale
        b0, a0 = 0.0, math.log(float(np.mean(floor)))
    start_b, start_a = np.array([b0], dtype=float), np.array([a0], dtype=float)
    b, a, var_b, chi2 = _irls(x, var[None, :], kappa, floor, start_b, start_a)
    slope, intercept = float(b[0]), float(a[0])
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        return None  # the model cannot describe these cells (e.g. all at the floor)
    # Parametric bootstrap of the fit's own nonlinearity bias (seeded: same bytes every run).
    m = np.exp(intercept + slope * x)
    rng = np.random.default_rng(seed)
    draws = m + kappa * (m + floor) * rng.standard_normal((BIAS_BOOTSTRAP, len(x)))
    boot_b, _, _, _ = _irls(
        x,
        draws,
        kappa,
        floor,
        np.full(BIAS_BOOTSTRAP, slope),
        np.full(BIAS_BOOTSTRAP, intercept),
    )
    finite = np.isfinite(boot_b)
    if finite.any():
        slope -= float(np.mean(boot_b[finite])) - slope
    return _result(model, slope, intercept, float(var_b[0]), float(chi2[0]), n, "linear-irls")
