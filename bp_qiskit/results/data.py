"""A sweep point (:class:`Cell`) and all its per-sample data (:class:`CellData`)."""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

__all__ = ["Cell", "CellData"]


@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    """One point of the sweep: qubit count n and layer count L."""

    num_qubits: int
    num_layers: int

    @property
    def tag(self) -> str:
        """Suffix used in ``samples.npz`` keys: ``<n>_<L>``."""
        return f"{self.num_qubits}_{self.num_layers}"


@dataclasses.dataclass(frozen=True)
class CellData:
    """All samples of a cell, concatenated in job order.

    Attributes:
        cell: The sweep point.
        gates: (S, L, n) int8 gate codes.
        params: (S, L*n) angles.
        grads: (S, K) gradients.
        shot_var: (S, K) shot-noise variance of each gradient (0 when exact).
        shots: Shots executed per expectation value (0 = exact; the least over jobs).
        costs: (S,) the cost at random angles (cost concentration), or None.
        cost_shot_var: (S,) the shot-noise variance of each cost, or None.
        peak_memory: The largest peak resident bytes of the cell's jobs, or None.
        gradient_method: ``"adjoint"`` if the adjoint pass took every job's gradients,
            ``"adjoint, shift"`` if it took some; None for parameter shift.
    """

    cell: Cell
    gates: NDArray[np.int8]
    params: NDArray[np.float64]
    grads: NDArray[np.float64]
    shot_var: NDArray[np.float64]
    shots: int
    costs: NDArray[np.float64] | None = None
    cost_shot_var: NDArray[np.float64] | None = None
    peak_memory: int | None = None
    gradient_method: str | None = None
