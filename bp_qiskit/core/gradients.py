"""Parameter-shift gradients as pure array functions: build the shifts, combine the values.

For a gate exp(-i t P / 2) with P a Pauli and t used once,
``dE/dt = (E(t + pi/2) - E(t - pi/2)) / 2`` exactly. The shifted parameter sets are laid out
as one array of shape (S, K, 2, P) — samples, differentiated parameters, (+, -) shift,
parameters — so every sample and both shifts of a cell bind into one PUB. Keeping + and -
in the same PUB also matters statistically: some estimators re-seed per PUB, and two PUBs of
the same shape would get identical noise that cancels in the difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SHIFT",
    "combine_shifts",
    "parameter_indices",
    "shift_columns",
    "shift_parameters",
    "shot_noise_variance",
    "spans_whole_turns",
]

SHIFT = math.pi / 2


def parameter_indices(
    parameter: str | int | Sequence[int], num_params: int, num_layers: int = 1
) -> NDArray[np.int64]:
    """Resolve ``"first"``, ``"last"``, ``"all"``, an index, or ``[layer, position]``.

    Negative numbers count from the end. ``[layer, position]`` addresses the same gate at
    every n: ``[-1, 0]`` is the first rotation of the last layer whatever the width, where
    a flat index l * n + q would move to another layer and qubit as n changes. ``position``
    counts the parameters within one layer (the qubit, for the built-in ansätze).
    """
    if isinstance(parameter, (list, tuple)):
        return np.array([_layer_position(parameter, num_params, num_layers)])
    if parameter == "first":
        return np.array([0])
    if parameter == "last":
        return np.array([num_params - 1])
    if parameter == "all":
        return np.arange(num_params)
    if isinstance(parameter, bool) or not isinstance(parameter, (int, np.integer)):
        raise ValueError(
            f"parameter: got {parameter!r}; allowed: 'first', 'last', 'all' or an integer index"
        )
    if not -num_params <= parameter < num_params:
        raise ValueError(
            f"parameter: index {parameter} out of range for {num_params} parameters; "
            f"allowed: [{-num_params}, {num_params - 1}]"
        )
    return np.array([int(parameter) % num_params])


def _layer_position(address: Sequence[int], num_params: int, num_layers: int) -> int:
    if len(address) != 2 or not all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in address
    ):
        raise ValueError(f"parameter: got {list(address)!r}; allowed: [layer, position] integers")
    per_layer = num_params // num_layers
    layer, position = (int(a) for a in address)
    if not -num_layers <= layer < num_layers or not -per_layer <= position < per_layer:
        raise ValueError(
            f"parameter: [layer, position] = {list(address)} out of range for {num_layers} "
            f"layers of {per_layer} parameters; allowed: layer in [{-num_layers}, "
            f"{num_layers - 1}], position in [{-per_layer}, {per_layer - 1}]"
        )
    return (layer % num_layers) * per_layer + position % per_layer


def spans_whole_turns(angles: tuple[float, float]) -> bool:
    """Whether [low, high) is a whole number of turns, so a shifted angle is still uniform.

    The averages E[cos] = E[sin] = 0 and E[cos^2] = 1/2 behind cost concentration and the
    predictions hold only then.
    """
    turns = (angles[1] - angles[0]) / (2 * math.pi)
    return round(turns) >= 1 and math.isclose(turns, round(turns), abs_tol=1e-12)


def shift_parameters(
    params: NDArray[np.float64], indices: NDArray[np.int64], shift: float = SHIFT
) -> NDArray[np.float64]:
    """Return (S, K, 2, P) parameter sets.

    ``out[s, k, 0]`` is sample s with +shift on parameter ``indices[k]``, ``out[s, k, 1]`` with
    -shift.
    """
    params = np.asarray(params, dtype=float)
    s, p = params.shape
    k = len(indices)
    out = np.broadcast_to(params[:, None, None, :], (s, k, 2, p)).copy()
    rows = np.arange(k)
    out[:, rows, 0, indices] += shift
    out[:, rows, 1, indices] -= shift
    return out


def combine_shifts(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Combine (S, K, 2) shifted expectation values into (S, K) gradients."""
    values = np.asarray(values, dtype=float)
    return 0.5 * (values[..., 0] - values[..., 1])


def shot_noise_variance(stds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shot-noise variance of each gradient from the standard errors of the two shifted means.

    With independent shots at the two points, Var(g_hat | circuit) = (se_+^2 + se_-^2) / 4,
    where se^2 = s^2 / N with s^2 the unbiased single-shot variance.
    """
    stds = np.asarray(stds, dtype=float)
    return 0.25 * (stds[..., 0] ** 2 + stds[..., 1] ** 2)


def shift_columns(
    values: NDArray[np.float64], shift: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """The unshifted bindings and the column each shifted pair moves, or None.

    ``values`` is an ExpectationTask's (S, J, 2, P) layout: pair j of sample s is the
    unshifted binding with +shift and -shift on one column. Returns ``(base (S, P), columns
    (S, J))``, or None when a pair moves anything but one column by exactly +-shift (or the
    pairs of a sample do not share their midpoint), since only then is the pair's half
    difference the partial derivative that the adjoint pass computes.
    """
    if values.ndim != 4 or values.shape[2] != 2 or values.shape[1] == 0:
        return None
    plus, minus = values[:, :, 0, :], values[:, :, 1, :]
    base = 0.5 * (plus[:, 0] + minus[:, 0])
    step = plus - minus
    cols = np.argmax(np.abs(step), axis=-1)
    moved = np.take_along_axis(step, cols[..., None], axis=-1)[..., 0]
    if not np.allclose(moved, 2 * shift, rtol=0, atol=1e-12):
        return None
    rest = step.copy()
    np.put_along_axis(rest, cols[..., None], 0.0, axis=-1)
    if np.any(np.abs(rest) > 1e-12):
        return None
    if np.any(np.abs(0.5 * (plus + minus) - base[:, None, :]) > 1e-12):
        return None
    return base, cols
