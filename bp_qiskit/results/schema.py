"""The summary of a gradient-variance study: frozen dataclasses with a JSON round trip.

``results.json`` holds no timestamps or timings on purpose: the same spec and seed must give
the same bytes whether a study ran in one go, was resumed after a crash, or was re-reported
from the store.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..core.fits import DecayFit, ModelComparison, compare_models, fit_decay
from ..core.layers import resolve_layers
from ..core.statistics import corrected_variance, prediction_z, summarize_gradients
from .data import CellData

__all__ = ["CellResult", "FitResult", "SeriesFit", "StudyResult", "build_result"]


_PREDICTED = (
    "predicted_grad_var",
    "predicted_grad_var_se",
    "predicted_method",
    "predicted_upper_bound",
)


@dataclasses.dataclass(frozen=True)
class CellResult:
    """Summary of one cell. ``grad_var`` is the shot-noise-corrected variance.

    Attributes:
        num_qubits: n.
        num_layers: L.
        samples: Random circuits S.
        shots: Shots requested per shifted value (0 = exact).
        shots_executed: Shots the backend reports it executed per value.
        grad_mean: Mean gradient.
        grad_var: Best estimate of Var(gradient): ``grad_var_raw - shot_noise_var``.
        grad_var_se: Standard error of ``grad_var``.
        grad_var_raw: Sample variance of the measured gradients (ddof=1).
        shot_noise_var: Mean shot-noise variance per gradient (the floor).
        grad_var_ci: 95% bootstrap-t interval of the corrected variance.
        resolved: Whether the interval excludes 0.
        cost_mean: Mean cost at random angles (None where not measured).
        cost_var: Shot-noise-corrected Var[C] over the random angles: cost concentration
            (Arrasmith et al. 2022). None where not measured.
        cost_var_se: Its standard error.
        grad_var_params: With several differentiated parameters, the corrected variance of
            each one, in parameter order (``grad_var`` is their mean); None otherwise.
        grad_var_params_se: Their standard errors.
        predicted_grad_var, predicted_grad_var_se, predicted_method, predicted_upper_bound:
            what Pauli propagation expects for the cell (``run`` predicts unless
            ``--no-predict``); None otherwise.
        predicted_contribution_sd: the predicted sd of one circuit's squared gradient (exact
            from the fourth moment, or the global projector's upper bound); the spread
            :func:`~bp_qiskit.core.statistics.prediction_z` holds the measurement to
            (see :meth:`z`).
        gradient_method: ``"adjoint"`` when the adjoint pass took the cell's gradients
            (``gradient.method``), ``"adjoint, shift"`` when some of its jobs did; None for
            parameter shift (left out of the JSON, so those results keep their bytes).
    """

    num_qubits: int
    num_layers: int
    samples: int
    shots: int
    shots_executed: int
    grad_mean: float
    grad_var: float
    grad_var_se: float
    grad_var_raw: float
    shot_noise_var: float
    grad_var_ci: tuple[float, float]
    resolved: bool
    cost_mean: float | None = None
    cost_var: float | None = None
    cost_var_se: float | None = None
    grad_var_params: tuple[float, ...] | None = None
    grad_var_params_se: tuple[float, ...] | None = None
    predicted_grad_var: float | None = None
    predicted_grad_var_se: float | None = None
    predicted_method: str | None = None
    predicted_upper_bound: float | None = None
    gradient_method: str | None = None
    predicted_contribution_sd: float | None = None

    @property
    def grad_var_corrected(self) -> float:
        """``grad_var`` under its old name: kept in the JSON (the files' bytes), not as state."""
        return self.grad_var

    def z(self) -> float | None:
        """The measurement's distance from a valued prediction (None for a bound or none)."""
        if self.predicted_grad_var is None or self.predicted_method in (None, "bound", "none"):
            return None
        return prediction_z(
            self.grad_var,
            self.grad_var_se,
            self.samples,
            self.predicted_grad_var,
            predicted_se=self.predicted_grad_var_se,
            contribution_sd=self.predicted_contribution_sd,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON (per-parameter variances only when there are several)."""
        d = dataclasses.asdict(self)
        d["grad_var_ci"] = list(self.grad_var_ci)
        # Written for readers of results.json from before it was a property (the file's keys
        # are sorted, so its bytes do not change).
        d["grad_var_corrected"] = self.grad_var
        for key in ("grad_var_params", "grad_var_params_se"):
            if d[key] is None:
                del d[key]
            else:
                d[key] = list(d[key])
        if self.predicted_method is None:  # no prediction asked for: the fields stay out
            for key in _PREDICTED:
                del d[key]
        # Left out when absent, so results from before the field keep their bytes.
        for key in ("gradient_method", "predicted_contribution_sd"):
            if d[key] is None:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellResult:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        d.pop("grad_var_corrected", None)  # = grad_var, a property
        d["grad_var_ci"] = tuple(d["grad_var_ci"])
        for key in ("grad_var_params", "grad_var_params_se"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A decay fit over the cells: ``ln Var = slope * x + intercept``.

    x = n for the exponential model (slope = d ln Var / dn), x = ln n for the power law
    (slope = the exponent). See :mod:`bp_qiskit.core.fits`.
    """

    slope: float
    slope_se: float
    intercept: float
    points: tuple[int, ...]
    model: str = "exponential"
    chi2_dof: float | None = None
    method: str = "log-wls"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {**dataclasses.asdict(self), "points": list(self.points)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "points": tuple(data["points"])})

    @classmethod
    def of(cls, fit: DecayFit | None) -> FitResult | None:
        """The stored form of a :class:`~bp_qiskit.core.fits.DecayFit`."""
        if fit is None:
            return None
        return cls(
            fit.slope, fit.slope_se, fit.intercept, fit.points, fit.model, fit.chi2_dof, fit.method
        )


@dataclasses.dataclass(frozen=True)
class SeriesFit:
    """One curve of a depth axis (``circuit.layers`` a list): its cells' fits over n.

    Attributes:
        layers: The spec's item (``4`` or ``"4n"``).
        cells: (n, L) of the cells on this curve.
        fit, fit_power, delta_aic, preferred: as in :class:`StudyResult`, over these cells
            (None with fewer than two qubit counts).
    """

    layers: int | str
    cells: tuple[tuple[int, int], ...]
    fit: FitResult | None
    fit_power: FitResult | None
    delta_aic: float | None
    preferred: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {
            "layers": self.layers,
            "cells": [list(c) for c in self.cells],
            "fit": None if self.fit is None else self.fit.to_dict(),
            "fit_power": None if self.fit_power is None else self.fit_power.to_dict(),
            "model_comparison": None
            if self.preferred is None
            else {"delta_aic": self.delta_aic, "preferred": self.preferred},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeriesFit:
        """Inverse of :meth:`to_dict`."""
        comparison = data.get("model_comparison") or {}
        return cls(
            layers=data["layers"],
            cells=tuple((int(n), int(k)) for n, k in data["cells"]),
            fit=None if data.get("fit") is None else FitResult.from_dict(data["fit"]),
            fit_power=None
            if data.get("fit_power") is None
            else FitResult.from_dict(data["fit_power"]),
            delta_aic=comparison.get("delta_aic"),
            preferred=comparison.get("preferred"),
        )


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """A finished study: its resolved spec, one result per cell, and the fits.

    ``fit`` is the exponential fit over n, ``fit_power`` the power law on the same cells,
    and ``preferred``/``delta_aic`` say which the data prefer (:func:`compare_models`).
    """

    spec: dict[str, Any]
    cells: tuple[CellResult, ...]
    fit: FitResult | None
    version: str = __version__
    fit_power: FitResult | None = None
    delta_aic: float | None = None
    preferred: str | None = None
    series: tuple[SeriesFit, ...] = ()
    cost_fit: FitResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for ``results.json``."""
        return {
            "version": self.version,
            "spec": self.spec,
            "cells": [c.to_dict() for c in self.cells],
            "fit": None if self.fit is None else self.fit.to_dict(),
            "fit_power": None if self.fit_power is None else self.fit_power.to_dict(),
            "model_comparison": None
            if self.preferred is None
            else {"delta_aic": self.delta_aic, "preferred": self.preferred},
            **({"series": [s.to_dict() for s in self.series]} if self.series else {}),
            "cost_fit": None if self.cost_fit is None else self.cost_fit.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyResult:
        """Inverse of :meth:`to_dict`."""
        power = data.get("fit_power")
        comparison = data.get("model_comparison") or {}
        return cls(
            spec=data["spec"],
            cells=tuple(CellResult.from_dict(c) for c in data["cells"]),
            fit=None if data.get("fit") is None else FitResult.from_dict(data["fit"]),
            version=data.get("version", __version__),
            fit_power=None if power is None else FitResult.from_dict(power),
            delta_aic=comparison.get("delta_aic"),
            preferred=comparison.get("preferred"),
            series=tuple(SeriesFit.from_dict(s) for s in data.get("series", ())),
            cost_fit=None
            if data.get("cost_fit") is None
            else FitResult.from_dict(data["cost_fit"]),
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One flat row per cell (the interval split into two columns), for tables."""
        rows = []
        for c in self.cells:
            row = c.to_dict()
            low, high = row.pop("grad_var_ci")
            rows.append({**row, "grad_var_ci_low": low, "grad_var_ci_high": high})
        return rows

    def to_pandas(self) -> Any:
        """The cells as a ``pandas.DataFrame`` (pandas is the optional extra ``pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_pandas needs pandas: pip install 'bp_qiskit[pandas]' (or use to_records())"
            ) from None
        return pd.DataFrame.from_records(self.to_records())

    def to_json(self, *, study_id: str | None = None) -> str:
        """Serialise deterministically (sorted keys, fixed indentation).

        ``study_id`` goes on top when given (``results.json`` names its study).
        """
        data = self.to_dict() if study_id is None else {"study_id": study_id, **self.to_dict()}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StudyResult:
        """Parse what :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(text))


def build_result(spec: dict[str, Any], data: Sequence[CellData]) -> StudyResult:
    """Summarise every cell and fit the resolved ones."""
    shots = int(spec["sampling"]["shots"])
    seed = int(spec["study"]["seed"])
    cells = []
    for d in data:
        # The bootstrap's stream is fixed by the study seed and the cell, like every other
        # stream, so results.json is reproducible bit for bit.
        boot = np.random.SeedSequence(
            seed, spawn_key=(d.cell.num_qubits, d.cell.num_layers, 1 << 30)
        )
        st = summarize_gradients(d.grads, d.shot_var if shots else None, seed=boot)
        per_param = per_param_se = None
        if d.grads.shape[1] > 1:
            pairs = [
                corrected_variance(d.grads[:, k], d.shot_var[:, k] if shots else None)
                for k in range(d.grads.shape[1])
            ]
            per_param = tuple(v for v, _ in pairs)
            per_param_se = tuple(e for _, e in pairs)
        cost_var = cost_se = cost_mean = None
        if d.costs is not None and len(d.costs) >= 2:
            cost_var, cost_se = corrected_variance(d.costs, d.cost_shot_var if shots else None)
            cost_mean = float(np.mean(d.costs))
        cells.append(
            CellResult(
                num_qubits=d.cell.num_qubits,
                num_layers=d.cell.num_layers,
                samples=st.samples,
                shots=shots,
                shots_executed=d.shots,
                grad_mean=st.grad_mean,
                grad_var=st.grad_var,
                grad_var_se=st.grad_var_se,
                grad_var_raw=st.grad_var_raw,
                shot_noise_var=st.shot_noise_var,
                grad_var_ci=st.grad_var_ci,
                resolved=st.resolved,
                cost_mean=cost_mean,
                cost_var=cost_var,
                cost_var_se=cost_se,
                grad_var_params=per_param,
                grad_var_params_se=per_param_se,
                gradient_method=d.gradient_method,
            )
        )
    items = spec["circuit"].get("layers", 1)
    if not isinstance(items, list):
        exponential, power, comparison = fit_cells(cells, seed)
        return StudyResult(
            spec=spec,
            cells=tuple(cells),
            fit=FitResult.of(exponential),
            fit_power=FitResult.of(power),
            delta_aic=None if comparison is None else comparison.delta_aic,
            preferred=None if comparison is None else comparison.preferred,
            cost_fit=FitResult.of(fit_cost_concentration(cells)),
        )
    # A depth axis: one fit over n per layer item (a curve), none across depths.
    series = []
    for item in items:
        on = [c for c in cells if c.num_layers == resolve_layers(item, c.num_qubits)]
        exponential, power, comparison = fit_cells(on, seed)
        series.append(
            SeriesFit(
                layers=item,
                cells=tuple((c.num_qubits, c.num_layers) for c in on),
                fit=FitResult.of(exponential),
                fit_power=FitResult.of(power),
                delta_aic=None if comparison is None else comparison.delta_aic,
                preferred=None if comparison is None else comparison.preferred,
            )
        )
    return StudyResult(spec=spec, cells=tuple(cells), fit=None, series=tuple(series))


def fit_cost_concentration(cells: Sequence[CellResult]) -> DecayFit | None:
    """The exponential decay of Var[C] over n (Arrasmith et al.: the same rate as Var[dC])."""
    measured = [c for c in cells if c.cost_var is not None and c.cost_var_se is not None]
    if len({c.num_qubits for c in measured}) < 2 or any(c.shots for c in measured):
        # With shots the cost's floor per cell is not recorded; the fit is left to the user.
        return None
    return fit_decay(
        [c.num_qubits for c in measured],
        [float(c.cost_var or 0.0) for c in measured],
        [float(c.cost_var_se or 0.0) for c in measured],
        model="exponential",
    )


def fit_cells(
    cells: Sequence[CellResult], seed: int
) -> tuple[DecayFit | None, DecayFit | None, ModelComparison | None]:
    """Both decay models over the cells (every cell: with shots, none is dropped)."""
    if len({c.num_qubits for c in cells}) < 2:
        return None, None, None
    args = (
        [c.num_qubits for c in cells],
        [c.grad_var for c in cells],
        [c.grad_var_se for c in cells],
        [c.shot_noise_var for c in cells],
    )
    # The bias-correcting bootstrap has its own stream, like every other.
    boot = np.random.SeedSequence(seed, spawn_key=(1 << 30, 1))
    exponential = fit_decay(*args, model="exponential", seed=boot)
    power = fit_decay(*args, model="power_law", seed=boot)
    comparison = None
    if exponential is not None and power is not None:
        comparison = compare_models(exponential, power)
    return exponential, power, comparison
