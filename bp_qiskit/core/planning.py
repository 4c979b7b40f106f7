"""Shot-budget planning: how many circuits S and shots per point N reach a target error.

Model. For one random circuit c the measured gradient is g_hat = g_c + eps with
Var(eps | c) = sigma_c^2 / N, where ``sigma_c^2 = (s_+^2 + s_-^2) / 4`` is the
single-shot variance term of the two shifted points. The corrected variance estimator is the
mean over S circuits of z = (g_hat - mean)^2 - v with v the unbiased estimate of
sigma_c^2 / N. Treating eps as normal given c (the central limit in N), a short calculation
gives

    Var(z) = alpha + 4 (V T + C) / N + 2 Q / N^2

with V = Var(g), T = E[sigma^2], alpha = Var(g^2) = E[g^4] - V^2, C = Cov(g^2, sigma^2) and
Q = E[sigma^4]. For normal g and constant sigma this is the familiar 2 (V + T/N)^2, and the
relative error of the corrected variance is sqrt(2/S) (1 + T/(N V)).

Optimum. The relative standard error is r = sqrt(Var(z) / S) / V, so reaching r needs
S(N) = Var(z) / (r V)^2 circuits. With a cost of 2N shots per circuit and parameter plus an
overhead of h shot-equivalents per circuit, the cost S(N) (2N + h) is minimised at::

    h = 0:  N* = sqrt(2 Q / alpha)          (= T / V for normal g: shot noise equals signal)
    h > 0:  the root of d/dN [Var(z) (2N + h)] = 0, found numerically; N* grows with h,
            since each circuit then costs more and fewer, better-measured circuits win.

At N* the budget to reach r grows like (T / V) / r^2, i.e. like 2^n in a barren plateau.

QPU time model: ``seconds = circuits * per_circuit_s + shots * per_shot_s`` with documented
defaults (:data:`DEFAULT_PER_SHOT_S`, :data:`DEFAULT_PER_CIRCUIT_S`), both overridable.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_PER_CIRCUIT_S",
    "DEFAULT_PER_SHOT_S",
    "NoiseModel",
    "Plan",
    "model_from_samples",
    "optimal_plan",
    "predicted_rel_error",
    "qpu_seconds",
    "seed_circuit_model",
]

# Typical IBM Eagle/Heron figures: ~250 us per shot including reset and readout, and about a
# second of per-circuit (per parameter binding) overhead for loading and compilation.
DEFAULT_PER_SHOT_S = 2.5e-4
DEFAULT_PER_CIRCUIT_S = 1.0

_MAX_SHOTS = 10**7


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """The moments that determine the error of a corrected variance at one cell.

    Attributes:
        num_qubits: n.
        V: Var(g), the signal.
        T: E[sigma^2], the mean single-shot variance term (floor * N).
        alpha: Var(g^2).
        C: Cov(g^2, sigma^2).
        Q: E[sigma^4].
        source: Where the numbers came from ("pilot" or "model").
    """

    num_qubits: int
    V: float
    T: float
    alpha: float
    C: float
    Q: float
    source: str

    def var_z(self, shots: float) -> float:
        """Per-circuit variance of the corrected-variance contribution at N shots."""
        return self.alpha + 4 * (self.V * self.T + self.C) / shots + 2 * self.Q / shots**2


def predicted_rel_error(model: NoiseModel, samples: int, shots: int) -> float:
    """Predicted relative standard error of the corrected variance for S circuits, N shots."""
    return math.sqrt(model.var_z(shots) / samples) / model.V


def qpu_seconds(
    circuits: int,
    total_shots: int,
    *,
    per_shot_s: float = DEFAULT_PER_SHOT_S,
    per_circuit_s: float = DEFAULT_PER_CIRCUIT_S,
) -> float:
    """The documented QPU time model: ``circuits * per_circuit_s + shots * per_shot_s``.

    ``circuits`` counts random circuits times differentiated parameters (each a set of
    bindings that is loaded once); ``total_shots`` counts both shifts.
    """
    return circuits * per_circuit_s + total_shots * per_shot_s


@dataclasses.dataclass(frozen=True)
class Plan:
    """The cheapest (S, N) for one cell and what it costs."""

    num_qubits: int
    samples: int
    shots: int
    total_shots: int
    rel_error: float
    qpu_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON output."""
        return dataclasses.asdict(self)


def optimal_plan(
    model: NoiseModel,
    rel_error: float,
    *,
    params_per_circuit: int = 1,
    per_shot_s: float = DEFAULT_PER_SHOT_S,
    per_circuit_s: float = DEFAULT_PER_CIRCUIT_S,
    min_samples: int = 2,
) -> Plan:
    """Minimise the QPU time S (t_c + 2 K N t_s) subject to the relative error ``rel_error``.

    The per-circuit overhead enters as h = t_c / t_s shot-equivalents; with t_c = 0 the
    optimum is N* = sqrt(2 Q / alpha). The search is over integer N >= 2 (a shot-noise
    variance needs two shots) on a fine logarithmic grid followed by a local integer scan.
    """
    if not 0 < rel_error < 1:
        raise ValueError(f"rel_error: got {rel_error}; allowed: a number in (0, 1)")
    if model.V <= 0:
        raise ValueError(
            f"model: the signal at n={model.num_qubits} is not positive (V={model.V:.3g}); "
            "the pilot did not resolve it"
        )
    k = params_per_circuit

    def cost(n_shots: int) -> tuple[float, int]:
        s = max(min_samples, math.ceil(model.var_z(n_shots) / (rel_error * model.V) ** 2))
        shots = 2 * k * s * n_shots
        return qpu_seconds(s * k, shots, per_shot_s=per_shot_s, per_circuit_s=per_circuit_s), s

    grid = np.unique(np.geomspace(2, _MAX_SHOTS, 400).astype(int))
    best = min(grid, key=lambda n: cost(int(n))[0])
    lo, hi = max(2, int(best * 0.97) - 2), int(best * 1.03) + 2
    n_best = min(range(lo, hi + 1), key=lambda n: cost(n)[0])
    seconds, samples = cost(n_best)
    return Plan(
        num_qubits=model.num_qubits,
        samples=samples,
        shots=n_best,
        total_shots=2 * k * samples * n_best,
        rel_error=predicted_rel_error(model, samples, n_best),
        qpu_seconds=seconds,
    )


def model_from_samples(
    num_qubits: int,
    grads: NDArray[np.float64],
    shot_var: NDArray[np.float64],
    shots: int | NDArray[np.int64],
) -> NoiseModel:
    """Estimate the moments from pilot samples measured with ``shots`` >= 2 per point.

    ``shot_var`` holds the per-sample estimates of sigma_c^2 / N, so w = N * shot_var is
    unbiased for sigma_c^2. ``shots`` may differ per sample (adaptive rounds). The pilot's own
    shot noise is removed from alpha with the same formula, so a pilot at one N predicts the
    error at another. Single-parameter gradients only (K = 1): the planner's model is per
    parameter.
    """
    g = np.asarray(grads, dtype=float).reshape(len(grads), -1).mean(axis=1)
    s = len(g)
    n_s = np.broadcast_to(np.asarray(shots, dtype=float), (s,))
    if np.any(n_s < 2):
        raise ValueError("shots: a pilot needs >= 2 shots per point to estimate noise")
    w = n_s * np.asarray(shot_var, dtype=float).reshape(s, -1).mean(axis=1)
    z = (s / (s - 1)) * (g - g.mean()) ** 2 - w / n_s
    v_sig = float(z.mean())
    t_mean = float(w.mean())
    q = float(np.mean(w**2))
    c = float(np.cov(z, w, ddof=1)[0, 1])
    # Remove each sample's own shot-noise contribution to Var(z), at its own N.
    noise = np.mean(4 * (v_sig * t_mean + c) / n_s + 2 * q / n_s**2)
    alpha = float(np.var(z, ddof=1)) - float(noise)
    # alpha cannot be below 0; a pilot dominated by shot noise can push the estimate there.
    alpha = max(alpha, 0.0)
    return NoiseModel(num_qubits, v_sig, t_mean, alpha, c, q, source="pilot")


def _seed_qubit_tables(points: int = 4096) -> list[tuple[NDArray[np.float64], ...]]:
    """(p, d, p_+, p_-) on an angle grid for each gate type, for one seed-circuit qubit.

    A qubit is RY(pi/4)|0> (Bloch vector (sin pi/4, 0, cos pi/4)) followed by R(theta), R
    uniform in {RX, RY, RZ}, theta uniform in [0, 2 pi). p = |<0|.|>|^2 = (1 + z') / 2 and
    d = dp/dtheta; p_+- are p at theta +- pi/2 (a quarter-turn roll of the periodic grid).
    """
    theta = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    x0 = z0 = math.sqrt(0.5)
    p_d = [
        ((1 + z0 * np.cos(theta)) / 2, -z0 * np.sin(theta) / 2),  # RX: z' = z cos
        (
            (1 + z0 * np.cos(theta) - x0 * np.sin(theta)) / 2,  # RY: z' = z cos - x sin
            (-z0 * np.sin(theta) - x0 * np.cos(theta)) / 2,
        ),
        (np.full_like(theta, (1 + z0) / 2), np.zeros_like(theta)),  # RZ: p unchanged
    ]
    q = points // 4
    return [(p, d, np.roll(p, -q), np.roll(p, q)) for p, d in p_d]


def seed_circuit_model(num_qubits: int) -> NoiseModel:
    """Exact moments for the seed study (global projector, last parameter, U[0, 2pi) angles).

    The cost factorises: p = P * p_last with P the product over the other n-1 qubits, so
    ``g = P * d`` and ``sigma^2 = (p_+ (1 - p_+) + p_- (1 - p_-)) / 4`` with
    ``p_+- = P * p_last(theta +- pi/2)``. Every moment is a product of one-qubit moments,
    computed by quadrature.
    """
    tables = _seed_qubit_tables()

    def mean(f: Any) -> float:
        return float(np.mean([np.mean(f(*t)) for t in tables]))

    k = num_qubits - 1
    # Moments of P (the other qubits) are powers of one-qubit moments.
    e_p, e_p2, e_p3, e_p4 = (mean(lambda p, d, pp, pm, j=j: p**j) ** k for j in (1, 2, 3, 4))
    # Last-qubit factors: g = P d; sigma^2 = (P a1 - P^2 a2) / 4, a1 = p+ + p-, a2 = p+^2 + p-^2.
    d2, d4 = mean(lambda p, d, pp, pm: d**2), mean(lambda p, d, pp, pm: d**4)
    a1, a2 = mean(lambda p, d, pp, pm: pp + pm), mean(lambda p, d, pp, pm: pp**2 + pm**2)
    d2a1 = mean(lambda p, d, pp, pm: d**2 * (pp + pm))
    d2a2 = mean(lambda p, d, pp, pm: d**2 * (pp**2 + pm**2))
    a1a1 = mean(lambda p, d, pp, pm: (pp + pm) ** 2)
    a1a2 = mean(lambda p, d, pp, pm: (pp + pm) * (pp**2 + pm**2))
    a2a2 = mean(lambda p, d, pp, pm: (pp**2 + pm**2) ** 2)
    v = e_p2 * d2  # the mean gradient is 0
    t = (e_p * a1 - e_p2 * a2) / 4
    e_g2s2 = (e_p3 * d2a1 - e_p4 * d2a2) / 4
    q = (e_p2 * a1a1 - 2 * e_p3 * a1a2 + e_p4 * a2a2) / 16
    return NoiseModel(
        num_qubits=num_qubits,
        V=v,
        T=t,
        alpha=e_p4 * d4 - v**2,
        C=e_g2s2 - v * t,
        Q=q,
        source="model",
    )
